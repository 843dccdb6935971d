"""``kaohe scheme``: a scheme's lifecycle — draft → in force (``lock``) → sealed (with its year run).

``kaohe report``: one progress report from the command line, replacing a value says old → new.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy.orm import Session

from web.cli.support import KEY_OPTION, AppContext, run_once, transaction_or_exit
from workflows.freeze import published_runs
from workflows.progress import submit_report
from workflows.year.common import find_target
from workflows.year.lifecycle import get_scheme, lifecycle, lock_scheme

STATUS_WORDS = {"draft": "draft", "locked": "in force", "sealed": "sealed"}


@click.group("scheme")
def scheme_group() -> None:
    """A scheme's lifecycle: draft → in force → sealed (定案, with the year run's seal)."""


@scheme_group.command("show")
@click.argument("code")
@click.pass_obj
def show_command(app: AppContext, code: str) -> None:
    """CODE's status, cut-offs, published runs and lifecycle from the ledger."""
    with transaction_or_exit(app) as session:
        scheme = get_scheme(session, code)
        click.echo(f"{scheme.code} {scheme.name} ({scheme.year}): {STATUS_WORDS[scheme.status]} "
                   f"[{scheme.status}]")
        adjust = scheme.adjustment_cutoff_date
        click.echo(f"  cut-off {scheme.cutoff_date.isoformat()} (facts), "
                   f"{adjust.isoformat() if adjust else 'none'} (target adjustments), UTC+8")
        for run in published_runs(session, scheme.id):
            click.echo(f"  published: {run.text()}")
        for step in lifecycle(session, scheme):
            click.echo(f"  ledger #{step.seq} {step.action}: {step.from_status} → {step.to_status} "
                       f"by {step.actor} at {step.at}" + (f" — {step.detail}" if step.detail else ""))


@scheme_group.command("lock")
@click.argument("code")
@click.option("--reason", required=True, help="Why now (e.g. the method's document number).")
@KEY_OPTION
@click.pass_obj
def lock_command(app: AppContext, code: str, reason: str, key: str | None) -> None:
    """Put CODE in force (office): its definitions are fixed and its cut-off binds from now on."""

    def perform(s: Session) -> dict[str, Any]:
        scheme = lock_scheme(s, code, actor=app.settings.actor, reason=reason)
        return {"scheme": scheme.code, "status": scheme.status}

    out = run_once(app, "scheme.lock", {"code": code, "reason": reason}, perform, key)
    click.echo(f"scheme {out['scheme']} is in force ({out['status']})")


def _value(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number", param_hint="VALUE") from None


@click.command("report")
@click.argument("unit")
@click.argument("indicator")
@click.argument("period")
@click.argument("value")
@click.option("--source", help="The reporting source (default: the unit itself).")
@click.option("--evidence", help="Evidence: a document number or a link.")
@click.option("--scheme", "scheme", help="Scheme code, when the codes exist in several.")
@click.pass_obj
def report_command(app: AppContext, unit: str, indicator: str, period: str, value: str,
                   source: str | None, evidence: str | None, scheme: str | None) -> None:
    """Report UNIT's cumulative VALUE of INDICATOR for PERIOD (YYYY-MM) (进度报送)."""
    number = _value(value)
    app.prove("progress.report")
    with transaction_or_exit(app) as session:
        target = find_target(session, unit, indicator, scheme)
        sub = submit_report(session, target, period, number, source=source or target.unit.code,
                            actor=app.settings.actor, evidence_ref=evidence)
        now = sub.report.reported_value
    if sub.previous is None:
        click.echo(f"reported {unit} × {indicator} {period} = {now}")
    else:
        click.echo(f"replaced {unit} × {indicator} {period}: {sub.previous} → {now} (原值 → 新值)")
