"""A run beside other people's work: an import committed while the run reads the facts, two runs
of one period started together, the committee sealing the run a new one would supersede, a
verification while the run evaluates (real transactions on separate connections)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import Snapshot
from store import ProgressReport, Run, Target, Unit, make_engine
from tests.cases.conftest import PROPOSER, RUN_ID, T0
from tests.cases.test_concurrency import _wait_for_a_lock_wait
from tests.cases.test_publication_appeals import COMMITTEE, OFFICE, _approve_all
from tests.conftest import IS_POSTGRES
from workflows import snapshot as snapshot_module
from workflows.cases import publish, seal
from workflows.errors import Conflict
from workflows.runs import create_run, machinery
from workflows.year import verify_report


@pytest.fixture
def other_engine(demo_url: str) -> Iterator[Engine]:
    """A second engine on the same database, whose writes wait (not fail) while a run holds it."""
    engine = make_engine(demo_url, **({} if IS_POSTGRES else {"connect_args": {"timeout": 60}}))
    yield engine
    engine.dispose()


def _new_run(engine: Engine, actor: str = PROPOSER) -> int:
    """Run the demo year in a transaction of its own; the new run's id."""
    with Session(engine) as b, b.begin():
        return create_run(b, "DEMO-2024", "2024", actor=actor).run.id


def _year_end_report(engine: Engine) -> tuple[int, str, Decimal]:
    """A December report the year run uses: (its row id, its fact id in a snapshot, its value)."""
    with Session(engine) as s:
        run = s.get(Run, RUN_ID)
        assert run is not None
        used = {(r.id, r.source) for r in Snapshot.from_json(run.snapshot).reports if r.period == "2024-12"}
        rows = s.execute(
            select(ProgressReport.id, Unit.code, ProgressReport.source, ProgressReport.reported_value, Target)
            .join(Target, ProgressReport.target_id == Target.id)
            .join(Unit, Target.unit_id == Unit.id)
            .where(ProgressReport.period == "2024-12", ProgressReport.verified_value.is_(None))
            .order_by(ProgressReport.id)
        ).all()
        for report_id, unit, source, value, target in rows:
            fact_id = f"R:{unit}:{target.indicator.code}:2024-12"
            if (fact_id, source) in used:
                return report_id, fact_id, value
    raise AssertionError("the demo year run uses no unverified December report")


