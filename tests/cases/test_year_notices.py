"""Supervision notices: raised from a run's warnings idempotently, escalated by a later run,
every transition of the notice and level tables, due dates, the unit's response, closure."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, NoticeEvent, SupervisionNotice
from tests.cases.conftest import PROPOSER, RUN_ID
from tests.cases.year_support import account
from workflows.errors import Forbidden, IllegalTransition, Invalid
from workflows.runs import create_run
from workflows.year import (
    LEVEL,
    NOTICE,
    close_notice,
    escalate_notice,
    list_notices,
    notice_history,
    raise_notices,
    respond_notice,
)

OFFICE, OFFICE2, UNIT = "office.zhao", "office.qian", "unit.c07"
T0 = dt.datetime(2024, 10, 8, 9, 0, tzinfo=dt.UTC)
YEAR_END = {("C02", "CK03"), ("C07", "CQ04"), ("D12", "DK02")}  # lagging at the demo run's 2024-12


def _keys(notices: tuple[SupervisionNotice, ...] | list[SupervisionNotice]) -> set[tuple[str, str]]:
    return {(n.unit.code, n.indicator.code) for n in notices}


def _notice(s: Session) -> SupervisionNotice:
    return next(n for n in raise_notices(s, RUN_ID, actor=OFFICE, now=T0).opened if n.unit.code == "C07")


def test_the_tables() -> None:
    assert NOTICE.states == ("issued", "responded", "escalated", "closed")
    assert LEVEL.states == ("reminder", "supervision_order", "listed_supervision")


def test_a_run_raises_one_notice_per_lagging_unit_and_indicator_once(ds: Session) -> None:
    raised = raise_notices(ds, RUN_ID, actor=OFFICE, now=T0)
    assert _keys(raised.opened) == YEAR_END
    notice = next(n for n in raised.opened if n.unit.code == "C07")
    assert (notice.level, notice.state, notice.checkpoint, notice.run_id) == (
        "reminder",
        "issued",
        "2024-12",
        RUN_ID,
    )
    assert notice.due_at == T0 + dt.timedelta(days=15) and notice.firing_ids
    assert notice.schedule_pct is not None and 60 <= notice.schedule_pct < 80
    again = raise_notices(ds, RUN_ID, actor=OFFICE, now=T0 + dt.timedelta(days=1))
    assert (again.opened, again.escalated, again.already) == ((), (), 3)
    assert ds.scalar(select(func.count()).select_from(SupervisionNotice)) == 3
    assert audit.verify(ds).ok


def test_a_later_run_escalates_what_still_lags_and_an_earlier_one_changes_nothing(ds: Session) -> None:
    september = create_run(ds, "DEMO-2024", "2024-09", actor=PROPOSER).run
    first = raise_notices(ds, september.id, actor=OFFICE, now=T0, due_days=10)
    assert ("C07", "CQ04") in _keys(first.opened) and all(n.checkpoint == "2024-09" for n in first.opened)
    assert all(n.due_at == T0 + dt.timedelta(days=10) for n in first.opened)
    c07 = next(n for n in first.opened if n.unit.code == "C07")
    respond_notice(ds, c07.id, actor=UNIT, text="two projects delayed by flooding", now=T0)
    later = raise_notices(ds, RUN_ID, actor=OFFICE, now=T0 + dt.timedelta(days=30))
    assert [(old.id, new.level, new.escalated_from_id) for old, new in later.escalated] == [
        (c07.id, "supervision_order", c07.id)
    ]
    assert c07.state == "escalated"
    assert _keys(later.opened) == YEAR_END - {("C07", "CQ04")} - _keys(first.opened)
    assert raise_notices(ds, september.id, actor=OFFICE, now=T0).already == len(first.opened)
    assert raise_notices(ds, RUN_ID, actor=OFFICE, now=T0).already == 3
    escalation = [e for e in notice_history(ds, c07.id) if e.action == "escalate"]
    assert [(e.from_state, e.to_state, e.run_id) for e in escalation] == [("responded", "escalated", RUN_ID)]
    assert audit.verify(ds).ok


def test_listed_supervision_is_the_top(ds: Session) -> None:
    notice = _notice(ds)
    _, order = escalate_notice(ds, notice.id, actor=OFFICE, reason="no response by the due date", now=T0)
    _, listed = escalate_notice(ds, order.id, actor=OFFICE, reason="still no response", now=T0)
    assert (order.level, listed.level, listed.escalated_from_id) == (
        "supervision_order",
        "listed_supervision",
        order.id,
    )
    with pytest.raises(
        IllegalTransition, match=f"notice {listed.id} is listed_supervision: 'escalate' is not allowed"
    ):
        escalate_notice(ds, listed.id, actor=OFFICE, reason="again", now=T0)
    with pytest.raises(
        IllegalTransition, match=f"notice {notice.id} is escalated: 'escalate' is not allowed"
    ):
        escalate_notice(ds, notice.id, actor=OFFICE, reason="again", now=T0)


def _in_state(s: Session, state: str) -> SupervisionNotice:
    notice = _notice(s)
    if state in ("responded", "closed"):
        respond_notice(s, notice.id, actor=UNIT, text="catching up", evidence_ref="doc-1", now=T0)
    if state == "closed":
        close_notice(s, notice.id, actor=OFFICE, reason="plan accepted", now=T0)
    if state == "escalated":
        escalate_notice(s, notice.id, actor=OFFICE, reason="no response", now=T0)
    assert notice.state == state
    return notice


ACTIONS: dict[
    str, Callable[[Session, int], SupervisionNotice | tuple[SupervisionNotice, SupervisionNotice]]
] = {
    "respond": lambda s, i: respond_notice(s, i, actor=UNIT, text="we are on it", now=T0),
    "close": lambda s, i: close_notice(s, i, actor=OFFICE2, now=T0),
    "escalate": lambda s, i: escalate_notice(s, i, actor=OFFICE2, reason="lag persists", now=T0),
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(NOTICE.states, NOTICE.actions)))
def test_every_notice_transition_legal_or_refused(ds: Session, state: str, action: str) -> None:
    notice = _in_state(ds, state)
    seqs = ds.scalar(select(func.count()).select_from(AuditEvent))
    if (state, action) in NOTICE.table:
        ACTIONS[action](ds, notice.id)
        assert notice.state == NOTICE.table[(state, action)]
        assert notice_history(ds, notice.id)[-1].action == action
        assert (ds.scalar(select(func.count()).select_from(AuditEvent)) or 0) > (seqs or 0)
    else:
        with pytest.raises(
            IllegalTransition, match=f"notice {notice.id} is {state}: '{action}' is not allowed from {state}"
        ):
            ACTIONS[action](ds, notice.id)
    assert audit.verify(ds).ok


def test_response_closure_and_who_may_act(ds: Session) -> None:
    account(ds, "reporter.c07", "reporter", "C07")
    account(ds, "reporter.c01", "reporter", "C01")
    account(ds, "office.c07", "office", "C07")
    notice = _notice(ds)
    with pytest.raises(Forbidden, match=re.escape("reporter.c01 is not a member of unit C07")):
        respond_notice(ds, notice.id, actor="reporter.c01", text="x", now=T0)
    with pytest.raises(Invalid, match="a response's text is required"):
        respond_notice(ds, notice.id, actor="reporter.c07", text=" ", now=T0)
    late = notice.due_at + dt.timedelta(seconds=1)
    respond_notice(
        ds, notice.id, actor="reporter.c07", text="recovery plan", evidence_ref="plan.pdf", now=late
    )
    event = ds.scalars(select(AuditEvent).where(AuditEvent.action == "notice.respond")).one()
    assert json.loads(event.payload)["late"] is True
    with pytest.raises(Forbidden, match=re.escape("reporter.c07 lacks the role office")):
        close_notice(ds, notice.id, actor="reporter.c07", now=T0)
    with pytest.raises(Forbidden, match=re.escape("office.c07 is a member of the assessed unit C07")):
        close_notice(ds, notice.id, actor="office.c07", now=T0)
    close_notice(ds, notice.id, actor=OFFICE, reason="plan accepted", now=late)
    assert (notice.state, notice.closed_by, notice.response_evidence) == ("closed", OFFICE, "plan.pdf")
    assert notice not in list_notices(ds, open_only=True) and notice in list_notices(ds, unit_code="C07")
    assert [
        e.action
        for e in ds.scalars(
            select(NoticeEvent).where(NoticeEvent.notice_id == notice.id).order_by(NoticeEvent.id)
        )
    ] == ["issue", "respond", "close"]
    with pytest.raises(Invalid, match="at least 1 day"):
        raise_notices(ds, RUN_ID, actor=OFFICE, due_days=0, now=T0)
    assert audit.verify(ds).ok
