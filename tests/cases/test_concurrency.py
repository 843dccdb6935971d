"""Two people acting on the same case at once: exactly one wins, the other gets Conflict (real
transactions on separate connections); repeated requests with an idempotency key happen once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

import audit
from store import Case, CaseEvent, IdempotencyKey
from tests.cases.conftest import RUN_ID
from tests.conftest import IS_POSTGRES
from workflows.cases import approve_cases, open_cases, reject_cases, review_cases
from workflows.errors import Conflict
from workflows.idempotency import once

OFFICE, OFFICE2, AUDITOR = "office.zhao", "office.qian", "auditor.chen"


def _reviewed_case(engine: Engine) -> int:
    with Session(engine) as s, s.begin():
        ids = [c.id for c in open_cases(s, RUN_ID, actor=OFFICE).opened[:3]]
        review_cases(s, ids, actor=AUDITOR)
    return ids[0]


def _wait_for_a_lock_wait(engine: Engine, deadline_s: float = 20.0) -> None:
    """Block until some other backend waits on a lock (PostgreSQL), i.e. the second request is
    parked behind the first — polled, so the test does not depend on timing guesses."""
    end = time.monotonic() + deadline_s
    with engine.connect() as conn:
        while time.monotonic() < end:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.01)
    raise AssertionError("the second transaction never waited on the first")


def test_stale_version_loses_on_every_backend(demo_engine: Engine) -> None:
    case_id = _reviewed_case(demo_engine)
    with Session(demo_engine) as a, Session(demo_engine) as b:
        seen = [a.get(Case, case_id), b.get(Case, case_id)]  # both read version 2 (kept referenced)
        assert [c.version for c in seen if c is not None] == [2, 2]
        approve_cases(a, [case_id], actor=OFFICE)
        a.commit()
        with pytest.raises(Conflict, match=f"case {case_id} was changed by someone else at the same time"):
            reject_cases(b, [case_id], actor=OFFICE2, reason="not proven")
        b.rollback()
    with Session(demo_engine) as s:
        case = s.get(Case, case_id)
        assert case is not None and (case.state, case.approver, case.version) == ("approved", OFFICE, 3)
        assert audit.verify(s).ok


def _in_thread(engine: Engine, work: Callable[[Session], Any], hold: threading.Event | None = None,
               ready: threading.Event | None = None) -> Any:
    with Session(engine) as s, s.begin():
        result = work(s)
        if ready is not None:
            ready.set()
        if hold is not None:
            assert hold.wait(30)
        return result


@pytest.mark.skipif(not IS_POSTGRES, reason="needs concurrent writers: PostgreSQL")
def test_two_officers_at_once_exactly_one_wins(demo_engine: Engine) -> None:
    case_id = _reviewed_case(demo_engine)
    flushed, commit = threading.Event(), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        def approve(s: Session) -> Any:
            return approve_cases(s, [case_id], actor=OFFICE).as_json()

        def reject(s: Session) -> Any:
            return reject_cases(s, [case_id], actor=OFFICE2, reason="no").as_json()

        first: Future[Any] = pool.submit(_in_thread, demo_engine, approve, commit, flushed)
        assert flushed.wait(30)  # the approval is flushed (row locked), not committed
        second = pool.submit(_in_thread, demo_engine, reject)
        _wait_for_a_lock_wait(demo_engine)  # the rejection waits on the approval's row lock
        commit.set()
        assert first.result(30)["cases"][0]["state"] == "approved"
        with pytest.raises(Conflict, match=f"case {case_id} was changed by someone else"):
            second.result(30)
    with Session(demo_engine) as s:
        case = s.get(Case, case_id)
        assert case is not None and (case.state, case.decision, case.version) == ("approved", "approved", 3)
        decided = CaseEvent.action.in_(("approve", "reject"))
        assert s.scalar(select(func.count()).select_from(CaseEvent)
                        .where(CaseEvent.case_id == case_id, decided)) == 1
        assert audit.verify(s).ok


def _approve_once(s: Session, key: str, ids: list[int], reason: str = "checked") -> Any:
    return once(s, key=key, actor=OFFICE, action="case.approve", request={"ids": ids, "reason": reason},
                perform=lambda: approve_cases(s, ids, actor=OFFICE, reason=reason).as_json())


def test_the_same_key_and_request_does_nothing_twice(ds: Session) -> None:
    ids = [c.id for c in open_cases(ds, RUN_ID, actor=OFFICE).opened[:5]]
    review_cases(ds, ids, actor=AUDITOR)
    first = _approve_once(ds, "req-1", ids)
    events = ds.scalar(select(func.count()).select_from(CaseEvent))
    again = _approve_once(ds, "req-1", ids)
    assert not first.replayed and again.replayed and again.response == first.response
    assert ds.scalar(select(func.count()).select_from(CaseEvent)) == events
    with pytest.raises(Conflict, match=r"key 'req-1' was already used by office\.zhao for a different"):
        _approve_once(ds, "req-1", ids, reason="other")
    with pytest.raises(Conflict, match="is approved: 'approve' is not allowed"):  # a new key really acts
        _approve_once(ds, "req-2", ids)


@pytest.mark.skipif(not IS_POSTGRES, reason="needs concurrent writers: PostgreSQL")
def test_a_concurrent_repeat_waits_and_returns_the_first_response(demo_engine: Engine) -> None:
    case_id = _reviewed_case(demo_engine)
    done, commit = threading.Event(), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_in_thread, demo_engine, lambda s: _approve_once(s, "k", [case_id]), commit, done)
        assert done.wait(30)
        second = pool.submit(_in_thread, demo_engine, lambda s: _approve_once(s, "k", [case_id]))
        _wait_for_a_lock_wait(demo_engine)  # parked on the key's unique index
        commit.set()
        a, b = first.result(30), second.result(30)
    assert not a.replayed and b.replayed and a.response == b.response
    with Session(demo_engine) as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert s.scalar(select(func.count()).select_from(CaseEvent)
                        .where(CaseEvent.case_id == case_id, CaseEvent.action == "approve")) == 1
