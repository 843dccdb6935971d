"""A year that freezes: after publication a unit's correction is refused (the office verifies), after
the cut-off nothing new is accepted, after the year's seal nothing changes — through the services,
the CLI and the importer, each refusal checked for its message and for changing nothing.

Two databases made once per module from the demo's year run: one published (the scheme in force),
one whose year run the committee sealed (the scheme sealed with it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, Event, Firing, ProgressReport, Publication, Scheme, Target, make_engine
from tests.cases.conftest import RUN_ID, T0, _copy, _drop
from tests.cases.year_support import account
from tests.cli_support import cli_runner
from web.cli.main import main
from workflows.cases import approve_cases, file_appeal, open_cases, publish, review_cases, seal
from workflows.errors import Conflict, IllegalTransition
from workflows.imports import ImportRejected, import_file
from workflows.progress import submit_report
from workflows.runs import create_run
from workflows.year import approve_adjustment, raise_notices, request_adjustment, verify_event, verify_report
from workflows.year.common import find_target

AUDITOR, OFFICE, COMMITTEE = "auditor.chen", "office.zhao", "committee.wu"
CUTOFF = dt.date(2025, 2, 28)  # the office's cut-off for 2024 facts in these tests (the example)
AFTER_PUBLICATION = T0 + dt.timedelta(days=10)  # 2025-01-20: published, not yet cut off
SEALED_AT = T0 + dt.timedelta(days=7)
PROGRESS_HEADER = "scheme,unit,indicator,period,value,source,submitted_at\n"
EVENTS_HEADER = "scheme,code,unit,kind,type,title,work_year,document_date\n"


def _publish_year(session: Session) -> int:
    """Every case of the demo's year run decided, the run published at T0; a request made before."""
    session.execute(update(Scheme).values(cutoff_date=CUTOFF, adjustment_cutoff_date=None))
    adjustment = request_adjustment(session, "C02", "CQ05", actor="office.li", reason="汛期延误",
                                    milestones={"2024-12": "30"}, annual_value=Decimal(30),
                                    now=T0 - dt.timedelta(days=100))
    ids = [c.id for c in open_cases(session, RUN_ID, actor=OFFICE).opened]
    review_cases(session, ids, actor=AUDITOR)
    approve_cases(session, ids, actor=OFFICE)
    publish(session, RUN_ID, actor=OFFICE, now=T0)
    return adjustment.id


