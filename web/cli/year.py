"""``kaohe target``, ``kaohe verify`` and ``kaohe notice``: the other cases of the year.

The actor is the account proven by its API token or password (``KAOHE_ACTOR`` alone only on a
development instance: :mod:`web.cli.identity`); its roles and unit scopes count. Each command is
one transaction; ``--idempotency-key`` makes a repeated command return the first result instead
of acting twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy.orm import Session

from web.cli.support import KEY_OPTION, AppContext, run_once
from workflows.year.adjustments import (
    adjustment_json,
    approve_adjustment,
    list_adjustments,
    reject_adjustment,
    request_adjustment,
)
from workflows.year.notices import (
    DEFAULT_DUE_DAYS,
    close_notice,
    escalate_notice,
    list_notices,
    notice_json,
    raise_notices,
    respond_notice,
)
from workflows.year.verification import verify_event, verify_report

SCHEME_OPTION = click.option("--scheme", "scheme", help="Scheme code, when the codes exist in several.")


def _number(text: str | None, what: str) -> Decimal | None:
    """A decimal, or None for a missing or empty value (the service then says why it is refused)."""
    if text is None or not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number", param_hint=what) from None


def _milestones(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        month, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(
                f"{pair!r} is not MONTH=VALUE (e.g. 2024-09=30)", param_hint="--milestone"
            )
        out[month.strip()] = value.strip()
    return out


def _adjustment_line(a: Mapping[str, Any]) -> str:
    change = ", ".join(
        part
        for part in (
            None if a["new_annual_value"] is None else f"annual value → {a['new_annual_value']}",
            None if a["new_milestones"] is None else f"milestones → {json.dumps(a['new_milestones'])}",
        )
        if part
    )
    return f"adjustment {a['id']}: {a['state']} — target {a['unit']} × {a['indicator']}: {change}"


@click.group("target")
def target_group() -> None:
    """Target adjustments (目标调整): request, approve, reject, list."""


@target_group.command("adjust")
@click.argument("unit")
@click.argument("indicator")
@click.option("--value", "value", help="New annual value.")
@click.option(
    "--milestone", "milestones", multiple=True, help="New cumulative milestone MONTH=VALUE (repeat)."
)
@click.option("--reason", required=True)
@click.option("--evidence", help="Evidence reference (document number, file).")
@click.option("--period", "periods", multiple=True, help="A month affected, YYYY-MM (repeat).")
@SCHEME_OPTION
@KEY_OPTION
@click.pass_obj
def target_adjust(
    app: AppContext,
    unit: str,
    indicator: str,
    value: str | None,
    milestones: tuple[str, ...],
    reason: str,
    evidence: str | None,
    periods: tuple[str, ...],
    scheme: str | None,
    key: str | None,
) -> None:
    """Request a change of the target UNIT × INDICATOR (approved later by another office member)."""
    number, plan = _number(value, "--value"), _milestones(milestones)
    request = {
        "unit": unit,
        "indicator": indicator,
        "value": value,
        "milestones": plan,
        "reason": reason,
        "evidence": evidence,
        "periods": sorted(periods),
        "scheme": scheme,
    }
    out = run_once(
        app,
        "adjustment.request",
        request,
        lambda s: adjustment_json(
            request_adjustment(
                s,
                unit,
                indicator,
                actor=app.settings.actor,
                reason=reason,
                annual_value=number,
                milestones=plan,
                periods=list(periods) or None,
                evidence_ref=evidence,
                scheme_code=scheme,
            )
        ),
        key,
    )
    click.echo(_adjustment_line(out))


@target_group.command("approve")
@click.argument("adjustment_id", type=int)
@click.option("--reason")
@KEY_OPTION
@click.pass_obj
def target_approve(app: AppContext, adjustment_id: int, reason: str | None, key: str | None) -> None:
    """Approve adjustment ID: the target changes now (not by the requester, nor the unit)."""
    out = run_once(
        app,
        "adjustment.approve",
        {"id": adjustment_id, "reason": reason},
        lambda s: adjustment_json(
            approve_adjustment(s, adjustment_id, actor=app.settings.actor, reason=reason)
        ),
        key,
    )
    click.echo(_adjustment_line(out))


@target_group.command("reject")
@click.argument("adjustment_id", type=int)
@click.option("--reason", required=True)
@KEY_OPTION
@click.pass_obj
def target_reject(app: AppContext, adjustment_id: int, reason: str, key: str | None) -> None:
    """Reject adjustment ID with a reason: the target keeps its value."""
    out = run_once(
        app,
        "adjustment.reject",
        {"id": adjustment_id, "reason": reason},
        lambda s: adjustment_json(
            reject_adjustment(s, adjustment_id, actor=app.settings.actor, reason=reason)
        ),
        key,
    )
    click.echo(_adjustment_line(out))


@target_group.command("adjustments")
@click.option("--state", help="Only adjustments in this state (requested, approved, rejected).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def target_adjustments(app: AppContext, state: str | None, as_json: bool) -> None:
    """List target adjustment requests."""
    with app.transaction() as session:
        rows = [adjustment_json(a) for a in list_adjustments(session, state=state)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{_adjustment_line(row)} (by {row['requested_by']})")
    click.echo(f"{len(rows)} adjustment(s)")


@click.group("verify")
def verify_group() -> None:
    """Verification (核减/核准认定) of reported values and claimed projects."""


def _verified(out: Mapping[str, Any]) -> None:
    previous = "none" if out["previous"] is None else out["previous"]
    click.echo(
        f"{out['subject']}: verified {out['value']} (claimed {out['claimed']}, before {previous}); "
        f"verification #{out['seq']}"
    )


@verify_group.command("report")
@click.argument("unit")
@click.argument("indicator")
@click.argument("period")
@click.option("--value", required=True)
@click.option("--reason", required=True)
@click.option("--source", help="The reporting source, when the period has several reports.")
@SCHEME_OPTION
@KEY_OPTION
@click.pass_obj
def verify_report_command(
    app: AppContext,
    unit: str,
    indicator: str,
    period: str,
    value: str,
    reason: str,
    source: str | None,
    scheme: str | None,
    key: str | None,
) -> None:
    """Set the verified value of UNIT's INDICATOR report for PERIOD (YYYY-MM)."""
    number = _number(value, "--value")
    if number is None:
        raise click.BadParameter("a verified value is required", param_hint="--value")

    def perform(s: Session) -> dict[str, Any]:
        row = verify_report(
            s,
            unit,
            indicator,
            period,
            value=number,
            reason=reason,
            actor=app.settings.actor,
            source=source,
            scheme_code=scheme,
        )
        return {
            "subject": f"{unit} × {indicator} {period}",
            "value": str(row.value),
            "claimed": str(row.claimed_value),
            "previous": None if row.previous_value is None else str(row.previous_value),
            "seq": row.seq,
        }

    request = {
        "unit": unit,
        "indicator": indicator,
        "period": period,
        "value": value,
        "reason": reason,
        "source": source,
        "scheme": scheme,
    }
    _verified(run_once(app, "verification.report", request, perform, key))


