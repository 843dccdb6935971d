"""The hash chain: recording, the exact hashed bytes, transactions, concurrency and tampering."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import audit
from audit.chain import hash_input
from engine.values.canonical import canonical_json
from store import AuditEvent, Scheme, make_session_factory
from store import migrate as store_migrate
from tests.audit_support import record_events, tamper
from tests.conftest import IS_POSTGRES
from tests.factories import make_scheme_with_category

# The worked example of docs/audit-format.md: a third party's verifier must reproduce these bytes.
DOC_PAYLOAD = '{"case_id":7,"from":"proposed","points":"-0.5","reason":"材料不全\\n补报","to":"reviewed"}'
DOC_HEADER = (
    '{"action":"case.transition","actor":"zhang.san","format":"kaohe-audit-1",'
    '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"recorded_at":"2025-01-15T09:30:00.120000Z","seq":1,"subject_id":"7","subject_type":"case"}'
)
DOC_HASH_1 = "4987aaada4378e8759ddd772fb8e91370bfc389b3baf40cf615bb80374f0318f"
DOC_HASH_2 = "3a24b2ac8a8624a19b0c94c22a9b0587b1757b8555bfe339f5e549dfa5bfff89"


def test_the_documented_example_hashes_as_documented() -> None:
    payload = canonical_json({"case_id": 7, "from": "proposed", "to": "reviewed",
                              "reason": "材料不全\n补报", "points": Decimal("-0.50")}).decode()
    assert payload == DOC_PAYLOAD
    first: dict[str, Any] = dict(seq=1, recorded_at=dt.datetime(2025, 1, 15, 9, 30, 0, 120000, tzinfo=dt.UTC),
                 actor="zhang.san", action="case.transition", subject_type="case", subject_id="7",
                 payload=payload, prev_hash=audit.GENESIS_HASH)
    assert hash_input(**first) == DOC_HEADER.encode() + b"\n" + DOC_PAYLOAD.encode()
    assert audit.event_hash(**first) == DOC_HASH_1
    second: dict[str, Any] = dict(
        seq=2, recorded_at=dt.datetime(2025, 1, 15, 9, 31, tzinfo=dt.UTC), actor="li.si",
        action="auth.login", subject_type="user", subject_id="li.si", payload="{}", prev_hash=DOC_HASH_1)
    assert audit.event_hash(**second) == DOC_HASH_2


@given(actor=st.text(min_size=1), subject=st.text(), seq=st.integers(min_value=1, max_value=2**63 - 1),
       micros=st.integers(min_value=0, max_value=999_999))
def test_the_header_is_canonical_json(actor: str, subject: str, seq: int, micros: int) -> None:
    """hash_input encodes the header itself for speed; it must equal engine.values.canonical's bytes."""
    at = dt.datetime(2025, 3, 1, 23, 59, 59, micros, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    data = hash_input(seq=seq, recorded_at=at, actor=actor, action="case.transition", subject_type="case",
                      subject_id=subject, payload="{}", prev_hash=audit.GENESIS_HASH)
    header = canonical_json({"action": "case.transition", "actor": actor, "format": audit.FORMAT,
                             "prev_hash": audit.GENESIS_HASH,
                             "recorded_at": f"2025-03-01T15:59:59.{micros:06d}Z", "seq": seq,
                             "subject_id": subject, "subject_type": "case"})
    assert data == header + b"\n{}"
    assert data.index(b"\n") == len(header)


def test_recording_builds_a_valid_chain(session: Session) -> None:
    events = record_events(session, 5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[0].payload == canonical_json(
        {"from": "proposed", "to": "reviewed", "reason": "核实第1项", "points": Decimal("-0.5")}
    ).decode()
    assert events[2].subject_id == "3"
    report = audit.verify(session)
    assert report.ok and report.first_break is None
    assert (report.events_checked, report.runs_checked) == (5, 0)
    assert (report.head_seq, report.head_hash) == (5, events[-1].hash)


def test_stored_rows_hash_to_their_hash(session: Session) -> None:
    """What comes back from the database (times, text) is exactly what was hashed."""
    record_events(session, 3)
    session.expire_all()
    for event in session.scalars(select(AuditEvent)):
        assert event.recorded_at.tzinfo is not None
        assert audit.event_hash(
            seq=event.seq, recorded_at=event.recorded_at, actor=event.actor, action=event.action,
            subject_type=event.subject_type, subject_id=event.subject_id, payload=event.payload,
            prev_hash=event.prev_hash,
        ) == event.hash


def test_an_empty_ledger_verifies(session: Session) -> None:
    report = audit.verify(session)
    assert report.ok and report.events_checked == 0 and report.head_hash == audit.GENESIS_HASH


def test_verify_pages_through_long_chains(session: Session) -> None:
    record_events(session, 23)
    report = audit.verify(session, batch_size=5)
    assert report.ok and report.events_checked == 23


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("action", "CaseTransition", "noun.verb"),
        ("action", "case", "noun.verb"),
        ("actor", "", "actor"),
        ("actor", "x" * 101, "actor"),
        ("subject_type", "s" * 41, "subject_type"),
    ],
)
def test_malformed_events_are_refused(session: Session, field: str, value: str, message: str) -> None:
    fields = {"actor": "office", "action": "target.change", "subject_type": "target", "subject_id": "1"}
    fields[field] = value
    with pytest.raises(ValueError, match=message):
        audit.record(session, payload={}, **fields)


