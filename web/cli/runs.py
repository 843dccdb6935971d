"""``kaohe pack``, ``kaohe run``, ``kaohe explain`` and ``kaohe replay``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from engine import PackError, PeriodError, explain, render_explanation
from engine.values.canonical import to_plain
from engine.values.decimals import fmt
from store import RulePack, Unit
from web.cli.progress import PhaseBars
from web.cli.support import AppContext, fail, transaction_or_exit
from workflows.errors import DomainError
from workflows.impact import pack_impact
from workflows.packs import approve_pack, get_pack, store_pack
from workflows.runs import create_run, get_run, load_result, replay
from workflows.trail import render_counterfactuals, render_trail, unit_counterfactuals, workflow_trail


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(to_plain(value), ensure_ascii=False, indent=2, sort_keys=True))


@click.group("pack")
def pack_group() -> None:
    """Rule-pack versions: load, approve, list."""


@pack_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def pack_load(app: AppContext, file: Path) -> None:
    """Validate FILE and store it as a new draft pack version (nothing is stored if it is invalid)."""
    app.prove("pack.load")
    try:
        with app.transaction() as session:
            text = file.read_text(encoding="utf-8")
            stored = store_pack(session, text, file.name, actor=app.settings.actor)
            row = stored.row
            label = "stored" if stored.created else "already stored (same content)"
            click.echo(f"{row.name}@{row.version} {label}: sha256 {row.sha256} status {row.status}")
    except PackError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        fail(f"{len(exc.issues)} error(s): the pack was not stored")
    except DomainError as exc:
        fail(str(exc))


@pack_group.command("approve")
@click.argument("ref")
@click.pass_obj
def pack_approve(app: AppContext, ref: str) -> None:
    """Approve draft pack REF (NAME@VERSION); the approver must not be who stored it."""
    app.prove("pack.approve")
    with transaction_or_exit(app) as session:
        row = approve_pack(session, ref, approver=app.settings.actor)
        click.echo(f"{row.name}@{row.version} approved by {row.approved_by}")


@pack_group.command("impact")
@click.argument("draft_ref")
@click.option("--period", help="Compare on the latest run of this period (default: the latest run).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def pack_impact_command(app: AppContext, draft_ref: str, period: str | None, as_json: bool) -> None:
    """Show what draft DRAFT_REF would change against the approved pack (recorded: approval needs it)."""
    app.prove("pack.impact")
    with transaction_or_exit(app) as session:
        scheme = get_pack(session, draft_ref).scheme_code
        if scheme is None:
            fail(f"rule pack {draft_ref} names no scheme: there is nothing to compare it on")
        report = pack_impact(session, str(scheme), draft_ref, period, actor=app.settings.actor)
    if as_json:
        _echo_json({**report.audit_payload(), "changes": [
            {**to_plain(c), "delta": to_plain(c.delta)} for c in report.changes]})
        return
    click.echo(f"{report.draft} against {report.baseline or '(no approved version)'} on run "
               f"{report.run_id} ({report.scheme} {report.period}): {len(report.changes)} of "
               f"{report.units} units change")
    for c in report.changes:
        click.echo(f"  {c.unit}\t{c.category or '-'}\ttotal {_num(c.old_total)} → {_num(c.new_total)}"
                   f"\tgrade {c.old_grade or '—'} → {c.new_grade or '—'}"
                   f"\trank {c.old_rank or '—'} → {c.new_rank or '—'}")


def _num(value: Decimal | None) -> str:
    return "—" if value is None else fmt(value)


@pack_group.command("list")
@click.pass_obj
def pack_list(app: AppContext) -> None:
    """Every stored pack version with its scheme, status and hash."""
    with app.transaction() as session:
        for row in session.scalars(select(RulePack).order_by(RulePack.name, RulePack.id)):
            click.echo(f"{row.name}@{row.version}\t{row.scheme_code or '-'}\t{row.status}\t{row.sha256}")


@click.command("run")
@click.argument("scheme")
@click.argument("period")
@click.option("--pack", "pack_ref", help="NAME@VERSION (default: the scheme's newest approved pack).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="A bar per phase on stderr (default: when stderr is a terminal).")
@click.pass_obj
def run_command(
    app: AppContext, scheme: str, period: str, pack_ref: str | None, as_json: bool, progress: bool | None
) -> None:
    """Run PERIOD (2024, 2024-H1, 2024-Q3, 2024-07) of SCHEME (its code or year) and store it."""
    app.prove("run.create")
    bars = PhaseBars(shown=progress)
    try:
        with app.transaction() as session:
            try:
                outcome = create_run(session, scheme, period, actor=app.settings.actor, pack_ref=pack_ref,
                                     progress=bars)
            finally:
                bars.close()
            run, result = outcome.run, outcome.result
            summary = {
                "run_id": run.id, "run_hash": run.run_hash, "scheme": result.scheme_code,
                "period": result.period, "pack": f"{result.pack_name}@{result.pack_version}",
                "pack_sha256": result.pack_sha256, "snapshot_sha256": result.snapshot_sha256,
                "firings": result.firing_count, "score_sheets": result.sheet_count,
                "supersedes": outcome.superseded.id if outcome.superseded else None,
            }
    except (DomainError, PeriodError) as exc:
        fail(str(exc))
    except PackError as exc:
        fail("\n".join(str(i) for i in exc.issues))
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"run {summary['run_id']} stored: {summary['firings']} firings, "
               f"{summary['score_sheets']} score sheets")
    click.echo(f"run hash {summary['run_hash']}")
    if summary["supersedes"] is not None:
        click.echo(f"supersedes run {summary['supersedes']}")


@click.command("explain")
@click.argument("run_id", type=int)
@click.argument("unit")
@click.option("--indicator", help="Only this indicator's part.")
@click.option("--why-not", is_flag=True,
              help="Also list rules evaluated that did not apply (replays the run).")
@click.option("--counterfactual", is_flag=True,
              help="Also list the single changes of fact that would move the total, rank or grade "
                   "(each found by re-evaluating the frozen snapshot).")
@click.option("--max-candidates", type=click.IntRange(1, 500), default=30, show_default=True,
              help="With --counterfactual: how many changes to re-evaluate at most.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def explain_command(app: AppContext, run_id: int, unit: str, indicator: str | None, why_not: bool,
                    counterfactual: bool, max_candidates: int, lang: str, as_json: bool) -> None:
    """How UNIT's total in RUN_ID was made: sections, firings, cuts, vetoes (and why-nots), then
    what became of each deduction and veto: case history, publication, appeals."""
    with transaction_or_exit(app) as session:
        run = get_run(session, run_id)
        known = session.scalars(
            select(Unit.code).where(Unit.scheme_id == run.scheme_id, Unit.code == unit)
        ).one_or_none()
        if known is None:
            fail(f"run {run_id}: no unit {unit!r} in scheme {run.scheme.code}")
        if why_not:
            report, result = replay(session, run)
            if not report.identical:
                fail(f"run {run_id} does not replay identically; see `kaohe replay {run_id}`")
        else:
            result = load_result(session, run)
        trail = workflow_trail(session, run, unit)
        found = (unit_counterfactuals(run, result, unit, max_candidates=max_candidates)
                 if counterfactual else None)
    explanation = explain(result, unit, indicator, why_not=why_not)
    if as_json:
        extra: dict[str, Any] = {"workflow": trail}
        if found is not None:
            extra["counterfactuals"] = [{**to_plain(c), "delta": to_plain(c.delta)} for c in found]
        _echo_json({**to_plain(explanation), **extra})
        return
    click.echo(render_explanation(explanation, lang))
    if any(f.case_id is not None for f in trail.firings) or trail.published or trail.superseded_by:
        click.echo(render_trail(trail, lang))
    if found is not None:
        click.echo(render_counterfactuals(found, lang))


@click.command("replay")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def replay_command(app: AppContext, run_id: int, as_json: bool) -> None:
    """Re-evaluate RUN_ID's frozen snapshot under its own pack version; exit 1 on any difference."""
    with transaction_or_exit(app) as session:
        report, _result = replay(session, get_run(session, run_id))
    if as_json:
        _echo_json({"run_id": report.run_id, "identical": report.identical,
                    "stored_hash": report.stored_hash, "replayed_hash": report.replayed_hash,
                    "differences": list(report.differences)})
    elif report.identical:
        click.echo(f"run {run_id} replays identically: run hash {report.stored_hash}")
    else:
        click.echo(f"run {run_id} differs on replay: stored {report.stored_hash}, "
                   f"replayed {report.replayed_hash}")
        for line in report.differences:
            click.echo(f"  {line}")
    if not report.identical:
        raise SystemExit(1)