@verify_group.command("event")
@click.argument("code")
@click.option("--quantity", required=True)
@click.option("--reason", required=True)
@SCHEME_OPTION
@KEY_OPTION
@click.pass_obj
def verify_event_command(
    app: AppContext, code: str, quantity: str, reason: str, scheme: str | None, key: str | None
) -> None:
    """Set the verified quantity of the project claim CODE (at most what was claimed)."""
    number = _number(quantity, "--quantity")
    if number is None:
        raise click.BadParameter("a verified quantity is required", param_hint="--quantity")

    def perform(s: Session) -> dict[str, Any]:
        row = verify_event(
            s, code, quantity=number, reason=reason, actor=app.settings.actor, scheme_code=scheme
        )
        return {
            "subject": f"event {code}",
            "value": str(row.value),
            "claimed": str(row.claimed_value),
            "previous": None if row.previous_value is None else str(row.previous_value),
            "seq": row.seq,
        }

    _verified(
        run_once(
            app,
            "verification.event",
            {"code": code, "quantity": quantity, "reason": reason, "scheme": scheme},
            perform,
            key,
        )
    )


@click.group("notice")
def notice_group() -> None:
    """Supervision notices (提醒函 → 督办单 → 挂牌督办): raise from a run, respond, close, escalate."""