@pytest.fixture(scope="module")
def published(demo_run_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    url = _copy(demo_run_url, tmp_path_factory.mktemp("published"))
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        adjustment_id = _publish_year(session)
    engine.dispose()
    yield url, adjustment_id
    _drop(url)


@pytest.fixture(scope="module")
def sealed(published: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _copy(published[0], tmp_path_factory.mktemp("sealed"))
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        seal(session, RUN_ID, actor=COMMITTEE, now=SEALED_AT)
    engine.dispose()
    yield url
    _drop(url)


@pytest.fixture(scope="module")
def published_engine(published: tuple[str, int]) -> Iterator[Engine]:
    engine = make_engine(published[0])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sealed_engine(sealed: str) -> Iterator[Engine]:
    engine = make_engine(sealed)
    yield engine
    engine.dispose()


def _session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            trans.rollback()


@pytest.fixture
def ps(published_engine: Engine) -> Iterator[Session]:
    """A session on the published year, rolled back after the test."""
    yield from _session(published_engine)


@pytest.fixture
def ss(sealed_engine: Engine) -> Iterator[Session]:
    """A session on the sealed year, rolled back after the test."""
    yield from _session(sealed_engine)


def _report(session: Session, period: str, unit: str = "C01", indicator: str = "CQ05") -> ProgressReport:
    target = find_target(session, unit, indicator)
    return session.scalars(select(ProgressReport).where(ProgressReport.target_id == target.id,
                                                        ProgressReport.period == period)).one()


def _events(session: Session, action: str) -> list[dict[str, object]]:
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
    return [json.loads(e.payload) for e in rows]


# --- the lifecycle ------------------------------------------------------------------------------


def test_publication_puts_the_scheme_in_force_and_the_year_seal_seals_it(ps: Session, ss: Session) -> None:
    assert ps.scalars(select(Scheme.status)).one() == "locked"
    assert [(e["from"], e["to"], e["reason"]) for e in _events(ps, "scheme.lock")] == [
        ("draft", "locked", "run 1 (2024) published")]
    assert ss.scalars(select(Scheme.status)).one() == "sealed"
    sealed_event = _events(ss, "scheme.seal")
    assert [(e["from"], e["to"], e["run"]) for e in sealed_event] == [("locked", "sealed", RUN_ID)]
    assert audit.verify(ss).ok
    with pytest.raises(IllegalTransition, match="scheme 1 is sealed: 'lock' is not allowed from sealed"):
        from workflows.year.lifecycle import lock_scheme
        lock_scheme(ss, "DEMO-2024", actor=OFFICE, reason="again")


def test_the_year_is_not_sealed_while_an_appeal_against_any_of_its_runs_is_undecided(ps: Session) -> None:
    quarter = create_run(ps, "DEMO-2024", "2024-Q3", actor="office.li").run
    ids = [c.id for c in open_cases(ps, quarter.id, actor=OFFICE).opened]
    review_cases(ps, ids, actor=AUDITOR)
    approve_cases(ps, ids, actor=OFFICE)
    published = publish(ps, quarter.id, actor=OFFICE, now=T0).run
    firing = ps.scalars(select(Firing).where(Firing.run_id == published.id, Firing.effect == "deduction")
                        .order_by(Firing.seq)).first()
    assert firing is not None
    appeal = file_appeal(ps, published.id, firing.unit.code, [firing.seq], grounds="g", actor="rep", now=T0)
    with pytest.raises(Conflict) as refused:
        seal(ps, RUN_ID, actor=COMMITTEE, now=SEALED_AT)
    assert str(refused.value) == (f"scheme DEMO-2024 has undecided appeals ({appeal.id}): decide them "
                                  f"before the year run {RUN_ID} is sealed")


# --- after publication --------------------------------------------------------------------------


def test_a_units_correction_of_a_published_month_is_refused_with_what_to_do(ps: Session) -> None:
    target = find_target(ps, "C01", "CQ05")
    before = _report(ps, "2024-12").reported_value
    with pytest.raises(Conflict) as refused:
        submit_report(ps, target, "2024-12", Decimal("38.2"), source="C01", actor="c01.rep",
                      now=AFTER_PUBLICATION)
    assert str(refused.value) == (
        "the 2024-12 report of C01 × CQ05 was read by run 1 (2024), published at 2025-01-10T09:00:00Z: "
        "a correction is no longer accepted; file an appeal (申诉) against run 1, or ask the office to "
        "verify (核定) the value")
    assert _report(ps, "2024-12").reported_value == before


def test_a_month_no_published_run_read_is_still_reported_and_shows_old_to_new(ps: Session) -> None:
    target = find_target(ps, "C01", "CQ05")
    old = _report(ps, "2024-11").reported_value
    sub = submit_report(ps, target, "2024-11", Decimal("20.5"), source="C01", actor="c01.rep",
                        now=AFTER_PUBLICATION)
    assert (sub.created, sub.previous, sub.report.reported_value) == (False, old, Decimal("20.5"))
    last = _events(ps, "progress.report")[-1]
    assert (Decimal(str(last["previous"])), Decimal(str(last["value"]))) == (old, Decimal("20.5"))


def test_the_office_verifies_a_published_fact_with_a_reason_old_and_new_recorded(ps: Session) -> None:
    old = _report(ps, "2024-12").reported_value
    row = verify_report(ps, "C01", "CQ05", "2024-12", value=Decimal("38.2"), reason="统计局年报更正",
                        actor=OFFICE, now=AFTER_PUBLICATION)
    assert (row.claimed_value, row.value, row.reason) == (old, Decimal("38.2"), "统计局年报更正")
    last = _events(ps, "verification.progress_report")[-1]
    assert (Decimal(str(last["claimed"])), Decimal(str(last["value"])), last["reason"]) == (
        old, Decimal("38.2"), "统计局年报更正")


def test_a_target_adjustment_touching_a_published_month_is_refused(
    ps: Session, published: tuple[str, int]
) -> None:
    with pytest.raises(Conflict, match=r"^target C01 × CQ05: the request changes 2024-12, which run 1 "
                                       r"\(2024\), published at 2025-01-10T09:00:00Z read: the published "
                                       r"results keep the target"):
        request_adjustment(ps, "C01", "CQ05", actor="office.li", reason="r", annual_value=Decimal(40),
                           now=AFTER_PUBLICATION)
    target = find_target(ps, "C02", "CQ05")
    value = target.annual_value
    with pytest.raises(Conflict, match=rf"^target C02 × CQ05: adjustment {published[1]} changes 2024-12, "
                                       r"which run 1 \(2024\)"):
        approve_adjustment(ps, published[1], actor=OFFICE, now=AFTER_PUBLICATION)
    ps.expire_all()
    assert find_target(ps, "C02", "CQ05").annual_value == value


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_import_of_a_published_fact_is_refused_row_by_row(ps: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path, "late.csv", PROGRESS_HEADER + "DEMO-2024,C01,CQ05,2024-12,38.2,统计局,\n")
    with pytest.raises(ImportRejected) as refused:
        import_file(ps, path, "progress", actor=OFFICE, now=AFTER_PUBLICATION)
    assert [str(i) for i in refused.value.errors] == [
        "late.csv: sheet progress, row 2, column period: the 2024-12 report of C01 × CQ05 was read by run 1 "
        "(2024), published at 2025-01-10T09:00:00Z: a correction is no longer accepted; file an appeal "
        "(申诉) against run 1, or ask the office to verify (核定) the value"]
    assert ps.scalar(select(ProgressReport.id).where(ProgressReport.source == "统计局")) is None
    events = _csv(tmp_path, "events.csv", EVENTS_HEADER + "DEMO-2024,EV-JUNE,C01,honour,honour,省级先进,2024,"
                  "2024-06-01\n")
    with pytest.raises(ImportRejected) as refused:
        import_file(ps, events, "events", actor=OFFICE, now=AFTER_PUBLICATION)
    assert [str(i) for i in refused.value.errors] == [
        "events.csv: sheet events, row 2, column code: event EV-JUNE falls in run 1 (2024), published at "
        "2025-01-10T09:00:00Z: it is no longer accepted; file an appeal (申诉) against run 1, or ask the "
        "office to verify (核定) it"]


# --- after the cut-off --------------------------------------------------------------------------

LATE = dt.datetime(2025, 2, 28, 16, 0, tzinfo=dt.UTC)  # 2025-03-01 00:00 in Beijing: first refused


def test_the_cut_off_is_a_beijing_calendar_day(ps: Session) -> None:
    target = find_target(ps, "C01", "CQ05")
    submit_report(ps, target, "2024-11", Decimal("21"), source="C01", actor="c01.rep",
                  now=LATE - dt.timedelta(microseconds=1))
    with pytest.raises(Conflict) as refused:
        submit_report(ps, target, "2024-11", Decimal("22"), source="C01", actor="c01.rep", now=LATE)
    assert str(refused.value) == (
        "progress reports of scheme DEMO-2024 closed at the end of 2025-02-28 (its cut-off, UTC+8); today "
        "is 2025-03-01: the 2024-11 report of C01 × CQ05 is not accepted; ask the office to verify (核定) "
        "the value")
    assert _report(ps, "2024-11").reported_value == Decimal(21)


def test_an_import_after_the_cut_off_is_refused(ps: Session, tmp_path: Path) -> None:
    path = _csv(tmp_path, "events.csv",
                EVENTS_HEADER + "DEMO-2024,EV-LATE,C01,honour,honour,省级先进,2024,2025-03-02\n")
    with pytest.raises(ImportRejected) as refused:
        import_file(ps, path, "events", actor=OFFICE, now=LATE)
    assert [str(i) for i in refused.value.errors] == [
        "events.csv: sheet events, row 2, column code: events of scheme DEMO-2024 closed at the end of "
        "2025-02-28 (its cut-off, UTC+8); today is 2025-03-01: event EV-LATE is not accepted; record it in "
        "the next year's scheme (an honour documented after the cut-off carries over, 结转)"]
    assert ps.scalar(select(Event.id).where(Event.code == "EV-LATE")) is None


# --- after the seal -----------------------------------------------------------------------------


def test_after_the_seal_every_write_path_is_refused(ss: Session) -> None:
    target = find_target(ss, "C01", "CQ05")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: submit_report(ss, target, "2024-11", Decimal(1), source="C01", actor="c01.rep",
                               now=SEALED_AT),
         "the 2024-11 report of C01 × CQ05"),
        (lambda: verify_report(ss, "C01", "CQ05", "2024-12", value=Decimal(1), reason="r", actor=OFFICE),
         "the 2024-12 report of C01 × CQ05"),
        (lambda: request_adjustment(ss, "C01", "CQ05", actor="office.li", reason="r",
                                    annual_value=Decimal(9)),
         "target C01 × CQ05"),
        (lambda: raise_notices(ss, RUN_ID, actor=OFFICE), f"supervision notices from run {RUN_ID}"),
    ]
    claim = ss.scalars(select(Event.code).where(Event.kind == "project_claim")).first()
    assert claim is not None
    cases.append((lambda: verify_event(ss, claim, quantity=Decimal(0), reason="r", actor=OFFICE),
                  f"event {claim}"))
    for write, what in cases:
        with pytest.raises(Conflict) as refused:
            write()
        assert str(refused.value) == f"scheme DEMO-2024 is sealed: {what} can no longer change"
    with pytest.raises(Conflict, match=r"^scheme DEMO-2024 is sealed: no new run can be added$"):
        create_run(ss, "DEMO-2024", "2024-Q1", actor="office.li")


