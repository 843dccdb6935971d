"""Every stored state is bound into the ledger: a direct edit, deletion or forged row in any
covered table is named by ``verify`` (table, row, binding event), and publish and seal refuse a
state the ledger does not prove.

One demo year is built once for the module, through the workflows, so that every covered table
holds rows: the year run published, appealed and decided, accounts with roles, unit scopes and a
token, an approved target adjustment, verifications, notices, and a quarterly run whose cases are
all but one decided. Each test tampers in a transaction on its own connection and rolls it back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, Table, func, insert, select, text, update
from sqlalchemy.orm import Session

import audit
from audit.bindings import bindings_of
from audit.rows import EXCLUDED, VOLATILE, covered_tables, key_text
from store import (
    Account,
    AccountRole,
    AuditEvent,
    Base,
    Case,
    CaseEvent,
    Category,
    Cut,
    Firing,
    Indicator,
    ProgressReport,
    Publication,
    Run,
    Scheme,
    Target,
    Unit,
    make_engine,
)
from store import migrate as store_migrate
from tests.cases.conftest import _copy, _drop
from tests.conftest import IS_POSTGRES
from workflows import accounts
from workflows.accounts import authenticate, create_account, get_account, issue_token
from workflows.cases import (
    approve_cases,
    decide_appeal,
    file_appeal,
    open_cases,
    publish,
    review_cases,
    seal,
    take_appeal,
)
from workflows.demo import load_demo
from workflows.errors import Conflict
from workflows.packs import approve_pack, store_pack
from workflows.runs import create_run, get_run, replay
from workflows.year import approve_adjustment, raise_notices, request_adjustment, verify_event, verify_report

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "rulepacks" / "demo-city-2024.yaml"
OFFICE, OFFICE2, AUDITOR, REVIEWER, COMMITTEE = "office.zhao", "office.qian", "auditor.chen", \
    "reviewer.sun", "committee.wu"
REPORTER = "reporter.c01"
PROPOSER = "office.li"
T_ADJUST = dt.datetime(2024, 7, 1, 9, 0, tzinfo=dt.UTC)
T_VERIFY = dt.datetime(2024, 4, 20, 9, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)


def _build(engine: Engine) -> dict[str, int]:
    """The demo year through the workflows, one committed transaction per step, as people would."""
    steps: dict[str, int] = {}

    def step() -> Session:
        return Session(engine, expire_on_commit=False)

    with step() as s, s.begin():
        load_demo(s, ROOT / "demo" / "city")
        store_pack(s, PACK.read_text(encoding="utf-8"), PACK.name, actor=PROPOSER)
        approve_pack(s, "demo-city-2024@1", approver="director.wang")
    with step() as s, s.begin():
        for name, role in ((OFFICE, "office"), (OFFICE2, "office"), (AUDITOR, "auditor"),
                           (REVIEWER, "reviewer"), (COMMITTEE, "committee")):
            create_account(s, name, "long-enough-pw", display_name=name, roles=[role], actor="admin")
        create_account(s, REPORTER, "long-enough-pw", display_name="C01", roles=["reporter"],
                       actor="admin", scheme_code="DEMO-2024", unit_codes=["C01"])
        issue_token(s, get_account(s, OFFICE), "nightly import", actor="admin")
    with step() as s, s.begin():
        adjustment = request_adjustment(s, "C01", "CK02", actor=REPORTER, reason="flood damage",
                                        annual_value=Decimal(40), evidence_ref="市政发〔2024〕12号",
                                        now=T_ADJUST)
    with step() as s, s.begin():
        approve_adjustment(s, adjustment.id, actor=OFFICE, now=T_ADJUST)
    with step() as s, s.begin():
        verify_report(s, "C01", "CK01", "2024-03", value=Decimal("5.1"), reason="统计局 data",
                      actor=OFFICE, now=T_VERIFY)
        verify_event(s, "PRJ-02", quantity=Decimal(900), reason="below the line", actor=OFFICE,
                     now=T_VERIFY)
    with step() as s, s.begin():
        steps["year"] = create_run(s, "DEMO-2024", "2024", actor=PROPOSER).run.id
    with step() as s, s.begin():
        raise_notices(s, steps["year"], actor=OFFICE, now=T0)
        ids = [c.id for c in open_cases(s, steps["year"], actor=OFFICE).opened]
        review_cases(s, ids, actor=AUDITOR)
        approve_cases(s, ids, actor=OFFICE2)
    with step() as s, s.begin():
        publish(s, steps["year"], actor=OFFICE, now=T0)
    with step() as s, s.begin():
        cited = s.scalar(select(Firing.seq).join(Unit, Firing.unit_id == Unit.id).where(
            Firing.run_id == steps["year"], Unit.code == "C03", Firing.effect == "deduction").limit(1))
        assert cited is not None
        appeal = file_appeal(s, steps["year"], "C03", [cited], grounds="another county",
                             evidence_ref="doc:2024-118", actor="c03.rep", now=T0 + dt.timedelta(days=1))
        take_appeal(s, appeal.id, actor=REVIEWER)
        decide_appeal(s, appeal.id, "upheld", actor=REVIEWER, reason="the document names C03",
                      now=T0 + dt.timedelta(days=2))
    with step() as s, s.begin():
        steps["quarter"] = create_run(s, "DEMO-2024", "2024-Q3", actor=PROPOSER).run.id
        ids = [c.id for c in open_cases(s, steps["quarter"], actor=OFFICE).opened]
        review_cases(s, ids, actor=AUDITOR)
        approve_cases(s, ids[1:], actor=OFFICE2)  # the first stays reviewed: not yet decided
        steps["undecided"] = ids[0]
    return steps


@pytest.fixture(scope="module")
def year(template_url: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, int]]]:
    url = _copy(template_url, tmp_path_factory.mktemp("rows"))
    engine = make_engine(url)
    store_migrate.upgrade(engine)
    with pytest.MonkeyPatch.context() as patch:  # argon2id still, at its cheapest: rows are the point
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        steps = _build(engine)
        yield engine, steps
    engine.dispose()
    _drop(url)


@pytest.fixture
def tx(year: tuple[Engine, dict[str, int]]) -> Iterator[Session]:
    """A session in a transaction on its own connection, rolled back after the test."""
    with year[0].connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            trans.rollback()


def _behind_the_back(conn: Connection) -> None:
    """Let a DBA's edit leave dangling references until the rollback (foreign keys, and the
    append-only triggers on PostgreSQL, are what a superuser would switch off)."""
    if IS_POSTGRES:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        conn.execute(text("PRAGMA defer_foreign_keys = ON"))


def _first(conn: Connection, table: Table, *, last: bool = False) -> dict[str, Any]:
    pk = list(table.primary_key.columns)
    order = [c.desc() for c in pk] if last else pk
    row = conn.execute(select(table).order_by(*order).limit(1)).mappings().first()
    assert row is not None, f"{table.name} has no rows: the module's year must fill every covered table"
    return dict(row)


def _key(table: Table, row: dict[str, Any]) -> str:
    return key_text(tuple(row[c.name] for c in table.primary_key.columns))


def _where(table: Table, row: dict[str, Any]) -> Any:
    pk = list(table.primary_key.columns)
    clause = pk[0] == row[pk[0].name]
    for column in pk[1:]:
        clause = clause & (column == row[column.name])
    return clause


def _checked(table: Table, column: Any) -> bool:
    return any(column.name in str(getattr(c, "sqltext", "")) for c in table.constraints)


def _unique(table: Table, column: Any) -> bool:
    return bool(column.unique) or any(
        column.name in c.columns for c in table.constraints  # type: ignore[attr-defined]
        if c.__class__.__name__ == "UniqueConstraint")


def _changed(value: Any, column: Any) -> Any:
    """A different value of the same type, inside the column's limits."""
    if value is None:
        return {"String": "x", "Text": "x", "Integer": 1, "ExactDecimal": Decimal(1)}.get(
            column.type.__class__.__name__, "x")
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, Decimal):
        return value - Decimal("0.0001") if value > 0 else value + Decimal("0.0001")
    if isinstance(value, dt.datetime):
        return value - dt.timedelta(seconds=1)
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=1)
    if isinstance(value, dict):
        return {**value, "forged": "1"}
    if isinstance(value, list):
        return [*value, "forged"]
    assert isinstance(value, str)
    length = getattr(column.type, "length", None) or 1000
    return (value + "x")[-length:] if len(value) < length else value[:-1] + ("y" if value[-1] != "y" else "z")


