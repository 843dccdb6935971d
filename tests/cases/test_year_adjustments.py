"""Target adjustments: every transition, the cut-off edge, 从一而终, four eyes, a stale target
losing to a concurrent change, and the old and new values in the audit ledger."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, Target, TargetAdjustment
from tests.cases.year_support import account
from workflows.errors import Conflict, Forbidden, IllegalTransition, Invalid
from workflows.year import (
    ADJUSTMENT,
    adjustment_history,
    approve_adjustment,
    reject_adjustment,
    request_adjustment,
)
from workflows.year.common import find_target

REPORTER, OFFICE, OFFICE2 = "reporter.c01", "office.zhao", "office.qian"
NOW = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))
LAST_ALLOWED = dt.datetime(2024, 9, 30, 23, 59, 59, 999999, tzinfo=CST)  # demo cut-off 2024-09-30
FIRST_REFUSED = dt.datetime(2024, 10, 1, 0, 0, tzinfo=CST)


def _request(
    s: Session, value: str = "40", *, actor: str = REPORTER, now: dt.datetime = NOW, indicator: str = "CK02"
) -> TargetAdjustment:
    return request_adjustment(
        s,
        "C01",
        indicator,
        actor=actor,
        reason="flood damage",
        annual_value=Decimal(value),
        evidence_ref="市政发〔2024〕12号",
        now=now,
    )


def _accounts(s: Session) -> None:
    account(s, REPORTER, "reporter", "C01")
    for name in (OFFICE, OFFICE2):
        account(s, name, "office")


def test_the_table() -> None:
    assert ADJUSTMENT.states == ("requested", "approved", "rejected")
    assert ADJUSTMENT.actions == ("approve", "reject")


@pytest.mark.parametrize(("state", "action"), list(itertools.product(ADJUSTMENT.states, ADJUSTMENT.actions)))
def test_every_transition_legal_or_refused_naming_subject_state_and_action(
    ds: Session, state: str, action: str
) -> None:
    adjustment = _request(ds, actor=OFFICE2)
    if state == "approved":
        approve_adjustment(ds, adjustment.id, actor=OFFICE, now=NOW)
    elif state == "rejected":
        reject_adjustment(ds, adjustment.id, actor=OFFICE, reason="not proven", now=NOW)
    act = {
        "approve": lambda: approve_adjustment(ds, adjustment.id, actor=OFFICE, now=NOW),
        "reject": lambda: reject_adjustment(ds, adjustment.id, actor=OFFICE, reason="no", now=NOW),
    }[action]
    if (state, action) in ADJUSTMENT.table:
        assert act().state == ADJUSTMENT.table[(state, action)]
    else:
        with pytest.raises(
            IllegalTransition,
            match=(f"target adjustment {adjustment.id} is {state}: '{action}' is not allowed from {state}"),
        ):
            act()
    assert next(e.action for e in adjustment_history(ds, adjustment.id)) == "request"
    assert audit.verify(ds).ok


def test_approval_changes_the_target_bumps_its_version_and_audits_old_and_new(ds: Session) -> None:
    _accounts(ds)
    target = find_target(ds, "C01", "CK02")
    assert (target.annual_value, target.version) == (Decimal("62.2900"), 1)
    adjustment = _request(ds)
    assert adjustment.periods == ["2024-12"] and adjustment.base_version == 1
    approve_adjustment(ds, adjustment.id, actor=OFFICE, reason="documented", now=NOW)
    ds.refresh(target)
    assert (target.annual_value, target.version) == (Decimal("40"), 2)
    event = ds.scalars(select(AuditEvent).where(AuditEvent.action == "target.adjust")).one()
    payload = json.loads(event.payload)
    assert (payload["old"]["annual_value"], payload["new"]["annual_value"]) == ("62.29", "40")
    assert (payload["old"]["version"], payload["new"]["version"]) == (1, 2)
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in adjustment_history(ds, adjustment.id)] == [
        ("request", None, "requested", REPORTER),
        ("approve", "requested", "approved", OFFICE),
    ]
    assert (adjustment.old_annual_value, adjustment.decided_by) == (Decimal("62.2900"), OFFICE)
    assert audit.verify(ds).ok


def test_milestones_change_with_the_annual_value_and_must_agree(ds: Session) -> None:
    with pytest.raises(
        Invalid, match=re.escape("the 2024-12 milestone 38.09 would differ from the annual value 40")
    ):
        _request(ds, "40", actor=OFFICE2, indicator="CK01")
    plan = {"2024-03": "6", "2024-06": "15", "2024-09": "25", "2024-12": "36"}
    adjustment = request_adjustment(
        ds,
        "C01",
        "CK01",
        actor=OFFICE2,
        reason="re-phased",
        annual_value=Decimal(36),
        milestones=plan,
        now=NOW,
    )
    assert adjustment.periods == ["2024-03", "2024-06", "2024-09", "2024-12"]
    approve_adjustment(ds, adjustment.id, actor=OFFICE, now=NOW)
    target = find_target(ds, "C01", "CK01")
    assert target.milestones == plan and target.annual_value == 36 and target.version == 2


def test_the_cut_off_edge_names_both_dates(ds: Session) -> None:
    assert _request(ds, actor=OFFICE2, now=LAST_ALLOWED).state == "requested"
    with pytest.raises(Conflict) as info:
        _request(ds, "41", actor=OFFICE2, now=FIRST_REFUSED)
    message = str(info.value)
    assert "closed at the end of 2024-09-30" in message and "today is 2024-10-01" in message, message
    assert "C01 × CK02" in message


@pytest.mark.parametrize(
    ("value", "milestones", "match"),
    [
        (None, None, "a request must give a new annual value or milestones"),
        ("0", None, "an annual value of 0 on an indicator where more is better would drop the target"),
        (None, {}, "an empty milestone schedule would remove the target's schedule"),
    ],
)
def test_a_target_is_never_removed(
    ds: Session, value: str | None, milestones: dict[str, str] | None, match: str
) -> None:
    with pytest.raises(Invalid, match=match) as info:
        request_adjustment(
            ds,
            "C01",
            "CK02",
            actor=OFFICE2,
            reason="drop it",
            annual_value=None if value is None else Decimal(value),
            milestones=milestones,
            now=NOW,
        )
    assert "从一而终" in str(info.value)
    assert not any("remove" in action for action in ADJUSTMENT.actions)


def test_requests_that_change_nothing_or_lack_a_reason_are_refused(ds: Session) -> None:
    with pytest.raises(Invalid, match="the request changes nothing"):
        _request(ds, "62.29", actor=OFFICE2)
    with pytest.raises(Invalid, match="reason is required"):
        request_adjustment(ds, "C01", "CK02", actor=OFFICE2, reason=" ", annual_value=Decimal(1), now=NOW)
    with pytest.raises(Invalid, match="is not a month"):
        request_adjustment(
            ds,
            "C01",
            "CK02",
            actor=OFFICE2,
            reason="r",
            annual_value=Decimal(1),
            periods=["2023-05"],
            now=NOW,
        )


def test_four_eyes_and_who_may_request(ds: Session) -> None:
    _accounts(ds)
    account(ds, "reporter.c02", "reporter", "C02")
    account(ds, "office.c01", "office", "C01")
    with pytest.raises(
        Forbidden, match=re.escape("reporter.c02 may not request an adjustment of target C01 × CK02")
    ):
        _request(ds, actor="reporter.c02")
    mine = _request(ds, actor=OFFICE)
    with pytest.raises(Forbidden, match=re.escape("office.zhao is the requester")):
        approve_adjustment(ds, mine.id, actor=OFFICE, now=NOW)
    with pytest.raises(Forbidden, match=re.escape("office.c01 is a member of the assessed unit C01")):
        approve_adjustment(ds, mine.id, actor="office.c01", now=NOW)
    with pytest.raises(Forbidden, match=re.escape("reporter.c01 lacks the role office")):
        reject_adjustment(ds, mine.id, actor=REPORTER, reason="no", now=NOW)
    assert approve_adjustment(ds, mine.id, actor=OFFICE2, now=NOW).state == "approved"


def test_a_request_made_against_an_older_version_cannot_undo_a_later_change(ds: Session) -> None:
    first, second = _request(ds, "40", actor=OFFICE2), _request(ds, "45", actor=OFFICE2)
    approve_adjustment(ds, first.id, actor=OFFICE, now=NOW)
    with pytest.raises(Conflict, match=f"changed since adjustment {second.id} was requested .version 1 → 2."):
        approve_adjustment(ds, second.id, actor=OFFICE, now=NOW)


def test_a_sealed_scheme_takes_no_adjustment(ds: Session) -> None:
    find_target(ds, "C01", "CK02").scheme.status = "sealed"
    with pytest.raises(Conflict, match="scheme DEMO-2024 is sealed"):
        _request(ds, actor=OFFICE2)


def test_a_concurrent_change_of_the_target_wins_and_the_stale_one_conflicts(demo_engine: Engine) -> None:
    with Session(demo_engine) as s, s.begin():
        a_id, b_id = _request(s, "40", actor=OFFICE2).id, _request(s, "45", actor=OFFICE2).id
    with Session(demo_engine) as a, Session(demo_engine) as b:
        seen = [
            a.get(TargetAdjustment, a_id),
            b.get(TargetAdjustment, b_id),
        ]  # both read the target at version 1
        assert [x.target.version for x in seen if x is not None] == [1, 1]
        approve_adjustment(a, a_id, actor=OFFICE, now=NOW)
        a.commit()
        with pytest.raises(Conflict, match="changed by someone else at the same time"):
            approve_adjustment(b, b_id, actor=OFFICE, now=NOW)
        b.rollback()
    with Session(demo_engine) as s:
        target = s.scalars(select(Target).where(Target.id == find_target(s, "C01", "CK02").id)).one()
        assert (target.annual_value, target.version) == (Decimal("40"), 2)
        assert s.get(TargetAdjustment, b_id).state == "requested"  # type: ignore[union-attr]
        assert audit.verify(s).ok