def test_the_backstop_refuses_a_forgotten_path(ss: Session) -> None:
    """Rows of a sealed scheme written directly through the ORM: each flush is refused."""
    report = _report(ss, "2024-12")
    with ss.begin_nested():
        report.reported_value = Decimal(99)
        with pytest.raises(Conflict, match=rf"^scheme DEMO-2024 is sealed: progress_report {report.id} can "):
            ss.flush()
        ss.rollback()
    pub = ss.scalars(select(Publication)).first()
    assert pub is not None
    with ss.begin_nested():
        pub.sealed_by = "someone"
        with pytest.raises(Conflict, match=rf"publication {pub.id} can no longer change"):
            ss.flush()
        ss.rollback()
    target = ss.scalars(select(Target)).first()
    assert target is not None
    with ss.begin_nested():
        ss.add(ProgressReport(target_id=target.id, period="2024-01", reported_value=Decimal(1), source="x",
                              submitted_at=SEALED_AT))
        with pytest.raises(Conflict, match=r"^scheme DEMO-2024 is sealed: no new progress_report can be"):
            ss.flush()
        ss.rollback()
    with ss.begin_nested():
        scheme = ss.scalars(select(Scheme)).one()
        scheme.status = "locked"
        with pytest.raises(Conflict, match="DEMO-2024 is sealed: scheme DEMO-2024 can no longer change"):
            ss.flush()
        ss.rollback()


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_report_refused_after_publication_cut_off_and_seal(
    published: tuple[str, int], sealed: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's clock is the real one (after every cut-off in these tests)."""
    with cli_runner(published[0], tmp_path, monkeypatch) as runner:
        read = runner.invoke(main, ["report", "C01", "CQ05", "2024-12", "38.2"], env={"KAOHE_ACTOR": "rep"})
        assert read.exit_code == 1 and "was read by run 1 (2024)" in read.output
        assert "file an appeal (申诉) against run 1, or ask the office to verify (核定)" in read.output
        late = runner.invoke(main, ["report", "C01", "CQ05", "2024-11", "1"], env={"KAOHE_ACTOR": "rep"})
        assert late.exit_code == 1
        assert "progress reports of scheme DEMO-2024 closed at the end of 2025-02-28" in late.output
        shown = runner.invoke(main, ["scheme", "show", "DEMO-2024"])
        assert shown.exit_code == 0 and "in force [locked]" in shown.output
        assert "scheme.lock: draft → locked" in shown.output and "run 1 (2024) published" in shown.output
    with cli_runner(sealed, tmp_path, monkeypatch) as runner:
        out = runner.invoke(main, ["report", "C01", "CQ05", "2024-11", "1"], env={"KAOHE_ACTOR": "rep"})
        assert out.exit_code == 1
        assert "DEMO-2024 is sealed: the 2024-11 report of C01 × CQ05 can no longer change" in out.output
        verify = runner.invoke(main, ["verify", "report", "C01", "CQ05", "2024-12", "--value", "1",
                                      "--reason", "r"], env={"KAOHE_ACTOR": OFFICE})
        assert verify.exit_code == 1 and "is sealed" in verify.output
        path = _csv(tmp_path, "p.csv", PROGRESS_HEADER + "DEMO-2024,C01,CQ05,2024-01,1,统计局,\n")
        imported = runner.invoke(main, ["import", str(path), "--kind", "progress"])
        assert imported.exit_code == 1
        assert "scheme DEMO-2024 is sealed: nothing can be imported into it" in imported.output
        shown = runner.invoke(main, ["scheme", "show", "DEMO-2024"])
        assert "sealed [sealed]" in shown.output and "scheme.seal: locked → sealed" in shown.output


def test_cli_lock_puts_a_draft_scheme_in_force(
    demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as session, session.begin():
        account(session, "reporter.c01", "reporter", "C01")
    with cli_runner(demo_url, tmp_path, monkeypatch) as runner:
        refused = runner.invoke(main, ["scheme", "lock", "DEMO-2024", "--reason", "r"],
                                env={"KAOHE_ACTOR": "reporter.c01"})
        assert refused.exit_code == 1 and "lacks the role office that scheme.lock needs" in refused.output
        done = runner.invoke(main, ["scheme", "lock", "DEMO-2024", "--reason", "江政办〔2024〕1号"],
                             env={"KAOHE_ACTOR": "office.li"})
        assert done.exit_code == 0 and "is in force" in done.output
        late = runner.invoke(main, ["report", "C01", "CQ05", "2024-11", "1"], env={"KAOHE_ACTOR": "rep"})
        assert late.exit_code == 1 and "closed at the end of 2024-12-31" in late.output
    with Session(engine) as session:
        assert session.scalars(select(Scheme.status)).one() == "locked"
        assert [e["reason"] for e in _events(session, "scheme.lock")] == ["江政办〔2024〕1号"]
    engine.dispose()
