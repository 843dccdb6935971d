"""Binding every stored state into the ledger: each covered row's digest, recorded per transaction.

Events say what people did; the tables hold what that left. Without a link between the two a row
can be edited in the database and the ledger would not notice. So every transaction that writes
a covered row ends with one ``rows.bind`` event listing, per table, each row it touched and the
SHA-256 of that row's state as stored at commit (``null`` when the row is gone), and what the
row was before the transaction first changed it (read from the database before that flush). A
binding's "before" must be the previous binding's "after": otherwise the row was changed behind
the ledger's back in between, even if the application wrote it again since. ``verify`` replays
these bindings and compares them with every row of every covered table.

Coverage is generic: every table of the schema is covered except :data:`EXCLUDED`, so a new table
or a new write path is bound without anyone remembering to. The ORM's unit of work is observed
through session events; an ``UPDATE``/``DELETE`` statement executed through a session has its rows
looked up first. A write that bypasses sessions (a Core connection, a bulk load) must call
:func:`remember` before and :func:`touch` after it, or be adopted (:func:`adopt`).
``docs/audit-format.md`` §7 gives the bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Generator, Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    event,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from audit.chain import EVENTS_KEY, record
from engine.values.canonical import decimal_text, dumps, to_plain
from store import AuditEvent, Base
from store.types import ExactDecimal, UTCDateTime

EXCLUDED: Mapping[str, str] = {
    "audit_event": "the ledger itself",
    "idempotency_key": "a cache of responses already given, not a decision",
    "firing": "bound by its run's run.create Merkle root",
    "score_sheet": "bound by its run's run.create Merkle root",
    "cut": "bound by its run's run.create Merkle root",
    "run_snapshot": "bound by its run's snapshot_sha256 in run.create",
    "ledger_checkpoint": "a signed checkpoint proves itself (docs/audit-format.md section 6)",
}
"""Tables whose rows are not bound one by one, and why."""

VOLATILE: Mapping[str, frozenset[str]] = {
    "account": frozenset({"failed_logins", "locked_until", "last_login_at"}),
    "api_token": frozenset({"last_used_at"}),
}
"""Columns that change without anyone deciding anything (a login, a token's use): left out of
the digest, so they change freely; everything else about the row is bound."""

BIND_ACTION = "rows.bind"
ADOPT_ACTION = "rows.adopt"
BINDING_ACTIONS = (BIND_ACTION, ADOPT_ACTION)
ADOPTED_NOTE = "adopted at upgrade: rows stored before the ledger bound every row"
ADOPT_BATCH = 50_000
"""Rows per ``rows.adopt`` event, so no payload grows without bound."""

_PENDING = "kaohe.rows.pending"
_PRIOR = "kaohe.rows.prior"
_READ_CHUNK = 500

Key = tuple[Any, ...]


def covered_tables() -> list[Table]:
    """Every table of the schema whose rows are bound one by one, by name."""
    return [t for name, t in sorted(Base.metadata.tables.items()) if name not in EXCLUDED]


_COVERED = {t.name for t in covered_tables()}


def key_text(key: Key) -> str:
    """A row's key as the ledger writes it: its primary-key values in column order, joined by
    ``/`` (every composite key's parts are integers or vocabulary words without ``/``)."""
    return "/".join(str(part) for part in key)


def row_digest(table: Table, row: Mapping[Any, Any]) -> str:
    """SHA-256 hex of a stored row's canonical JSON: every column but the volatile ones."""
    names, _columns, converters = _encoder(table)
    return hashlib.sha256(dumps(
        {name: convert(row[name]) for name, convert in zip(names, converters, strict=True)})).hexdigest()


def _utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _converter(column: Any) -> Callable[[Any], Any]:
    """How a column's value (as its type hands it over) becomes its canonical plain value:
    what ``canonical_json`` does, decided once per column instead of once per value."""
    kind = column.type
    if isinstance(kind, ExactDecimal | Numeric):
        return lambda v: None if v is None else decimal_text(v)
    if isinstance(kind, UTCDateTime | DateTime):
        return lambda v: None if v is None else _utc_text(v)
    if isinstance(kind, Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, String | Integer | Boolean):
        return _same
    return to_plain  # JSON: nested values, each checked (a binary float is refused)


def _same(value: Any) -> Any:
    return value


@cache
def _encoder(table: Table) -> tuple[tuple[str, ...], tuple[Any, ...], tuple[Callable[[Any], Any], ...]]:
    skip = VOLATILE.get(table.name, frozenset())
    columns = tuple(c for c in table.columns if c.name not in skip)
    return tuple(c.name for c in columns), columns, tuple(_converter(c) for c in columns)


def _pk(table: Table) -> list[Any]:
    return list(table.primary_key.columns)


def stored_digests(session: Session, table: Table, keys: Iterable[Key]) -> dict[Key, str | None]:
    """The digest of each keyed row as the database stores it now (``None`` for a missing row),
    read as Core rows, never from the identity map."""
    pk = _pk(table)
    wanted = sorted(set(keys))
    found: dict[Key, str | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), _READ_CHUNK):
        chunk = wanted[start:start + _READ_CHUNK]
        where = (pk[0].in_([k[0] for k in chunk]) if len(pk) == 1
                 else tuple_(*pk).in_(chunk))
        for row in session.execute(select(table).where(where)).mappings():
            found[tuple(row[c.name] for c in pk)] = row_digest(table, row)
    return found


def touch(session: Session, table: Table | str, keys: Iterable[Key]) -> None:
    """Mark rows written outside the unit of work, so this transaction's ``rows.bind`` binds them."""
    name = table if isinstance(table, str) else table.name
    if name in _COVERED:
        pending: dict[str, set[Key]] = session.info.setdefault(_PENDING, {})
        pending.setdefault(name, set()).update(tuple(k) for k in keys)


def remember(session: Session, table: Table, keys: Iterable[Key]) -> None:
    """Keep what rows this transaction is about to change were before it first changed them: the
    digest as stored (``None`` when missing), read once per row and transaction, so that a state
    nobody bound is not bound as if the application had made it."""
    if table.name not in _COVERED:
        return
    prior: dict[str, dict[Key, str | None]] = session.info.setdefault(_PRIOR, {})
    known = prior.setdefault(table.name, {})
    new = {tuple(k) for k in keys} - known.keys()
    if new:
        known.update(stored_digests(session, table, new))


def settle(session: Session) -> AuditEvent | None:
    """Record the ``rows.bind`` event for the rows this transaction wrote so far, if any.

    Called before every commit (so the binding commits with the rows), and by anyone who must
    read the ledger's view of rows this same transaction wrote (``verify``, :func:`unproven`).
    """
    session.flush()
    pending: dict[str, set[Key]] = session.info.pop(_PENDING, {})
    found: dict[str, dict[Key, str | None]] = session.info.pop(_PRIOR, {})
    if not pending:  # (the events recorded so far stay for the binding that will close them)
        return None
    events: list[tuple[int, str, str, str]] = session.info.pop(EVENTS_KEY, [])
    tables = {
        name: {key_text(k): d for k, d in stored_digests(
            session, Base.metadata.tables[name], keys).items()}
        for name, keys in sorted(pending.items())
    }
    prior = {name: {key_text(k): found[name][k] for k in sorted(keys) if k in found.get(name, {})}
             for name, keys in sorted(pending.items())}
    first = events[0] if events else None
    bound = record(
        session,
        actor=first[1] if first else "system",
        action=BIND_ACTION,
        subject_type=first[2] if first else "rows",
        subject_id=first[3] if first else next(iter(tables)),
        payload={"events": [seq for seq, *_ in events],
                 "prior": {name: rows for name, rows in prior.items() if rows}, "tables": tables},
    )
    session.info.pop(EVENTS_KEY, None)  # the binding's own event
    return bound


def _changed(state: Any, table: Table) -> bool:
    skip = VOLATILE.get(table.name, frozenset())
    for prop in state.mapper.column_attrs:
        if prop.columns[0].name not in skip and state.attrs[prop.key].history.has_changes():
            return True
    return False


def _covered_key(state: Any) -> tuple[Table, Key] | None:
    """A stored instance's table and its key as stored (before any change to the key itself)."""
    table = state.mapper.local_table
    if state.key is None or not isinstance(table, Table) or table.name not in _COVERED:
        return None
    return table, tuple(state.key[1])


def _before_flush(session: Session, _flush: Any, _instances: Any) -> None:
    """Before each flush: remember the stored state of every row it may update or delete, one
    select per table (an orphan a changed collection drops included)."""
    wanted: dict[Table, set[Key]] = {}
    for obj in [*session.dirty, *session.deleted]:
        state = inspect(obj)
        table = state.mapper.local_table
        itself = [state] if obj in session.deleted or (
            isinstance(table, Table) and _changed(state, table)) else []
        for each in [*itself, *(inspect(child) for rel in state.mapper.relationships
                              if rel.cascade.delete_orphan
                              for child in state.attrs[rel.key].history.deleted or ())]:
            found = _covered_key(each)
            if found is not None:
                wanted.setdefault(found[0], set()).add(found[1])
    for table, keys in sorted(wanted.items(), key=lambda item: item[0].name):
        remember(session, table, keys)


def _collect(session: Session, _flush: UOWTransaction) -> None:
    """After each flush: the key of every covered row it inserted, updated or deleted (a row it
    inserted was not stored before)."""
    for group, check, new in ((session.new, False, True), (session.deleted, False, False),
                              (session.dirty, True, False)):
        for obj in group:
            state = inspect(obj)
            table = state.mapper.local_table
            if not isinstance(table, Table) or table.name not in _COVERED:
                continue
            if check and not _changed(state, table):
                continue
            key = tuple(state.mapper.primary_key_from_instance(obj))
            if new:
                prior: dict[str, dict[Key, str | None]] = session.info.setdefault(_PRIOR, {})
                prior.setdefault(table.name, {}).setdefault(key, None)
            touch(session, table, [key])


def _statement_writes(execute_state: ORMExecuteState) -> None:
    """An UPDATE or DELETE through a session: look up the rows it will write, before it does."""
    if not (execute_state.is_update or execute_state.is_delete or execute_state.is_insert):
        return
    statement: Any = execute_state.statement
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name not in _COVERED:
        return
    real = Base.metadata.tables[name]
    if execute_state.is_insert:
        raise TypeError(f"an INSERT into {name} through a session is not bound to the ledger: "
                        "add ORM objects, or insert on a connection and call audit.rows.touch")
    query = select(*_pk(real))
    if statement.whereclause is not None:
        query = query.where(statement.whereclause)
    keys = [tuple(row) for row in execute_state.session.execute(query)]
    remember(execute_state.session, real, keys)
    touch(execute_state.session, real, keys)


def _before_commit(session: Session) -> None:
    settle(session)


def _transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's own transaction: committed or rolled back
        session.info.pop(_PENDING, None)
        session.info.pop(_PRIOR, None)
        session.info.pop(EVENTS_KEY, None)


def install() -> None:
    """Observe every session of the process (idempotent; done when ``audit`` is imported)."""
    for name, listener in (("before_flush", _before_flush), ("after_flush", _collect),
                           ("do_orm_execute", _statement_writes),
                           ("before_commit", _before_commit),
                           ("after_transaction_end", _transaction_end)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


install()


def stream_rows(session: Session, table: Table, batch_size: int = 5000) -> Generator[tuple[str, str]]:
    """Every stored row of ``table`` as (key text, digest), in primary-key order."""
    names, columns, converters = _encoder(table)
    pk = _pk(table)
    at = [columns.index(c) for c in pk]
    pairs = tuple(zip(names, converters, strict=True))
    sha256 = hashlib.sha256
    query = select(*columns).order_by(*pk).execution_options(yield_per=batch_size)
    with session.execute(query) as result:  # closed (PostgreSQL's server cursor too) when left early
        for row in result:
            key = "/".join([str(row[i]) for i in at])
            yield key, sha256(dumps({n: f(v) for (n, f), v in zip(pairs, row, strict=True)})).hexdigest()
