"""Case and appeal state machines: every legal and illegal transition, separation of duties,
batches of hundreds, and an audit event for every transition."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, Case, CaseEvent
from tests.cases.conftest import PROPOSER, RUN_ID
from workflows.accounts import create_account
from workflows.cases import (
    APPEAL,
    CASE,
    approve_cases,
    case_history,
    list_cases,
    open_cases,
    reject_cases,
    review_cases,
)
from workflows.errors import BatchRefused, Forbidden, IllegalTransition, Invalid, NotFound

AUDITOR, OFFICE, OFFICE2 = "auditor.chen", "office.zhao", "office.qian"


def _illegal(machine_table: dict[tuple[str, str], str], states: tuple[str, ...],
             actions: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(s, a) for s, a in itertools.product(states, actions) if (s, a) not in machine_table]


def test_the_tables_are_what_the_design_says() -> None:
    assert CASE.states == ("proposed", "reviewed", "approved", "rejected", "published")
    assert CASE.actions == ("review", "approve", "reject", "publish")
    assert APPEAL.states == ("filed", "under_review", "upheld", "overturned", "adjusted")
    assert dict(CASE.table)[("reviewed", "reject")] == "rejected"


@pytest.mark.parametrize("machine", [CASE, APPEAL], ids=["case", "appeal"])
def test_every_pair_outside_the_table_is_refused_naming_subject_state_and_action(machine: object) -> None:
    from workflows.cases import Machine

    assert isinstance(machine, Machine)
    for state, action in _illegal(dict(machine.table), machine.states, machine.actions):
        with pytest.raises(IllegalTransition) as info:
            machine.next_state(42, state, action)
        assert str(info.value) == f"{machine.subject} 42 is {state}: '{action}' is not allowed from {state}"
    for (state, action), target in machine.table.items():
        assert machine.next_state(42, state, action) == target


def _cases(session: Session) -> list[Case]:
    opened = open_cases(session, RUN_ID, actor=OFFICE)
    return list(opened.opened)


def _to_state(session: Session, case: Case, state: str) -> None:
    """Drive one case to ``state`` through the services (``published`` is run-wide, set directly)."""
    if state == "proposed":
        return
    review_cases(session, [case.id], actor=AUDITOR)
    if state in ("approved", "published"):
        approve_cases(session, [case.id], actor=OFFICE)
    elif state == "rejected":
        reject_cases(session, [case.id], actor=OFFICE, reason="the criticism was withdrawn")
    if state == "published":
        case.state = "published"
        session.flush()


ACT = {
    "review": lambda s, ids: review_cases(s, ids, actor=AUDITOR),
    "approve": lambda s, ids: approve_cases(s, ids, actor=OFFICE),
    "reject": lambda s, ids: reject_cases(s, ids, actor=OFFICE, reason="not proven"),
}


@pytest.mark.parametrize(("state", "action"), [k for k in CASE.table if k[1] != "publish"])
def test_every_legal_review_transition(ds: Session, state: str, action: str) -> None:
    case = _cases(ds)[0]
    _to_state(ds, case, state)
    ACT[action](ds, [case.id])
    assert case.state == CASE.table[(state, action)]
    last = case_history(ds, case.id)[-1]
    assert (last.action, last.from_state, last.to_state) == (action, state, case.state)


@pytest.mark.parametrize(("state", "action"), _illegal(dict(CASE.table), CASE.states, tuple(ACT)))
def test_every_illegal_review_transition_is_refused(ds: Session, state: str, action: str) -> None:
    case = _cases(ds)[0]
    _to_state(ds, case, state)
    before = (case.state, case.version)
    with pytest.raises(IllegalTransition, match=f"case {case.id} is {state}: '{action}' is not allowed"):
        ACT[action](ds, [case.id])
    assert (case.state, case.version) == before


def test_cases_open_once_per_deduction_and_veto_firing_with_the_run_actor_as_proposer(ds: Session) -> None:
    first = open_cases(ds, RUN_ID, actor=OFFICE)
    assert len(first.opened) == 474 and first.existing == 0
    assert {c.kind for c in first.opened} == {"deduction", "veto"}
    assert {c.proposer for c in first.opened} == {PROPOSER}
    again = open_cases(ds, RUN_ID, actor=OFFICE)
    assert again.opened == () and again.existing == 474
    with pytest.raises(NotFound, match="no run 999"):
        open_cases(ds, 999, actor=OFFICE)


def test_separation_of_duties(ds: Session) -> None:
    cases = _cases(ds)
    one = cases[0]
    with pytest.raises(Forbidden, match=f"{PROPOSER} is the proposer"):
        review_cases(ds, [one.id], actor=PROPOSER)
    review_cases(ds, [one.id], actor=AUDITOR)
    with pytest.raises(Forbidden, match=f"{AUDITOR} is the reviewer"):
        approve_cases(ds, [one.id], actor=AUDITOR)
    with pytest.raises(Forbidden, match=f"{PROPOSER} is the proposer"):
        reject_cases(ds, [one.id], actor=PROPOSER, reason="mine")
    # An account scoped to the assessed unit may neither review nor approve its cases.
    unit = one.unit.code
    create_account(ds, "member.x", "long-enough-pw", display_name="Member", roles=["office", "auditor"],
                   actor="admin", scheme_code="DEMO-2024", unit_codes=[unit])
    with pytest.raises(Forbidden, match=f"member.x is a member of the assessed unit {unit}"):
        approve_cases(ds, [one.id], actor="member.x")
    other = next(c for c in cases if c.unit_id != one.unit_id)
    approve_cases(ds, [one.id], actor=OFFICE)
    with pytest.raises(Forbidden, match=f"member.x is a member of the assessed unit {unit}"):
        review_cases(ds, [cases[1].id], actor="member.x")
    review_cases(ds, [other.id], actor="member.x")  # another unit's case: allowed
    # With an account, the action's role is required.
    create_account(ds, "auditor.only", "long-enough-pw", display_name="A", roles=["auditor"], actor="admin")
    with pytest.raises(Forbidden, match=r"auditor\.only lacks the role office"):
        approve_cases(ds, [other.id], actor="auditor.only")


def test_review_can_propose_an_adjustment_only_with_a_reason_and_only_lessening(ds: Session) -> None:
    cases = _cases(ds)
    ded = next(c for c in cases if c.kind == "deduction" and c.firing.points == Decimal("-4"))
    veto = next(c for c in cases if c.kind == "veto")
    with pytest.raises(Invalid, match="an adjustment needs a reason"):
        review_cases(ds, [ded.id], actor=AUDITOR, adjusted_points=Decimal("-2"))
    with pytest.raises(Forbidden, match="must lessen the deduction of -4"):
        review_cases(ds, [ded.id], actor=AUDITOR, adjusted_points=Decimal("-5"), reason="more")
    with pytest.raises(Forbidden, match="is a veto"):
        review_cases(ds, [veto.id], actor=AUDITOR, adjusted_points=Decimal("0"), reason="x")
    review_cases(ds, [ded.id], actor=AUDITOR, adjusted_points=Decimal("-2"), reason="county-level only")
    assert (ded.adjusted_points, ded.review_reason) == (Decimal("-2"), "county-level only")
    with pytest.raises(Invalid, match="a rejection needs a reason"):
        reject_cases(ds, [ded.id], actor=OFFICE, reason="  ")


def test_batches_move_hundreds_at_once_or_nothing_with_every_problem_listed(ds: Session) -> None:
    ids = [c.id for c in _cases(ds)]
    review_cases(ds, ids[:3], actor=AUDITOR)
    with pytest.raises(BatchRefused) as info:
        review_cases(ds, [*ids, 99999], actor=AUDITOR)
    listed = dict(info.value.errors)
    assert set(listed) == {ids[0], ids[1], ids[2], 99999}
    assert listed[ids[0]] == f"case {ids[0]} is reviewed: 'review' is not allowed from reviewed"
    assert listed[99999] == "no case 99999"
    assert "refused for 4 item(s), nothing changed" in str(info.value)
    assert ds.scalar(select(func.count()).select_from(Case).where(Case.state == "reviewed")) == 3
    review_cases(ds, ids[3:], actor=AUDITOR)
    done = approve_cases(ds, ids, actor=OFFICE, reason="checked against the evidence")
    assert len(done.cases) == 474 and {c.state for c in done.cases} == {"approved"}
    assert {c.approver for c in list_cases(ds, RUN_ID)} == {OFFICE}
    assert len(list_cases(ds, RUN_ID, state="approved")) == 474


def test_every_transition_is_an_audit_event_and_the_ledger_verifies(ds: Session) -> None:
    ids = [c.id for c in _cases(ds)][:20]
    review_cases(ds, ids, actor=AUDITOR)
    approve_cases(ds, ids[:10], actor=OFFICE)
    reject_cases(ds, ids[10:], actor=OFFICE2, reason="double counted")
    events = ds.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids))).all()
    assert len(events) == 60
    for e in events:
        ledger = ds.get(AuditEvent, e.audit_seq)
        assert ledger is not None and ledger.action == f"case.{e.action}"
        assert (ledger.subject_type, ledger.subject_id, ledger.actor) == ("case", str(e.case_id), e.actor)
    history = case_history(ds, ids[-1])
    assert [(h.action, h.actor, h.reason) for h in history] == [
        ("open", OFFICE, None), ("review", AUDITOR, None), ("reject", OFFICE2, "double counted")]
    assert audit.verify(ds).ok