def _notice_line(n: Mapping[str, Any]) -> str:
    late = "" if n["state"] not in ("issued", "responded") else f", due {n['due_at'][:10]}"
    return f"notice {n['id']}: {n['level']} {n['state']} — {n['unit']} × {n['indicator']}{late}"


@notice_group.command("raise")
@click.argument("run_id", type=int)
@click.option("--due-days", type=int, default=DEFAULT_DUE_DAYS, show_default=True)
@KEY_OPTION
@click.pass_obj
def notice_raise(app: AppContext, run_id: int, due_days: int, key: str | None) -> None:
    """Open or escalate notices from RUN's schedule warnings (raising again does nothing new)."""
    out = run_once(
        app,
        "notice.raise",
        {"run": run_id, "due_days": due_days},
        lambda s: raise_notices(s, run_id, actor=app.settings.actor, due_days=due_days).as_json(),
        key,
    )
    for n in out["opened"]:
        click.echo(f"opened {_notice_line(n)}")
    for e in out["escalated"]:
        click.echo(f"escalated notice {e['from']} → {_notice_line(e['to'])}")
    click.echo(
        f"run {run_id}: {len(out['opened'])} opened, {len(out['escalated'])} escalated, "
        f"{len(out['at_top'])} already at listed supervision, {out['already']} already raised"
    )


@notice_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only notices awaiting a response or closure.")
@click.option("--unit", help="Only this unit's notices.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def notice_list(app: AppContext, open_only: bool, unit: str | None, as_json: bool) -> None:
    """List supervision notices."""
    with app.transaction() as session:
        rows = [notice_json(n) for n in list_notices(session, open_only=open_only, unit_code=unit)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(_notice_line(row))
    click.echo(f"{len(rows)} notice(s)")


@notice_group.command("respond")
@click.argument("notice_id", type=int)
@click.option("--text", required=True, help="What the unit is doing about the lag.")
@click.option("--evidence", help="Evidence reference.")
@KEY_OPTION
@click.pass_obj
def notice_respond(app: AppContext, notice_id: int, text: str, evidence: str | None, key: str | None) -> None:
    """The unit's response to notice ID."""
    out = run_once(
        app,
        "notice.respond",
        {"id": notice_id, "text": text, "evidence": evidence},
        lambda s: notice_json(
            respond_notice(s, notice_id, actor=app.settings.actor, text=text, evidence_ref=evidence)
        ),
        key,
    )
    click.echo(_notice_line(out))


@notice_group.command("close")
@click.argument("notice_id", type=int)
@click.option("--reason")
@KEY_OPTION
@click.pass_obj
def notice_close(app: AppContext, notice_id: int, reason: str | None, key: str | None) -> None:
    """Close notice ID, accepting the unit's response."""
    out = run_once(
        app,
        "notice.close",
        {"id": notice_id, "reason": reason},
        lambda s: notice_json(close_notice(s, notice_id, actor=app.settings.actor, reason=reason)),
        key,
    )
    click.echo(_notice_line(out))


@notice_group.command("escalate")
@click.argument("notice_id", type=int)
@click.option("--reason", required=True)
@click.option("--due-days", type=int, default=DEFAULT_DUE_DAYS, show_default=True)
@KEY_OPTION
@click.pass_obj
def notice_escalate(app: AppContext, notice_id: int, reason: str, due_days: int, key: str | None) -> None:
    """Escalate notice ID to the next level (a new notice with its own due date)."""

    def perform(s: Session) -> dict[str, Any]:
        old, new = escalate_notice(s, notice_id, actor=app.settings.actor, reason=reason, due_days=due_days)
        return {"from": old.id, "to": notice_json(new)}

    out = run_once(
        app, "notice.escalate", {"id": notice_id, "reason": reason, "due_days": due_days}, perform, key
    )
    click.echo(f"escalated notice {out['from']} → {_notice_line(out['to'])}")