def _field(table: Table, row: dict[str, Any]) -> str:
    """A column to edit: not part of the key, not volatile, not constrained, preferably text."""
    skip = VOLATILE.get(table.name, frozenset())
    usable = [c for c in table.columns if not c.primary_key and c.name not in skip
              and not c.foreign_keys and not _checked(table, c) and not _unique(table, c)
              and row[c.name] is not None]
    usable.sort(key=lambda c: (not isinstance(row[c.name], str), c.name))
    if not usable:  # only references or empty values left (appeal_firing …): fill a value in
        usable = [c for c in table.columns if not c.primary_key and c.name not in skip
                  and not c.foreign_keys]
    if not usable:  # all key (account_role, account_unit): edit the key itself
        usable = [c for c in table.columns if c.primary_key and not isinstance(row[c.name], str)]
    return usable[-1].name if usable[-1].primary_key else usable[0].name


def _forged(conn: Connection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` under a key nobody bound, its unique columns made unique again."""
    new = dict(row)
    pk = list(table.primary_key.columns)
    taken = {tuple(r) for r in conn.execute(select(*pk))}
    int_parts = [c for c in pk if isinstance(row[c.name], int)]
    column = int_parts[-1] if int_parts else pk[-1]
    top = conn.execute(select(func.max(column))).scalar() or 0
    new[column.name] = (top + 1000) if isinstance(row[column.name], int) else "admin"
    assert tuple(new[c.name] for c in pk) not in taken
    for constraint in table.constraints:
        if constraint.__class__.__name__ != "UniqueConstraint":
            continue
        cols = [c for c in constraint.columns if not c.primary_key]  # type: ignore[attr-defined]
        if cols:
            new[cols[-1].name] = _far(row[cols[-1].name], cols[-1])
    for c in table.columns:
        if c.unique and not c.primary_key:
            new[c.name] = _far(row[c.name], c)
    return new


def _far(value: Any, column: Any) -> Any:
    """A value no stored row has (a forged row's copy of a unique column)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value + 100_000
    return _changed(value, column)


COVERED = [t.name for t in covered_tables()]


def _expect(found: audit.VerifyReport | tuple[audit.Break | None, int], kind: str, table: str,
            row: str) -> audit.Break:
    """The first break ``verify`` (or its row check alone, :func:`audit.check_rows`) found."""
    brk = found.first_break if isinstance(found, audit.VerifyReport) else found[0]
    assert brk is not None, "verify found nothing"
    assert (brk.kind, brk.table, brk.row) == (kind, table, row), brk.detail
    return brk


def test_every_table_is_covered_or_excluded_for_a_stated_reason(tx: Session) -> None:
    assert set(Base.metadata.tables) == set(COVERED) | set(EXCLUDED)
    assert not set(COVERED) & set(EXCLUDED)
    assert set(COVERED) >= {"publication", "run_case", "case_event", "appeal", "appeal_firing",
                            "supervision_notice", "notice_event", "target_adjustment",
                            "target_adjustment_event", "verification", "progress_report", "target",
                            "target_co_unit", "event", "account", "account_role", "account_unit",
                            "api_token", "rule_pack", "run", "scheme", "category", "section", "unit",
                            "indicator"}


def test_the_built_year_verifies_with_every_covered_table_filled(tx: Session) -> None:
    report = audit.verify(tx)
    assert report.ok, report.first_break
    conn = tx.connection()
    counts = {name: conn.execute(select(func.count()).select_from(table)).scalar()
              for name, table in ((t.name, t) for t in covered_tables())}
    empty = sorted(name for name, n in counts.items() if not n)
    assert not empty, f"add a step to _build that writes {empty}: the tamper matrix needs a row of each"
    assert report.rows_checked == sum(counts.values())  # type: ignore[arg-type]


@pytest.mark.parametrize("table_name", COVERED)
def test_an_edited_field_is_named(tx: Session, table_name: str) -> None:
    conn = tx.connection()
    table = next(t for t in covered_tables() if t.name == table_name)
    row = _first(conn, table)
    _behind_the_back(conn)
    name = _field(table, row)
    change = _far if table.c[name].primary_key else _changed
    edited = {**row, name: change(row[name], table.c[name])}
    conn.execute(update(table).where(_where(table, row)).values({name: edited[name]}))
    if table_name == "run":  # the fields run.create binds are checked with the chain
        brk = audit.verify(tx).first_break
        assert brk is not None and brk.kind == "run_record_mismatch"
    elif table.c[name].primary_key:  # a key edited: the row under the new key was never bound
        _expect(audit.check_rows(tx), "row_unbound", table_name, _key(table, edited))
    else:
        brk = _expect(audit.check_rows(tx), "row_changed", table_name, _key(table, row))
        assert brk.seq > 0
        assert f"{table_name} {_key(table, row)} was changed after event {brk.seq}" in brk.detail


@pytest.mark.parametrize("table_name", COVERED)
def test_a_deleted_row_is_named(tx: Session, table_name: str) -> None:
    conn = tx.connection()
    table = next(t for t in covered_tables() if t.name == table_name)
    row = _first(conn, table, last=True)  # the last row: the least referenced
    _behind_the_back(conn)
    conn.execute(table.delete().where(_where(table, row)))
    if table_name in ("run", "rule_pack"):  # run.create binds both: the run is checked first
        brk = audit.verify(tx).first_break
        assert brk is not None and brk.kind == "run_missing"
        return
    brk = _expect(audit.check_rows(tx), "row_deleted", table_name, _key(table, row))
    assert f"bound at event {brk.seq} is no longer stored" in brk.detail


@pytest.mark.parametrize("table_name", COVERED)
def test_a_forged_row_is_named(tx: Session, table_name: str) -> None:
    conn = tx.connection()
    table = next(t for t in covered_tables() if t.name == table_name)
    row = _first(conn, table)
    _behind_the_back(conn)
    forged = _forged(conn, table, row)
    conn.execute(insert(table).values(forged))
    brk = _expect(audit.check_rows(tx), "row_unbound", table_name, _key(table, forged))
    assert brk.seq == 0 and "no event of the ledger bound it" in brk.detail
    assert "kaohe audit adopt" not in brk.detail  # the ledger binds rows: nothing to adopt


def test_verify_runs_the_row_check_the_matrix_exercises(tx: Session) -> None:
    """The matrix above calls verify's row check alone; verify itself names the same rows."""
    conn = tx.connection()
    table = next(t for t in covered_tables() if t.name == "target")
    row = _first(conn, table)
    _behind_the_back(conn)
    forged = _forged(conn, table, row)
    for kind, key, tamper in (
            ("row_changed", _key(table, row), update(table).where(_where(table, row)).values(
                {_field(table, row): _changed(row[_field(table, row)], table.c[_field(table, row)])})),
            ("row_deleted", _key(table, row), table.delete().where(_where(table, row))),
            ("row_unbound", _key(table, forged), insert(table).values(forged))):
        with tx.begin_nested() as nested:
            conn.execute(tamper)
            report = audit.verify(tx)
            assert report.first_break == audit.check_rows(tx)[0]
            brk = _expect(report, kind, "target", key)
            assert brk.seq == (0 if kind == "row_unbound" else _last_binding(tx, "target", key))
            nested.rollback()


# The direct edits the issue reports verify missed, one by one.

def _sql(tx: Session, sql: str, **params: Any) -> None:
    conn = tx.connection()
    _behind_the_back(conn)
    conn.execute(text(sql), params)
    tx.expire_all()


def test_a_case_approved_in_sql_is_named_and_publish_refuses_it(
        tx: Session, year: tuple[Engine, dict[str, int]]) -> None:
    steps = year[1]
    quarter, case_id = steps["quarter"], steps["undecided"]
    with pytest.raises(Conflict, match=r"not yet approved or rejected \(1 reviewed"), tx.begin_nested():
        publish(tx, quarter, actor=OFFICE, now=T0)
    _sql(tx, "UPDATE run_case SET state = 'approved', decision = 'rejected', approver = :who "
             "WHERE id = :id", who=OFFICE2, id=case_id)
    with pytest.raises(Conflict) as refused:
        publish(tx, quarter, actor=OFFICE, now=T0)
    assert (f"run {quarter} cannot be published: run_case {case_id} was changed after event"
            in str(refused.value))
    assert tx.scalar(select(func.count()).select_from(Run)) == 2  # no superseding run was made
    _expect(audit.verify(tx), "row_changed", "run_case", str(case_id))


def test_a_run_sealed_in_sql_is_named_and_seal_refuses_a_tampered_case(
        tx: Session, year: tuple[Engine, dict[str, int]]) -> None:
    run_id = year[1]["year"]
    case_id = tx.scalar(select(Case.id).where(Case.run_id == run_id).order_by(Case.id).limit(1))
    _sql(tx, "UPDATE run_case SET approver = 'nobody' WHERE id = :id", id=case_id)
    with pytest.raises(Conflict, match=f"run {run_id} cannot be sealed: run_case {case_id} was changed"):
        seal(tx, run_id, actor=COMMITTEE, now=T0 + dt.timedelta(days=8))
    _sql(tx, "UPDATE run SET status = 'sealed' WHERE id = :id", id=run_id)
    _expect(audit.verify(tx), "row_changed", "run", str(run_id))


def test_a_case_events_actor_changed_or_deleted_is_named(tx: Session) -> None:
    event_id = tx.scalar(select(CaseEvent.id).where(CaseEvent.action == "approve").limit(1))
    with tx.begin_nested() as nested:
        _sql(tx, "UPDATE case_event SET actor = 'director.wang' WHERE id = :id", id=event_id)
        _expect(audit.verify(tx), "row_changed", "case_event", str(event_id))
        nested.rollback()
    _sql(tx, "DELETE FROM case_event WHERE id = :id", id=event_id)
    _expect(audit.verify(tx), "row_deleted", "case_event", str(event_id))


def test_a_reporter_made_admin_or_a_password_swapped_is_named(tx: Session) -> None:
    reporter = tx.scalar(select(Account.id).where(Account.username == REPORTER))
    office = tx.scalar(select(Account.id).where(Account.username == OFFICE))
    with tx.begin_nested() as nested:
        _sql(tx, "UPDATE account_role SET role = 'admin' WHERE account_id = :id", id=reporter)
        _expect(audit.verify(tx), "row_unbound", "account_role", f"{reporter}/admin")
        nested.rollback()
    _sql(tx, "UPDATE account SET password_hash = (SELECT password_hash FROM account WHERE id = :o) "
             "WHERE id = :r", o=office, r=reporter)
    _expect(audit.verify(tx), "row_changed", "account", str(reporter))


def test_a_login_changes_only_volatile_columns_and_binds_nothing(tx: Session) -> None:
    audit.rows.settle(tx)
    binds = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "rows.bind")
    before = tx.scalar(binds)
    authenticate(tx, OFFICE, "wrong-password", threshold=5, lock_minutes=15)
    assert audit.rows.settle(tx) is None  # failed_logins moved; nothing a person decided
    assert before == tx.scalar(binds) and audit.verify(tx).ok


def test_a_publication_edited_in_sql_is_named(tx: Session) -> None:
    pub = tx.scalars(select(Publication)).first()
    assert pub is not None
    _sql(tx, "UPDATE publication SET published_by = 'someone.else' WHERE id = :id", id=pub.id)
    _expect(audit.verify(tx), "row_changed", "publication", str(pub.id))


def test_a_changed_cut_is_named_by_verify_and_by_replay(
        tx: Session, year: tuple[Engine, dict[str, int]]) -> None:
    run_id = year[1]["year"]
    cut = tx.scalars(select(Cut).where(Cut.run_id == run_id).order_by(Cut.seq)).first()
    assert cut is not None, "the year run has cuts"
    _sql(tx, "UPDATE cut SET text_en = 'nothing was cut' WHERE id = :id", id=cut.id)
    brk = audit.verify(tx).first_break
    assert brk is not None and (brk.kind, brk.run_id) == ("run_root_mismatch", run_id)
    assert "stored cuts" in brk.detail
    report, _ = replay(tx, get_run(tx, run_id))
    assert any(d.startswith(f"cut {cut.seq} ") for d in report.differences), report.differences
    assert not report.identical


def test_a_write_through_the_app_after_a_tamper_still_shows_in_the_firing_tables(tx: Session) -> None:
    """Firings are bound by run.create: editing one is a run root mismatch, as before."""
    firing = tx.scalars(select(Firing).order_by(Firing.id)).first()
    assert firing is not None
    _sql(tx, "UPDATE firing SET text_en = 'x' WHERE id = :id", id=firing.id)
    brk = audit.verify(tx).first_break
    assert brk is not None and brk.kind == "run_root_mismatch"


def test_adopt_binds_rows_loaded_in_bulk_and_refuses_a_changed_one(tx: Session) -> None:
    conn = tx.connection()
    table = next(t for t in covered_tables() if t.name == "event")
    forged = _forged(conn, table, _first(conn, table))
    conn.execute(insert(table).values(forged))
    assert audit.verify(tx).first_break is not None
    events = audit.adopt(tx, actor="admin.upgrade")
    assert len(events) == 1 and events[0].action == "rows.adopt" and events[0].actor == "admin.upgrade"
    payload = json.loads(events[0].payload)
    assert payload["adopted"].startswith("adopted at upgrade")
    assert list(payload["tables"]) == ["event"] and list(payload["tables"]["event"]) == [str(forged["id"])]
    assert audit.verify(tx).ok
    case_id = tx.scalar(select(Case.id).order_by(Case.id).limit(1))
    _sql(tx, "UPDATE run_case SET approver = 'nobody' WHERE id = :id", id=case_id)
    with pytest.raises(ValueError, match=re.escape(f"run_case {case_id} was changed after event")):
        audit.adopt(tx, actor="admin.upgrade")


def test_an_unbound_database_is_told_to_adopt(engine: Engine) -> None:
    with engine.begin() as conn:  # rows loaded in bulk, as bench/generate.py does
        conn.execute(insert(Scheme).values(code="OLD-2023", year=2023, name="旧方案", status="draft",
                                           cutoff_date=dt.date(2024, 2, 28), publication_days=7,
                                           appeal_days=5))
        conn.execute(insert(Category).values(scheme_id=1, code="county", name_zh="县区",
                                             name_en="Counties", grade_rules={"good_min": "80"}))
    with Session(engine) as s, s.begin():
        brk = audit.verify(s).first_break
        assert brk is not None and (brk.kind, brk.table, brk.row) == ("row_unbound", "category", "1")
        assert "`kaohe audit adopt`" in brk.detail
        adopted = audit.adopt(s, actor="admin")
        assert [e.subject_id for e in adopted] == ["category", "scheme"]  # one event per table
        assert json.loads(adopted[0].payload)["tables"] == {  # docs/audit-format.md §7's example
            "category": {"1": "052c3ff63c54062de6819e7d69ffdccc006c41b63c5e605ba0f3b3c6b52d4c90"}}
        assert audit.verify(s).ok
        s.scalars(select(Category)).one().name_en = "Counties and districts"
        bind = audit.rows.settle(s)  # docs/audit-format.md §7's rows.bind example, byte for byte
        assert bind is not None and (bind.actor, bind.subject_type, bind.subject_id) == (
            "system", "rows", "category")
        assert bind.payload == (
            '{"events":[],"prior":{"category":{"1":"052c3ff63c54062de6819e7d69ffdccc006c41b63c5e605ba0f3b3c6b52d4c90"}},'
            '"tables":{"category":{"1":"bae48e7eb164a1e7d8bd3b0afd9a27ea928ed37552078d53c1307c666e47d991"}}}')
        assert audit.verify(s).ok


def test_a_core_insert_through_a_session_is_refused(tx: Session) -> None:
    with pytest.raises(TypeError, match="INSERT into account_role through a session is not bound"):
        tx.execute(insert(AccountRole).values(account_id=1, role="admin"))


def test_a_transaction_ends_with_one_binding_by_its_actor_listing_its_events(tx: Session) -> None:
    assert audit.verify(tx).ok  # settles nothing, drops nothing
    account = create_account(tx, "reporter.c02", "long-enough-pw", display_name="C02",
                             roles=["reporter"], actor="admin.li", scheme_code="DEMO-2024",
                             unit_codes=["C02"])
    created = tx.scalars(select(AuditEvent).where(AuditEvent.action == "account.create")
                         .order_by(AuditEvent.seq.desc()).limit(1)).one()
    bind = audit.rows.settle(tx)
    assert bind is not None and (bind.action, bind.actor) == ("rows.bind", "admin.li")
    assert (bind.subject_type, bind.subject_id, bind.seq) == ("account", str(account.id), created.seq + 1)
    payload = json.loads(bind.payload)
    assert payload["events"] == [created.seq]
    assert sorted(payload["tables"]) == ["account", "account_role", "account_unit"]
    unit_id = account.units[0].unit_id
    assert list(payload["tables"]["account_role"]) == [f"{account.id}/reporter"]
    assert list(payload["tables"]["account_unit"]) == [f"{account.id}/{unit_id}"]
    assert audit.rows.settle(tx) is None and audit.verify(tx).ok


# A row changed behind the ledger's back and then written again through the application: the
# binding of the application's write says what it found, which is not what the ledger left.

def test_every_binding_says_what_each_of_its_rows_was_before(tx: Session) -> None:
    payloads = [json.loads(p) for p in tx.scalars(
        select(AuditEvent.payload).where(AuditEvent.action == "rows.bind"))]
    assert payloads
    for payload in payloads:
        assert {t: sorted(rows) for t, rows in payload["prior"].items()} == {
            t: sorted(rows) for t, rows in payload["tables"].items()}
    assert any(isinstance(d, str) for p in payloads for rows in p["prior"].values()
               for d in rows.values()), "the year's transactions also change rows stored before them"


def _last_binding(tx: Session, table: str, row: str) -> int:
    return bindings_of(tx, [table]).tables[table][row][1]


def test_a_report_edited_in_sql_then_verified_through_the_app_is_named(tx: Session) -> None:
    report_id = tx.scalar(
        select(ProgressReport.id).join(Target, ProgressReport.target_id == Target.id)
        .join(Unit, Target.unit_id == Unit.id).join(Indicator, Target.indicator_id == Indicator.id)
        .where(Unit.code == "C01", Indicator.code == "CK01", ProgressReport.period == "2024-04"))
    assert report_id is not None
    before = _last_binding(tx, "progress_report", str(report_id))
    _sql(tx, "UPDATE progress_report SET reported_value = 99 WHERE id = :id", id=report_id)
    verify_report(tx, "C01", "CK01", "2024-04", value=Decimal("11.3"), reason="统计局 data",
                  actor=OFFICE, now=T_VERIFY)
    bind = audit.rows.settle(tx)
    assert bind is not None
    brk = _expect(audit.verify(tx), "row_rebound", "progress_report", str(report_id))
    assert brk.seq == bind.seq > before
    assert (f"progress_report {report_id} was changed behind the ledger's back before event "
            f"{bind.seq}: event {bind.seq} found it as ") in brk.detail
    assert f"but event {before} bound it as " in brk.detail


def test_a_case_edited_in_sql_then_approved_through_the_app_is_named_and_not_published(
        tx: Session, year: tuple[Engine, dict[str, int]]) -> None:
    quarter, case_id = year[1]["quarter"], year[1]["undecided"]
    before = _last_binding(tx, "run_case", str(case_id))
    _sql(tx, "UPDATE run_case SET adjusted_points = 0 WHERE id = :id", id=case_id)
    approve_cases(tx, [case_id], actor=OFFICE2)
    bind = audit.rows.settle(tx)
    assert bind is not None
    assert audit.unproven(tx, {"run_case": [(case_id,)]}) is not None
    with pytest.raises(Conflict) as refused:
        publish(tx, quarter, actor=OFFICE, now=T0)
    assert (f"run {quarter} cannot be published: run_case {case_id} was changed behind the "
            f"ledger's back before event {bind.seq}") in str(refused.value)
    brk = _expect(audit.verify(tx), "row_rebound", "run_case", str(case_id))
    assert brk.seq == bind.seq and f"but event {before} bound it as " in brk.detail


def test_a_row_deleted_in_sql_then_written_again_by_the_app_is_named(tx: Session) -> None:
    reporter = tx.scalars(select(Account).where(Account.username == REPORTER)).one()
    key = f"{reporter.id}/reporter"
    before = _last_binding(tx, "account_role", key)
    _sql(tx, "DELETE FROM account_role WHERE account_id = :id", id=reporter.id)
    tx.add(AccountRole(account_id=reporter.id, role="reporter"))
    bind = audit.rows.settle(tx)
    assert bind is not None
    brk = _expect(audit.verify(tx), "row_rebound", "account_role", key)
    assert brk.seq == bind.seq
    assert f"event {bind.seq} found it missing, but event {before} bound it as " in brk.detail


def test_a_binding_without_prior_states_is_still_read(tx: Session) -> None:
    """Bindings recorded before they said what rows were before: replayed as they are."""
    bindings = audit.bindings.Bindings()
    assert bindings.add(1, '{"events":[],"tables":{"unit":{"1":"' + "a" * 64 + '"}}}') is None
    assert bindings.add(2, '{"events":[],"tables":{"unit":{"1":"' + "b" * 64 + '"}}}') is None
    assert bindings.tables["unit"]["1"] == ("b" * 64, 2) and not bindings.rebound