def test_a_run_reads_one_state_while_an_import_commits(
    demo_engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_id, fact_id, before = _year_end_report(demo_engine)

    def import_a_correction() -> None:
        with Session(other_engine) as b, b.begin():
            report = b.get(ProgressReport, report_id)
            assert report is not None
            report.reported_value = before + 1

    real = snapshot_module.driver_rows
    reads: list[Any] = []
    pool = ThreadPoolExecutor(1)

    def read_then_let_the_import_in(connection: Any, statement: Any) -> list[tuple[Any, ...]]:
        rows = real(connection, statement)
        reads.append(statement)
        if len(reads) == 1:  # the targets are read, the reports are next: the import commits now
            reads.append(pool.submit(import_a_correction))
            if IS_POSTGRES:
                _wait_for_a_lock_wait(demo_engine)  # it waits for the run to end
            else:
                done = threading.Event()
                reads[-1].add_done_callback(lambda _: done.set())
                done.wait(1.0)  # long enough for an unhindered import to commit
        return rows

    monkeypatch.setattr(snapshot_module, "driver_rows", read_then_let_the_import_in)
    try:
        with Session(demo_engine) as a:
            outcome = create_run(a, "DEMO-2024", "2024", actor=PROPOSER)
            frozen = {r.id: r.reported_value for r in Snapshot.from_json(outcome.run.snapshot).reports}
            a.commit()
        reads[1].result()  # the import, once the run committed
    finally:
        pool.shutdown()
    assert frozen[fact_id] == before  # the state before the import, not half of each
    with Session(demo_engine) as s:
        report = s.get(ProgressReport, report_id)
        assert report is not None and report.reported_value == before + 1  # the import landed after


def test_two_runs_of_a_period_started_together_leave_one_current(
    demo_engine: Engine, other_engine: Engine
) -> None:
    with Session(demo_engine) as a, ThreadPoolExecutor(1) as pool:
        first = create_run(a, "DEMO-2024", "2024", actor=PROPOSER).run.id
        pending = pool.submit(_new_run, other_engine, "office.zhao")
        if IS_POSTGRES:
            _wait_for_a_lock_wait(demo_engine)
        else:
            wait([pending], timeout=1.0)  # it cannot finish while the first holds the database
        a.commit()
        second = pending.result()
    with Session(demo_engine) as s:
        runs = s.execute(select(Run.id, Run.status, Run.supersedes_id).order_by(Run.id)).all()
    assert [tuple(r) for r in runs] == [
        (RUN_ID, "superseded", None),
        (first, "superseded", RUN_ID),
        (second, "complete", first),  # the second waited for the first, then superseded it
    ]


def test_the_committee_cannot_seal_a_run_that_a_run_in_progress_supersedes(
    demo_engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new run has found run 1 current and is reading the facts when the committee seals run
    1: the seal waits for the run, then is refused — a sealed run is never superseded."""
    with Session(demo_engine) as s, s.begin():
        _approve_all(s)
        publish(s, RUN_ID, actor=OFFICE, now=T0)
    reading, go_on = threading.Event(), threading.Event()
    real = snapshot_module.driver_rows

    def pause_while_reading(connection: Any, statement: Any) -> list[tuple[Any, ...]]:
        if not reading.is_set():
            reading.set()
            go_on.wait(30)
        return real(connection, statement)

    monkeypatch.setattr(snapshot_module, "driver_rows", pause_while_reading)

    def sealing() -> None:
        with Session(other_engine) as c, c.begin():
            seal(c, RUN_ID, actor=COMMITTEE, now=T0 + dt.timedelta(days=7))

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(_new_run, other_engine)
        assert reading.wait(30)
        sealed = pool.submit(sealing)
        wait([sealed], timeout=1.0)  # an unhindered seal commits meanwhile
        go_on.set()
        new_id = running.result()
        with pytest.raises(Conflict, match=f"run {RUN_ID} is superseded: only the current, unsealed run"):
            sealed.result()
    with Session(demo_engine) as s:
        runs = s.execute(select(Run.id, Run.status).order_by(Run.id)).all()
    assert [tuple(r) for r in runs] == [(RUN_ID, "superseded"), (new_id, "complete")]


@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite has one writer: its writers wait for a whole run")
def test_a_verification_during_a_run_waits_only_while_the_facts_are_read(
    demo_engine: Engine, other_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifying records its audit event, then changes the report. Were the fact tables held until
    the run commits, it would wait for the run while holding the audit chain's lock — which the
    run takes at its end: a deadlock. They are held only while the snapshot is read."""
    evaluating, go_on = threading.Event(), threading.Event()
    real = machinery.prepare

    def pause_once_read(*args: Any, **kwargs: Any) -> Any:
        evaluating.set()
        go_on.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(machinery, "prepare", pause_once_read)

    def verifying() -> Decimal:
        with Session(other_engine) as c, c.begin():
            return verify_report(c, "C01", "CK01", "2024-12", value=Decimal("1.5"), reason="统计局 data",
                                 actor=OFFICE, now=T0).value

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(_new_run, other_engine)
        assert evaluating.wait(30)
        verified = pool.submit(verifying)
        done, _ = wait([verified], timeout=10.0)  # bounded: a blocked verification is the failure
        go_on.set()
        run_id = running.result()
        assert verified.result() == Decimal("1.5")
    assert done == {verified}  # it did not wait for the run
    with Session(demo_engine) as s:
        run = s.get(Run, run_id)
        assert run is not None and run.status == "complete"
