"""Explanations across the workflow (firing → case → publication → appeal → superseding run) and
counterfactuals found by re-evaluating the frozen snapshot."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engine import Snapshot, evaluate
from engine.explain.counterfactual import apply, candidates
from tests.cases.conftest import RUN_ID, T0
from tests.cli_support import cli_runner
from web.cli.main import main
from workflows.cases import (
    approve_cases,
    decide_appeal,
    file_appeal,
    open_cases,
    publish,
    review_cases,
    take_appeal,
)
from workflows.packs import engine_pack
from workflows.runs import get_run, load_result
from workflows.trail import (
    AppealStep,
    FiringTrail,
    Step,
    Trail,
    render_counterfactuals,
    render_trail,
    unit_counterfactuals,
    workflow_trail,
)

AUDITOR, OFFICE, REVIEWER = "auditor.chen", "office.zhao", "reviewer.sun"
CRITICISM_SEQ = 122  # C03, deduction.criticism −4 (see test_publication_appeals)


def test_without_the_criticism_c03_would_be_excellent_found_by_re_evaluating(ds: Session) -> None:
    run = get_run(ds, RUN_ID)
    result = load_result(ds, run)
    found = unit_counterfactuals(run, result, "C03", max_candidates=4)
    top = found[0]
    assert top.change.kind == "remove_event" and top.change.rule_id == "deduction.criticism"
    assert (top.old_grade, top.new_grade, top.old_rank, top.new_rank) == ("good", "excellent", 5, 3)
    assert top.delta == Decimal(4)
    # The same change evaluated independently gives the same sheet; and the answer is stable.
    snapshot = Snapshot.from_json(run.snapshot)
    again = evaluate(engine_pack(run.rule_pack), apply(snapshot, top.change)).sheet("C03")
    assert again is not None and (again.total, again.rank, again.grade) == (top.new_total, 3, "excellent")
    assert unit_counterfactuals(run, result, "C03", max_candidates=4) == found
    text = render_counterfactuals(found, "zh")
    assert "良好 → 优秀" in text and "排名 5 → 3" in text and "+4" in text


def test_meeting_a_lagging_schedule_is_a_candidate_and_raises_the_report(ds: Session) -> None:
    run = get_run(ds, RUN_ID)
    result = load_result(ds, run)
    snapshot = Snapshot.from_json(run.snapshot)
    lag = next(c for c in candidates(snapshot, result, "D03") if c.kind == "meet_schedule")
    target_id, _, when = lag.fact_id.rpartition("@")
    target = next(t for t in snapshot.targets if t.id == target_id)
    changed = apply(snapshot, lag)
    key = (target.unit, target.indicator, when)
    before = [r.value for r in snapshot.reports if (r.unit, r.indicator, r.period) == key]
    after = [r.value for r in changed.reports if (r.unit, r.indicator, r.period) == key]
    assert after and all(a > b for a, b in zip(after, before, strict=True))
    found = unit_counterfactuals(run, result, "D03", max_candidates=1)
    assert [c.change for c in found] == [lag] and found[0].delta == Decimal("0.5")
    text = render_counterfactuals(found, "en")
    assert "meeting the" in text and "+0.5" in text


def test_the_trail_follows_a_deduction_to_its_appeal_and_the_run_that_supersedes(ds: Session) -> None:
    ids = [c.id for c in open_cases(ds, RUN_ID, actor=OFFICE).opened]
    before = workflow_trail(ds, get_run(ds, RUN_ID), "C03")
    assert before.published is None and all(f.case_state == "proposed" for f in before.firings)
    review_cases(ds, ids, actor=AUDITOR)
    approve_cases(ds, ids, actor=OFFICE)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    appeal = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="the criticism named another county",
                         actor="c03.rep", now=T0 + dt.timedelta(days=1))
    take_appeal(ds, appeal.id, actor=REVIEWER)
    new = decide_appeal(ds, appeal.id, "overturned", actor=REVIEWER, reason="the document names C04",
                        now=T0 + dt.timedelta(days=2)).superseding
    assert new is not None
    trail = workflow_trail(ds, get_run(ds, RUN_ID), "C03")
    assert trail.superseded_by == new.id and trail.published is not None
    criticism = next(f for f in trail.firings if f.seq == CRITICISM_SEQ)
    assert [s.action for s in criticism.steps] == ["open", "review", "approve", "publish"]
    assert [(a.state, a.superseding_run_id) for a in criticism.appeals] == [("overturned", new.id)]
    text = render_trail(trail, "en")
    assert f"#{CRITICISM_SEQ} deduction.criticism -4: case" in text
    assert "overturned" in text and "the document names C04" in text and f"superseded by run {new.id}" in text
    # The carried case in the new run shows the whole history, the old run's steps first.
    carried = next(f for f in workflow_trail(ds, new, "C03").firings if f.seq == CRITICISM_SEQ)
    assert [s.action for s in carried.steps][:4] == ["open", "review", "approve", "publish"]


def test_render_trail_from_plain_data() -> None:
    at = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)
    trail = Trail(7, "C01", (at, "office.zhao", at + dt.timedelta(days=5)), (at, "committee.wu"), None, (
        FiringTrail(3, "deduction.petition", "deduction", Decimal("-1"), None, None, (), ()),
        FiringTrail(4, "veto.safety.major", "veto", Decimal(0), 9, "published",
                    (Step("open", None, "proposed", "office.zhao", None, at, 11),
                     Step("review", "proposed", "reviewed", "auditor.chen", "属实", at, 12)),
                    (AppealStep(2, "upheld", "c01.rep", "事故认定有误", "reviewer.sun", "维持", None,
                                None),)),
    ))
    text = render_trail(trail, "zh")
    assert "#3 deduction.petition -1: 尚未立案" in text
    assert "auditor.chen review: proposed → reviewed — 属实 [audit #12]" in text
    assert "申诉 2 (upheld) c01.rep: 事故认定有误, reviewer.sun: 维持" in text
    assert "公示 2025-01-10 09:00 UTC office.zhao" in text and "定案" in text


def test_cli_explain_with_workflow_and_counterfactuals(fresh_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0
        run_id = str(json.loads(runner.invoke(main, ["run", "DEMO-2024", "2024", "--json"]).output)["run_id"])
        shown = runner.invoke(main, ["explain", run_id, "C03", "--counterfactual", "--max-candidates", "4",
                                     "--lang", "en"])
        assert shown.exit_code == 0, shown.output
        assert "[Counterfactuals: one fact changed]" in shown.output and "good → excellent" in shown.output
        data = json.loads(runner.invoke(main, ["explain", run_id, "C03", "--json"]).output)
        assert data["workflow"]["unit"] == "C03" and "counterfactuals" not in data
