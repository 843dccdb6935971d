"""A draft pack version's impact, and approval only after the approver has seen it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from engine import Snapshot, evaluate
from store import AuditEvent
from tests.cli_support import cli_runner
from tests.test_runs import PACK, _demo_with_pack
from web.cli.main import main
from workflows.errors import Conflict, NotFound
from workflows.impact import pack_impact
from workflows.packs import approve_pack, engine_pack, get_pack, store_pack
from workflows.runs import create_run


def _draft(session: Session, version: int, change: tuple[str, str] | None = None) -> str:
    """The demo pack as a new version, with one textual change."""
    text = PACK.read_text(encoding="utf-8").replace("version: 1\n", f"version: {version}\n", 1)
    if change is not None:
        assert change[0] in text
        text = text.replace(*change, 1)
    store_pack(session, text, PACK.name, actor="office.li")
    return f"demo-city-2024@{version}"


TIGHTER_QUOTA = ("{grade: excellent, min_total: 90, quota: {count: 3}}",
                 "{grade: excellent, min_total: 90, quota: {count: 1}}")


def test_impact_lists_every_changed_unit_old_and_new(session: Session) -> None:
    _demo_with_pack(session)
    run = create_run(session, "DEMO-2024", "2024", actor="office.li").run
    ref = _draft(session, 2, TIGHTER_QUOTA)
    report = pack_impact(session, "DEMO-2024", ref, actor="director.wang")
    assert (report.run_id, report.baseline, report.draft) == (run.id, "demo-city-2024@1", ref)
    assert report.units == 75 and report.changes
    # Exactly the county units graded excellent beyond the first lose the grade; nothing else moves.
    new = evaluate(engine_pack(get_pack(session, ref)), Snapshot.from_json(run.snapshot))
    for change in report.changes:
        assert change.category == "county" and change.old_grade == "excellent"
        assert change.new_grade == new.sheet(change.unit).grade != "excellent"  # type: ignore[union-attr]
        assert change.old_total == change.new_total and change.delta == 0
    assert len(report.changes) == 2
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "pack.impact")).one()
    assert event.actor == "director.wang" and json.loads(event.payload)["changed_units"] == [
        c.unit for c in report.changes]
    assert audit.verify(session).ok


def test_a_draft_that_changes_nothing_shows_no_units(session: Session) -> None:
    _demo_with_pack(session)
    create_run(session, "DEMO-2024", "2024-Q3", actor="office.li")
    ref = _draft(session, 2, ("# 扣完为止", "# 扣完为止 (unchanged meaning)"))
    report = pack_impact(session, "2024", ref, "2024-Q3", actor="director.wang")
    assert report.period == "2024-Q3" and report.changes == ()
    with pytest.raises(NotFound, match="no run of the scheme for period 2024-H1"):
        pack_impact(session, "2024", ref, "2024-H1", actor="director.wang")


def test_approval_of_a_new_version_requires_the_approver_to_have_seen_its_impact(session: Session) -> None:
    _demo_with_pack(session)  # version 1 needed no impact: nothing was approved before it
    create_run(session, "DEMO-2024", "2024", actor="office.li")
    ref = _draft(session, 2, TIGHTER_QUOTA)
    with pytest.raises(Conflict, match=r"director.wang must first see its impact \(`kaohe pack impact"):
        approve_pack(session, ref, approver="director.wang")
    pack_impact(session, "DEMO-2024", ref, actor="auditor.chen")  # someone else looking is not enough
    with pytest.raises(Conflict, match="must first see its impact"):
        approve_pack(session, ref, approver="director.wang")
    pack_impact(session, "DEMO-2024", ref, actor="director.wang")
    assert approve_pack(session, ref, approver="director.wang").status == "approved"
    # A later draft compared against version 1 must be compared again once version 2 is approved.
    ref3 = _draft(session, 3, ("reporting: {cap: 5", "reporting: {cap: 4"))
    assert pack_impact(session, "DEMO-2024", ref3, actor="director.wang").baseline == ref
    assert approve_pack(session, ref3, approver="director.wang").status == "approved"


def test_impact_refuses_a_pack_of_another_scheme(session: Session) -> None:
    _demo_with_pack(session)
    create_run(session, "DEMO-2024", "2024", actor="office.li")
    ref = _draft(session, 2)
    row = get_pack(session, ref)
    row.scheme_code = "OTHER"
    with pytest.raises(Conflict, match="is for scheme OTHER, not DEMO-2024"):
        pack_impact(session, "DEMO-2024", ref, actor="director.wang")


def test_cli_pack_impact(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft = tmp_path / "v2.yaml"
    text = PACK.read_text(encoding="utf-8").replace("version: 1\n", "version: 2\n", 1)
    draft.write_text(text.replace(*TIGHTER_QUOTA, 1), encoding="utf-8")
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0  # approves v1, runs the year
        as_li, as_wang = {"KAOHE_ACTOR": "office.li"}, {"KAOHE_ACTOR": "director.wang"}
        assert runner.invoke(main, ["pack", "load", str(draft)], env=as_li).exit_code == 0
        refused = runner.invoke(main, ["pack", "approve", "demo-city-2024@2"], env=as_wang)
        assert refused.exit_code == 1 and "must first see its impact" in refused.output
        shown = runner.invoke(main, ["pack", "impact", "demo-city-2024@2"], env=as_wang)
        assert shown.exit_code == 0, shown.output
        assert "2 of 75 units change" in shown.output and "excellent → good" in shown.output
        data = json.loads(runner.invoke(main, ["pack", "impact", "demo-city-2024@2", "--json"]).output)
        assert data["baseline"] == "demo-city-2024@1" and len(data["changes"]) == 2
        approved = runner.invoke(main, ["pack", "approve", "demo-city-2024@2"], env=as_wang)
        assert approved.exit_code == 0, approved.output
        missing = runner.invoke(main, ["pack", "impact", "nope@1"])
        assert missing.exit_code == 1 and "no rule pack nope@1" in missing.output
