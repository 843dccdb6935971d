"""``kaohe case``, ``kaohe publish``, ``kaohe appeal`` and ``kaohe seal``.

The actor is the account proven by its API token or password (``KAOHE_ACTOR`` alone only on a
development instance: :mod:`web.cli.identity`); its roles and unit scopes count for separation
of duties. Each command is one transaction; ``--idempotency-key`` makes a repeated command return
the first result instead of acting twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy.orm import Session

from web.cli.support import KEY_OPTION, AppContext, run_once, transaction_or_exit
from workflows.cases import list_cases
from workflows.cases.appeals import decide_appeal, file_appeal, get_appeal
from workflows.cases.publication import publish, seal
from workflows.cases.review import approve_cases, case_history, open_cases, reject_cases, review_cases
from workflows.errors import Invalid


def _points(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number") from None


@click.group("case")
def case_group() -> None:
    """Cases from a run's deductions and vetoes: open, review, approve, reject, list."""


@case_group.command("list")
@click.argument("run_id", type=int)
@click.option("--state", help="Only cases in this state.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def case_list(app: AppContext, run_id: int, state: str | None, as_json: bool) -> None:
    """The cases of RUN: id, state, unit, firing, rule, points, who proposed/reviewed/approved."""
    with transaction_or_exit(app) as session:
        rows = [{"id": c.id, "state": c.state, "kind": c.kind, "unit": c.unit.code,
                 "firing": c.firing.seq, "rule": c.firing.rule_id, "points": str(c.firing.points),
                 "proposer": c.proposer, "reviewer": c.reviewer, "approver": c.approver,
                 "decision": c.decision, "adjusted_points": None if c.adjusted_points is None
                 else str(c.adjusted_points)}
                for c in list_cases(session, run_id, state=state)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}\t{r['state']}\t{r['kind']}\t{r['unit']}\t#{r['firing']}\t{r['rule']}\t"
                   f"{r['points']}\t{r['reviewer'] or '-'}\t{r['approver'] or '-'}")
    click.echo(f"{len(rows)} case(s)")


@case_group.command("open")
@click.argument("run_id", type=int)
@KEY_OPTION
@click.pass_obj
def case_open(app: AppContext, run_id: int, key: str | None) -> None:
    """Open a case for every deduction and veto firing of RUN (cases already open are kept)."""
    out = run_once(app, "case.open", {"run": run_id},
               lambda s: open_cases(s, run_id, actor=app.settings.actor).as_json(), key)
    click.echo(f"run {run_id}: {len(out['opened'])} case(s) opened, {out['existing']} already open")


def _acted(out: Mapping[str, Any]) -> None:
    for c in out["cases"]:
        click.echo(f"case {c['id']}: {c['state']}")
    click.echo(f"{len(out['cases'])} case(s): {out['action']}")


@case_group.command("review")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", help="Why (required with --points).")
@click.option("--points", "points", help="Propose adjusted points (e.g. -2) instead of confirming.")
@KEY_OPTION
@click.pass_obj
def case_review(app: AppContext, ids: tuple[int, ...], reason: str | None, points: str | None,
                key: str | None) -> None:
    """Confirm cases IDS as an auditor, or propose an adjustment with --points and --reason."""
    adjusted = None if points is None else _points(points)
    request = {"ids": sorted(ids), "reason": reason, "points": points}
    _acted(run_once(app, "case.review", request, lambda s: review_cases(
        s, ids, actor=app.settings.actor, reason=reason, adjusted_points=adjusted).as_json(), key))


@case_group.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason")
@KEY_OPTION
@click.pass_obj
def case_approve(app: AppContext, ids: tuple[int, ...], reason: str | None, key: str | None) -> None:
    """Approve reviewed cases IDS (not by their proposer or reviewer)."""
    _acted(run_once(app, "case.approve", {"ids": sorted(ids), "reason": reason}, lambda s: approve_cases(
        s, ids, actor=app.settings.actor, reason=reason).as_json(), key))


@case_group.command("reject")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--reason", required=True)
@KEY_OPTION
@click.pass_obj
def case_reject(app: AppContext, ids: tuple[int, ...], reason: str, key: str | None) -> None:
    """Reject reviewed cases IDS: their deductions are voided in the published run."""
    _acted(run_once(app, "case.reject", {"ids": sorted(ids), "reason": reason}, lambda s: reject_cases(
        s, ids, actor=app.settings.actor, reason=reason).as_json(), key))


