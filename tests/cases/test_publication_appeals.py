"""Publication, the appeal window's edges (an injected clock, never a sleep), an appeal that
overturns a deduction and the run that supersedes, adjustments, and the committee's seal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import Case, Firing, Publication, Run
from tests.cases.conftest import PROPOSER, RUN_ID, T0
from workflows.accounts import create_account
from workflows.cases import (
    approve_cases,
    decide_appeal,
    file_appeal,
    list_cases,
    open_cases,
    publish,
    reject_cases,
    review_cases,
    seal,
    take_appeal,
)
from workflows.errors import Conflict, Forbidden, IllegalTransition, Invalid
from workflows.runs import create_run, get_run, load_result

AUDITOR, OFFICE, REVIEWER, COMMITTEE = "auditor.chen", "office.zhao", "reviewer.sun", "committee.wu"
US = dt.timedelta(microseconds=1)
CRITICISM_SEQ = 122  # C03, deduction.criticism −4: voiding it moves C03 from rank 5 (good) to 3 (excellent)


def _approve_all(session: Session, run_id: int = RUN_ID, reject: tuple[int, ...] = ()) -> list[Case]:
    ids = [c.id for c in open_cases(session, run_id, actor=OFFICE).opened]
    review_cases(session, ids, actor=AUDITOR)
    keep = [i for i in ids if i not in reject]
    approve_cases(session, keep, actor=OFFICE)
    if reject:
        reject_cases(session, list(reject), actor=OFFICE, reason="the criticism was withdrawn")
    return list_cases(session, run_id)


def _case_of(session: Session, run_id: int, seq: int) -> Case:
    return session.scalars(select(Case).join(Firing, Case.firing_id == Firing.id)
                           .where(Case.run_id == run_id, Firing.seq == seq)).one()


def test_publish_needs_every_case_decided_and_opens_the_window(ds: Session) -> None:
    with pytest.raises(Conflict, match="firings without a case: open them first"):
        publish(ds, RUN_ID, actor=OFFICE, now=T0)
    ids = [c.id for c in open_cases(ds, RUN_ID, actor=OFFICE).opened]
    review_cases(ds, ids[:10], actor=AUDITOR)
    with pytest.raises(Conflict, match=r"474 case\(s\) not yet approved or rejected \(464 proposed, 10 rev"):
        publish(ds, RUN_ID, actor=OFFICE, now=T0)
    review_cases(ds, ids[10:], actor=AUDITOR)
    approve_cases(ds, ids, actor=OFFICE)
    out = publish(ds, RUN_ID, actor=OFFICE, now=T0)
    assert out.superseded is None and out.run.id == RUN_ID  # nothing rejected or adjusted: same run
    pub = out.publication
    assert pub.window_ends_at == T0 + dt.timedelta(days=7)  # scheme.publication_days
    assert pub.appeals_close_at == T0 + dt.timedelta(days=5)  # scheme.appeal_days
    assert {c.state for c in list_cases(ds, RUN_ID)} == {"published"}
    with pytest.raises(Conflict, match=f"run {RUN_ID} was already published at 2025-01-10T09:00:00Z by"):
        publish(ds, RUN_ID, actor=OFFICE, now=T0)
    assert audit.verify(ds).ok


def test_the_appeal_window_last_allowed_instant_and_first_refused(ds: Session) -> None:
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    close = T0 + dt.timedelta(days=5)
    with pytest.raises(Conflict) as late:
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=close)
    assert str(late.value) == (
        f"appeals against run {RUN_ID} are accepted from 2025-01-10T09:00:00Z until 2025-01-15T09:00:00Z "
        "(that instant excluded); it is now 2025-01-15T09:00:00Z")
    with pytest.raises(Conflict, match="accepted from 2025-01-10T09:00:00Z"):
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=T0 - US)
    first = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=T0)
    assert first.state == "filed"
    with pytest.raises(Conflict, match=f"an undecided appeal already cites these firings: appeal {first.id}"):
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="again", actor="c03.rep", now=close - US)
    last = file_appeal(ds, RUN_ID, "C02", [77], grounds="g", actor="c02.rep", now=close - US)
    assert last.filed_at == close - US


def test_an_appeal_cites_deductions_of_its_own_unit_in_a_published_run(ds: Session) -> None:
    with pytest.raises(Conflict, match=f"run {RUN_ID} is not published"):
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=T0)
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    with pytest.raises(Invalid, match=f"firing 77 of run {RUN_ID} is not about C03"):
        file_appeal(ds, RUN_ID, "C03", [77], grounds="g", actor="c03.rep", now=T0)
    with pytest.raises(Invalid, match="needs its grounds"):
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds=" ", actor="c03.rep", now=T0)
    score = ds.scalars(select(Firing).where(Firing.run_id == RUN_ID, Firing.effect == "score")).first()
    assert score is not None
    with pytest.raises(Invalid, match="is a score, not a deduction or veto"):
        file_appeal(ds, RUN_ID, score.unit.code, [score.seq], grounds="g", actor="x.rep", now=T0)
    create_account(ds, "c02.rep", "long-enough-pw", display_name="C02", roles=["reporter"], actor="admin",
                   scheme_code="DEMO-2024", unit_codes=["C02"])
    with pytest.raises(Forbidden, match="may appeal only for their own units, not C03"):
        file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c02.rep", now=T0)


def test_an_overturned_deduction_makes_a_superseding_run_and_both_stay_readable(ds: Session) -> None:
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    appeal = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="the criticism named another county",
                         evidence_ref="doc:2024-118", actor="c03.rep", now=T0 + dt.timedelta(days=1))
    case = _case_of(ds, RUN_ID, CRITICISM_SEQ)
    for who, what in ((PROPOSER, "proposer"), (AUDITOR, "reviewer"), (OFFICE, "approver"),
                      ("c03.rep", "appellant")):
        with pytest.raises(Forbidden, match=f"{who} is the {what}"):
            decide_appeal(ds, appeal.id, "overturned", actor=who, reason="r")
    take_appeal(ds, appeal.id, actor=REVIEWER)
    with pytest.raises(Forbidden, match=f"under review by {REVIEWER}"):
        decide_appeal(ds, appeal.id, "upheld", actor="reviewer.other", reason="r")
    with pytest.raises(IllegalTransition, match=f"appeal {appeal.id} is under_review: 'take'"):
        take_appeal(ds, appeal.id, actor=REVIEWER)
    decided = decide_appeal(ds, appeal.id, "overturned", actor=REVIEWER, reason="the document names C04",
                            now=T0 + dt.timedelta(days=2))
    new = decided.superseding
    assert new is not None and appeal.state == "overturned" and appeal.superseding_run_id == new.id
    old = get_run(ds, RUN_ID)
    assert old.status == "superseded" and new.supersedes_id == RUN_ID and new.status == "complete"
    before = {s.unit: s for s in load_result(ds, old).sheets}  # the old run still reads (and re-hashes)
    after = {s.unit: s for s in load_result(ds, new).sheets}
    assert after["C03"].total - before["C03"].total == Decimal(4)
    assert (before["C03"].rank, after["C03"].rank) == (5, 3)
    assert (before["C03"].grade, after["C03"].grade) == ("good", "excellent")
    voided = ds.scalars(select(Firing).where(Firing.run_id == new.id, Firing.seq == CRITICISM_SEQ)).one()
    assert (voided.status, voided.points, voided.override) == ("voided", Decimal(0), f"appeal:{appeal.id}")
    # The new run's cases continue the old ones; the decided firing is not re-opened.
    carried = _case_of(ds, new.id, CRITICISM_SEQ)
    assert carried.carried_from_id == case.id and carried.state == "published"
    assert len(list_cases(ds, new.id)) == 474
    assert open_cases(ds, new.id, actor=OFFICE).opened == ()
    # The window does not restart, and the superseded run takes no appeals.
    pub = ds.scalars(select(Publication).where(Publication.run_id == new.id)).one()
    assert pub.appeals_close_at == T0 + dt.timedelta(days=5) and pub.continues_id is not None
    with pytest.raises(Conflict, match=f"run {RUN_ID} is superseded; appeal against run {new.id}"):
        file_appeal(ds, RUN_ID, "C02", [77], grounds="g", actor="c02.rep", now=T0 + dt.timedelta(days=3))
    with pytest.raises(Conflict, match="already decided"):
        file_appeal(ds, new.id, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep",
                    now=T0 + dt.timedelta(days=3))
    assert audit.verify(ds).ok


def test_decisions_accumulate_and_upheld_changes_nothing(ds: Session) -> None:
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    a1 = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=T0)
    a2 = file_appeal(ds, RUN_ID, "C02", [77], grounds="g", actor="c02.rep", now=T0)
    a3 = file_appeal(ds, RUN_ID, "C01", [2], grounds="g", actor="c01.rep", now=T0)
    upheld = decide_appeal(ds, a3.id, "upheld", actor=REVIEWER, reason="the petition is documented")
    assert upheld.superseding is None and upheld.appeal.state == "upheld"
    second = decide_appeal(ds, a2.id, "adjusted", actor=REVIEWER, reason="only one petition counts",
                           points={77: Decimal("-2.5")}).superseding
    assert second is not None
    third = decide_appeal(ds, a1.id, "overturned", actor=REVIEWER, reason="r").superseding
    assert third is not None and third.supersedes_id == second.id  # decided against the current run
    rows = {f.seq: f for f in ds.scalars(select(Firing).where(Firing.run_id == third.id,
                                                               Firing.seq.in_((2, 77, CRITICISM_SEQ))))}
    assert (rows[77].status, rows[77].points) == ("adjusted", Decimal("-2.5"))
    assert rows[77].override == f"appeal:{a2.id}"
    assert (rows[CRITICISM_SEQ].status, rows[2].status) == ("voided", "applied")
    a4 = file_appeal(ds, third.id, "C01", [2], grounds="g", actor="c01.rep", now=T0)
    with pytest.raises(Invalid, match="adjusted points must lessen the deduction of -2"):
        decide_appeal(ds, a4.id, "adjusted", actor=REVIEWER, reason="r", points={2: Decimal("-3")})


def test_rejected_and_adjusted_cases_are_real_only_through_the_published_run(ds: Session) -> None:
    ids = [c.id for c in open_cases(ds, RUN_ID, actor=OFFICE).opened]
    crit = _case_of(ds, RUN_ID, CRITICISM_SEQ)
    pet = _case_of(ds, RUN_ID, 77)
    review_cases(ds, [pet.id], actor=AUDITOR, adjusted_points=Decimal("-3"), reason="one petition is late")
    review_cases(ds, [i for i in ids if i != pet.id], actor=AUDITOR)
    approve_cases(ds, [i for i in ids if i != crit.id], actor=OFFICE)
    reject_cases(ds, [crit.id], actor=OFFICE, reason="withdrawn by the city")
    out = publish(ds, RUN_ID, actor=OFFICE, now=T0)
    assert out.superseded is not None and out.superseded.id == RUN_ID and out.run.id != RUN_ID
    rows = {f.seq: f for f in ds.scalars(select(Firing).where(Firing.run_id == out.run.id,
                                                               Firing.seq.in_((77, CRITICISM_SEQ))))}
    assert (rows[CRITICISM_SEQ].status, rows[CRITICISM_SEQ].override) == ("voided", f"case:{crit.id}")
    assert (rows[77].status, rows[77].points) == ("adjusted", Decimal("-3"))
    published = _case_of(ds, out.run.id, CRITICISM_SEQ)
    assert (published.state, published.decision) == ("published", "rejected")
    assert published.carried_from_id == crit.id
    assert {c.state for c in list_cases(ds, RUN_ID)} == {"approved", "rejected"}  # the old run's stay
    assert audit.verify(ds).ok


def test_the_committee_seals_after_the_window_with_no_appeal_pending(ds: Session) -> None:
    _approve_all(ds)
    with pytest.raises(Conflict, match=f"run {RUN_ID} is not published"):
        seal(ds, RUN_ID, actor=COMMITTEE, now=T0)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    ends = T0 + dt.timedelta(days=7)
    with pytest.raises(Conflict, match="until 2025-01-17T09:00:00Z; it is now 2025-01-17T08:59:59Z"):
        seal(ds, RUN_ID, actor=COMMITTEE, now=ends - US)
    appeal = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep", now=T0)
    with pytest.raises(Conflict, match=f"undecided appeals: {appeal.id}"):
        seal(ds, RUN_ID, actor=COMMITTEE, now=ends)
    current = decide_appeal(ds, appeal.id, "overturned", actor=REVIEWER, reason="r").superseding
    assert current is not None
    with pytest.raises(Conflict, match=f"run {RUN_ID} is superseded: only the current run can be sealed "
                                       f"\\({current.id}\\)"):
        seal(ds, RUN_ID, actor=COMMITTEE, now=ends)
    create_account(ds, "office.only", "long-enough-pw", display_name="O", roles=["office"], actor="admin")
    with pytest.raises(Forbidden, match="lacks the role committee"):
        seal(ds, current.id, actor="office.only", now=ends)
    sealed = seal(ds, current.id, actor=COMMITTEE, now=ends)
    assert sealed.status == "sealed"
    pub = ds.scalars(select(Publication).where(Publication.run_id == current.id)).one()
    assert (pub.sealed_at, pub.sealed_by) == (ends, COMMITTEE)
    with pytest.raises(Conflict, match="is sealed: it cannot be superseded"):
        create_run(ds, "DEMO-2024", "2024", actor=PROPOSER)
    with pytest.raises(Conflict, match="is sealed"):
        seal(ds, current.id, actor=COMMITTEE, now=ends)
    with pytest.raises(Conflict, match=f"run {current.id} is sealed"):
        file_appeal(ds, current.id, "C02", [77], grounds="g", actor="c02.rep", now=T0)
    assert ds.scalars(select(Run.status).order_by(Run.id)).all() == ["superseded", "sealed"]
    assert audit.verify(ds).ok


def test_a_plain_rerun_after_an_appeal_keeps_its_outcome(ds: Session) -> None:
    """Running the period again must not drop a decided appeal: its override carries over."""
    _approve_all(ds)
    publish(ds, RUN_ID, actor=OFFICE, now=T0)
    appeal = file_appeal(ds, RUN_ID, "C03", [CRITICISM_SEQ], grounds="g", actor="c03.rep",
                         now=T0 + dt.timedelta(days=1))
    take_appeal(ds, appeal.id, actor=REVIEWER)
    decided = decide_appeal(ds, appeal.id, "overturned", actor=REVIEWER, reason="r",
                            now=T0 + dt.timedelta(days=2)).superseding
    assert decided is not None
    rerun = create_run(ds, "DEMO-2024", decided.period, actor=OFFICE).run
    assert rerun.supersedes_id == decided.id and rerun.run_hash == decided.run_hash
    voided = ds.scalars(select(Firing).where(Firing.run_id == rerun.id, Firing.seq == CRITICISM_SEQ)).one()
    assert (voided.status, voided.override) == ("voided", f"appeal:{appeal.id}")