def test_payloads_must_have_a_canonical_form(session: Session) -> None:
    with pytest.raises(TypeError, match="floats"):
        audit.record(session, actor="office", action="target.change", subject_type="target",
                     subject_id=1, payload={"value": 1.5})


def test_rollback_of_the_callers_transaction_leaves_no_audit_row(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        record_events(s, 2)  # committed
    with pytest.raises(RuntimeError), factory() as s, s.begin():
        scheme, _ = make_scheme_with_category(s, code="ROLLED")
        audit.record(s, actor="office", action="scheme.create", subject_type="scheme",
                     subject_id=scheme.id, payload={"code": scheme.code})
        raise RuntimeError("the change fails after its event was recorded")
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 2
        assert s.scalar(select(func.count()).select_from(Scheme)) == 0
    with factory() as s, s.begin():  # the chain goes on from the last committed event
        (event,) = record_events(s, 1, start=3)
        assert event.seq == 3
        assert audit.verify(s).ok


def test_concurrent_writers_do_not_fork_the_chain(engine: Engine) -> None:
    factory = make_session_factory(engine)
    writers, per_writer = 4, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with factory() as s, s.begin():
                    audit.record(s, actor=f"w{n}", action="case.transition", subject_type="case",
                                 subject_id=f"{n}-{i}", payload={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        seqs = s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        assert seqs == list(range(1, writers * per_writer + 1))
        report = audit.verify(s)
        assert report.ok and report.events_checked == writers * per_writer


# --- tampering directly in the database --------------------------------------------------------

_HASH_ARGS = ("seq", "recorded_at", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash")


def _forged_hash(session: Session, seq: int) -> str:
    """What a forger who knows the format computes for the row now stored at ``seq``."""
    event = session.get_one(AuditEvent, seq)
    return audit.event_hash(**{name: getattr(event, name) for name in _HASH_ARGS})


def _insert(session: Session, seq: int, prev_hash: str, hash_: str = "f" * 64) -> None:
    """Insert a row with plain SQL (no ``audit.record``), as someone with write access could."""
    session.execute(insert(AuditEvent.__table__).values(
        seq=seq, recorded_at=dt.datetime(2025, 2, 1, tzinfo=dt.UTC), actor="mallory",
        action="case.transition", subject_type="case", subject_id="99", payload="{}",
        prev_hash=prev_hash, hash=hash_))
    session.expire_all()


def _swap(session: Session, a: int, b: int) -> None:
    for old, new in ((a, 1_000_000), (b, a), (1_000_000, b)):
        tamper(session, "audit_event", "UPDATE audit_event SET seq = :new WHERE seq = :old", old=old, new=new)


def test_a_changed_payload_is_caught_at_its_event(session: Session) -> None:
    record_events(session, 6)
    tamper(session, "audit_event", "UPDATE audit_event SET payload = :p WHERE seq = 3",
           p='{"from":"proposed","to":"overturned"}')
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (3, "hash_mismatch")


def test_a_changed_actor_is_caught_at_its_event(session: Session) -> None:
    record_events(session, 6)
    tamper(session, "audit_event", "UPDATE audit_event SET actor = 'someone.else' WHERE seq = 5")
    report = audit.verify(session)
    assert report.first_break is not None and (report.first_break.seq, report.first_break.kind) == (
        5, "hash_mismatch")
    assert report.events_checked == 4


def test_a_rehashed_change_breaks_the_next_link(session: Session) -> None:
    """A DBA who also recomputes the changed row's hash is caught where the chain no longer links."""
    record_events(session, 6)
    tamper(session, "audit_event", "UPDATE audit_event SET payload = '{}' WHERE seq = 3")
    tamper(session, "audit_event", "UPDATE audit_event SET hash = :h WHERE seq = 3",
           h=_forged_hash(session, 3))
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (4, "broken_link")


def test_a_deleted_event_is_caught_as_missing(session: Session) -> None:
    record_events(session, 6)
    tamper(session, "audit_event", "DELETE FROM audit_event WHERE seq = 4")
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (4, "missing_seq")
    assert "next stored event is 5" in brk.detail


def test_deleting_the_first_event_is_caught(session: Session) -> None:
    record_events(session, 3)
    tamper(session, "audit_event", "DELETE FROM audit_event WHERE seq = 1")
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (1, "missing_seq")


def test_swapped_events_are_caught_as_reordered(session: Session) -> None:
    record_events(session, 6)
    _swap(session, 3, 4)
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (3, "reordered")
    assert "follows event 4" in brk.detail


def test_a_forged_event_appended_with_a_wrong_hash_is_caught(session: Session) -> None:
    events = record_events(session, 4)
    _insert(session, 5, events[-1].hash)
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (5, "hash_mismatch")


def test_a_forged_event_slipped_into_the_middle_is_caught(session: Session) -> None:
    """Even a forger who renumbers the later events and hashes the forgery correctly breaks the chain."""
    events = record_events(session, 5)
    for seq in range(5, 2, -1):
        tamper(session, "audit_event", "UPDATE audit_event SET seq = :new WHERE seq = :old",
               old=seq, new=seq + 1)
    _insert(session, 3, events[1].hash)
    tamper(session, "audit_event", "UPDATE audit_event SET hash = :h WHERE seq = 3",
           h=_forged_hash(session, 3))
    brk = audit.verify(session).first_break
    assert brk is not None and brk.seq == 4 and brk.kind == "broken_link"


def test_a_forged_event_with_an_invented_link_is_caught(session: Session) -> None:
    record_events(session, 3)
    _insert(session, 4, "e" * 64)
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind) == (4, "broken_link")


def test_events_cut_off_the_end_are_caught_by_an_anchor(session: Session) -> None:
    events = record_events(session, 6)
    anchor = {6: events[-1].hash}
    tamper(session, "audit_event", "DELETE FROM audit_event WHERE seq >= 5")
    assert audit.verify(session).ok  # a shorter chain is intact: only an outside copy of the head shows it
    brk = audit.verify(session, anchors=anchor).first_break
    assert brk is not None and (brk.seq, brk.kind) == (5, "missing_seq")
    assert "event 6 is anchored" in brk.detail


def test_a_rebuilt_chain_is_caught_by_an_anchor(session: Session) -> None:
    """A DBA who rewrites an event and rehashes everything after it leaves a consistent chain."""
    events = record_events(session, 4)
    anchor = {3: events[2].hash}
    tamper(session, "audit_event", "UPDATE audit_event SET actor = 'mallory' WHERE seq = 2")
    for seq in (2, 3, 4):
        if seq > 2:
            prev = session.get_one(AuditEvent, seq - 1).hash
            tamper(session, "audit_event", "UPDATE audit_event SET prev_hash = :p WHERE seq = :s",
                   p=prev, s=seq)
        tamper(session, "audit_event", "UPDATE audit_event SET hash = :h WHERE seq = :s",
               h=_forged_hash(session, seq), s=seq)
    assert audit.verify(session).ok
    brk = audit.verify(session, anchors=anchor).first_break
    assert brk is not None and (brk.seq, brk.kind) == (3, "anchor_mismatch")


def test_a_matching_anchor_verifies(session: Session) -> None:
    events = record_events(session, 3)
    assert audit.verify(session, anchors={1: events[0].hash, 3: events[2].hash}).ok


# --- PostgreSQL's triggers -----------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="the append-only triggers exist on PostgreSQL only")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1",
        "UPDATE audit_event SET actor = actor WHERE false",
        "DELETE FROM audit_event WHERE seq = 2",
        "TRUNCATE audit_event CASCADE",  # CASCADE: past the foreign keys, to the trigger
    ],
)
def test_postgres_refuses_to_change_the_ledger(session: Session, sql: str) -> None:
    record_events(session, 2)
    with pytest.raises(DBAPIError, match="refused: the audit ledger is append-only"), session.begin_nested():
        session.execute(text(sql))
    assert audit.verify(session).ok


def test_migration_0002_downgrades_and_upgrades_cleanly(engine: Engine) -> None:
    """The ledger table (and on PostgreSQL its triggers and their function) come and go with 0002."""
    count_triggers = text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%append_only'")
    if IS_POSTGRES:
        with engine.connect() as conn:
            triggers_at_head = conn.scalar(count_triggers)
        assert triggers_at_head is not None and triggers_at_head >= 3
    cfg = store_migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "audit_event" not in inspect(engine).get_table_names()
    if IS_POSTGRES:
        with engine.connect() as conn:
            assert conn.scalar(count_triggers) == 0
            assert conn.scalar(text("SELECT to_regprocedure('kaohe_refuse_change()')")) is None
    store_migrate.upgrade(engine)
    store_migrate.check(engine)
    if IS_POSTGRES:
        with engine.connect() as conn:
            assert conn.scalar(count_triggers) == triggers_at_head