@case_group.command("history")
@click.argument("case_id", type=int)
@click.pass_obj
def case_history_command(app: AppContext, case_id: int) -> None:
    """Who did what to case ID, when and why (with the audit event of each step)."""
    with transaction_or_exit(app) as session:
        for e in case_history(session, case_id):
            click.echo(f"{e.at.isoformat(timespec='seconds')}\tcase {e.case_id}\t{e.action}\t"
                       f"{e.from_state or '-'} → {e.to_state}\t{e.actor}\t{e.reason or ''}\t"
                       f"audit #{e.audit_seq}")


@click.command("publish")
@click.argument("run_id", type=int)
@KEY_OPTION
@click.pass_obj
def publish_command(app: AppContext, run_id: int, key: str | None) -> None:
    """Publish RUN once every case is approved or rejected; opens the publication window."""
    out = run_once(app, "run.publish", {"run": run_id},
               lambda s: publish(s, run_id, actor=app.settings.actor).as_json(), key)
    if out["superseded"]:
        click.echo(f"run {out['run']} supersedes run {out['superseded']} (rejected and adjusted cases)")
    click.echo(f"run {out['run']} published {out['published_at']}: appeals until "
               f"{out['appeals_close_at']}, window ends {out['window_ends_at']}")


@click.command("seal")
@click.argument("run_id", type=int)
@KEY_OPTION
@click.pass_obj
def seal_command(app: AppContext, run_id: int, key: str | None) -> None:
    """The committee's final approval of RUN after its publication window."""
    def perform(s: Session) -> dict[str, Any]:
        run = seal(s, run_id, actor=app.settings.actor)
        return {"run": run.id, "status": run.status}

    out = run_once(app, "run.seal", {"run": run_id}, perform, key)
    click.echo(f"run {out['run']} {out['status']}")


@click.group("appeal")
def appeal_group() -> None:
    """Appeals against a published run's firings: file, decide."""


@appeal_group.command("file")
@click.argument("run_id", type=int)
@click.argument("unit")
@click.option("--firing", "seqs", type=int, multiple=True, required=True,
              help="A firing's seq (repeatable).")
@click.option("--grounds", required=True)
@click.option("--evidence", help="A reference to the evidence (document number, file).")
@KEY_OPTION
@click.pass_obj
def appeal_file(app: AppContext, run_id: int, unit: str, seqs: tuple[int, ...], grounds: str,
                evidence: str | None, key: str | None) -> None:
    """UNIT appeals firings of published RUN, inside the appeal window."""
    def perform(s: Session) -> dict[str, Any]:
        appeal = file_appeal(s, run_id, unit, seqs, grounds=grounds, evidence_ref=evidence,
                             actor=app.settings.actor)
        return {"appeal": appeal.id, "state": appeal.state}

    request = {"run": run_id, "unit": unit, "firings": sorted(seqs), "grounds": grounds,
               "evidence": evidence}
    out = run_once(app, "appeal.file", request, perform, key)
    click.echo(f"appeal {out['appeal']} {out['state']}")


@appeal_group.command("decide")
@click.argument("appeal_id", type=int)
@click.argument("outcome", type=click.Choice(["upheld", "overturned", "adjusted"]))
@click.option("--points", "points", multiple=True,
              help="adjusted: new points, X (one cited firing) or SEQ=X (repeatable).")
@click.option("--reason", required=True)
@KEY_OPTION
@click.pass_obj
def appeal_decide(app: AppContext, appeal_id: int, outcome: str, points: tuple[str, ...], reason: str,
                  key: str | None) -> None:
    """Decide appeal ID; a changed outcome makes a new run that supersedes the current one."""
    def perform(s: Session) -> dict[str, Any]:
        by_seq: dict[int, Decimal] = {}
        for item in points:
            seq, sep, value = item.rpartition("=")
            if not sep:
                cited = [af.firing.seq for af in get_appeal(s, appeal_id).firings]
                if len(cited) != 1:
                    raise Invalid(f"the appeal cites firings {cited}: give --points SEQ=X for each")
                by_seq[cited[0]] = _points(value)
            else:
                by_seq[int(seq)] = _points(value)
        return decide_appeal(s, appeal_id, outcome, actor=app.settings.actor, reason=reason,
                             points=by_seq or None).as_json()

    request = {"appeal": appeal_id, "outcome": outcome, "points": sorted(points), "reason": reason}
    out = run_once(app, "appeal.decide", request, perform, key)
    click.echo(f"appeal {out['appeal']} {out['state']}")
    if out["superseding_run"]:
        click.echo(f"run {out['superseding_run']} supersedes the previous run")
