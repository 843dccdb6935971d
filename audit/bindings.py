"""Reading the ledger's row bindings back and comparing them with the stored rows.

Replaying the ``rows.bind`` and ``rows.adopt`` events in ``seq`` order gives, for every row ever
bound, the digest of the state the ledger last saw it in (or that it was deleted). A stored row
must hash to exactly that; a bound row must still be there; a row nobody bound was put there
behind the ledger's back. And each binding says what the row was before its transaction changed
it: that must be what the previous binding left, or the row was changed behind the ledger's back
in between and the application then built on the change. The first row where the two part is
named with its table, its key and the event that bound it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from audit.chain import EVENTS_KEY, record, stored_hash_input
from audit.rows import (
    ADOPT_ACTION,
    ADOPT_BATCH,
    ADOPTED_NOTE,
    BINDING_ACTIONS,
    Key,
    covered_tables,
    key_text,
    settle,
    stored_digests,
    stream_rows,
)
from store import AuditEvent, Base

RowKind = Literal["row_changed", "row_deleted", "row_unbound", "row_rebound"]


@dataclass(frozen=True)
class RowProblem:
    kind: RowKind
    table: str
    row: str
    seq: int
    """The event that last bound the row; 0 when none did. For ``row_rebound``, the event that
    bound a state no event left."""
    detail: str


class Bindings:
    """Table → row key → (digest or ``None`` for deleted, seq of the binding event)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, tuple[str | None, int]]] = {}
        self.events = 0
        self.rebound: dict[tuple[str, str], RowProblem] = {}
        """Each row a binding found in a state the previous one did not leave (the first time)."""

    def add(self, seq: int, payload: str) -> str | None:
        """Apply one binding event; a problem with its payload, or ``None``."""
        try:
            data = json.loads(payload)
            items = [(str(t), rows.items()) for t, rows in data["tables"].items()]
            prior = [(str(t), rows.items()) for t, rows in data.get("prior", {}).items()]
        except (ValueError, KeyError, TypeError, AttributeError):
            return "a row binding without its tables"
        for table, rows in prior:  # before this binding's own rows replace the previous ones
            bound = self.tables.get(table, {})
            for key, before in rows:
                if before is not None and not isinstance(before, str):
                    return f"a row binding of {table} {key} whose prior state is not a digest"
                last, since = bound.get(key, (None, 0))
                if before != last and (table, key) not in self.rebound:
                    self.rebound[(table, key)] = _rebound(table, key, seq, before, last, since)
        for table, rows in items:
            bound = self.tables.setdefault(table, {})
            for key, digest in rows:
                if digest is not None and not isinstance(digest, str):
                    return f"a row binding of {table} {key} that is not a digest"
                bound[key] = (digest, seq)
        self.events += 1
        return None


def _order(key: str) -> tuple[tuple[int, Any], ...]:
    return tuple((0, int(p)) if p.lstrip("-").isdigit() else (1, p) for p in key.split("/"))


def _unbound(table: str, row: str, seq: int, bindings: Bindings) -> RowProblem:
    if seq:
        return RowProblem("row_unbound", table, row, seq,
                          f"{table} {row} is stored, but event {seq} bound it as deleted")
    hint = ("; the ledger binds no rows yet: a database from before rows were bound is adopted "
            "once with `kaohe audit adopt`" if bindings.events == 0 else "")
    return RowProblem("row_unbound", table, row, 0,
                      f"{table} {row} is stored but no event of the ledger bound it{hint}")


def _rebound(table: str, row: str, seq: int, before: str | None, last: str | None,
             since: int) -> RowProblem:
    found = "it missing" if before is None else f"it as {before[:12]}…"
    if since == 0:
        left = ("no event bound it before (a row stored before rows were bound and written before "
                "`kaohe audit adopt` shows the same way)")
    elif last is None:
        left = f"event {since} bound it as deleted"
    else:
        left = f"event {since} bound it as {last[:12]}…"
    return RowProblem("row_rebound", table, row, seq,
                      f"{table} {row} was changed behind the ledger's back before event {seq}: "
                      f"event {seq} found {found}, but {left}")


def _changed(table: str, row: str, seq: int, digest: str, expected: str) -> RowProblem:
    return RowProblem("row_changed", table, row, seq,
                      f"{table} {row} was changed after event {seq} bound it "
                      f"(stored state {digest[:12]}…, bound {expected[:12]}…)")


def _deleted(table: str, row: str, seq: int) -> RowProblem:
    return RowProblem("row_deleted", table, row, seq,
                      f"{table} {row} bound at event {seq} is no longer stored")


def first_row_problem(session: Session, bindings: Bindings) -> tuple[RowProblem | None, int]:
    """The first binding that found a row in a state no binding left, else every row of every
    covered table against ``bindings``: the first problem and rows checked."""
    if bindings.rebound:
        return min(bindings.rebound.values(), key=lambda p: p.seq), 0
    checked = 0
    for table in covered_tables():
        expected = dict(bindings.tables.get(table.name, {}))
        with closing(stream_rows(session, table)) as rows:
            for row, digest in rows:
                checked += 1
                bound, seq = expected.pop(row, (None, 0))
                if bound is None:
                    return _unbound(table.name, row, seq, bindings), checked
                if bound != digest:
                    return _changed(table.name, row, seq, digest, bound), checked
        gone = sorted((row for row, (d, _) in expected.items() if d is not None), key=_order)
        if gone:
            return _deleted(table.name, gone[0], expected[gone[0]][1]), checked
    return None, checked


def bindings_of(session: Session, tables: Iterable[str] | None = None) -> Bindings:
    """The bindings of ``tables`` (all when ``None``), from the events that name them; each
    event's stored hash is re-checked (the links between them are ``verify``'s business)."""
    query = select(AuditEvent).where(AuditEvent.action.in_(BINDING_ACTIONS))
    if tables is not None:
        names = sorted(set(tables))
        query = query.where(or_(  # an adoption is about one table, named as its subject
            and_(AuditEvent.action == ADOPT_ACTION, AuditEvent.subject_id.in_(names)),
            and_(AuditEvent.action != ADOPT_ACTION,
                 or_(*(AuditEvent.payload.like(f'%"{name}":{{%') for name in names)))))
    found = Bindings()
    for event in session.scalars(query.order_by(AuditEvent.seq)):
        if hashlib.sha256(stored_hash_input(event)).hexdigest() != event.hash:
            found.tables.clear()
            raise ValueError(f"event {event.seq} ({event.action}) does not hash to its stored hash: "
                             "run `kaohe audit verify`")
        problem = found.add(event.seq, event.payload)
        if problem is not None:
            raise ValueError(f"event {event.seq}: {problem}")
    return found


def unproven(session: Session, rows: Mapping[str, Iterable[Key]]) -> RowProblem | None:
    """The first of ``rows`` (table → keys) whose stored state the ledger does not bind.

    For a decision that rests on those rows (publishing, sealing): the transaction's own writes so
    far are bound first (:func:`audit.rows.settle`), as its commit would.
    """
    settle(session)
    wanted = {name: sorted(set(keys)) for name, keys in rows.items() if keys}
    if not wanted:
        return None
    bindings = bindings_of(session, wanted)
    for name, keys in sorted(wanted.items()):
        table = Base.metadata.tables[name]
        expected = bindings.tables.get(name, {})
        for key, digest in stored_digests(session, table, keys).items():
            text = key_text(key)
            bound, seq = expected.get(text, (None, 0))
            if (name, text) in bindings.rebound:
                return bindings.rebound[(name, text)]
            if digest is None:
                if bound is not None:
                    return _deleted(name, text, seq)
            elif bound is None:
                return _unbound(name, text, seq, bindings)
            elif bound != digest:
                return _changed(name, text, seq, digest, bound)
    return None


def adopt(session: Session, *, actor: str) -> list[AuditEvent]:
    """Bind every stored row no event bound yet, as found: for a database whose rows predate the
    ledger's row bindings (or were loaded in bulk). One ``rows.adopt`` event per table and
    :data:`~audit.rows.ADOPT_BATCH` rows, saying so; refused, naming the row, when a bound row
    was changed or deleted — adopting must never launder a change made behind the ledger's back.
    """
    settle(session)
    bindings = bindings_of(session)
    recorded: list[AuditEvent] = []

    def bind(table: str, batch: dict[str, str]) -> None:
        recorded.append(record(session, actor=actor, action=ADOPT_ACTION, subject_type="rows",
                               subject_id=table,
                               payload={"adopted": ADOPTED_NOTE, "events": [],
                                        "tables": {table: batch}}))

    for table in covered_tables():
        expected = dict(bindings.tables.get(table.name, {}))
        batch: dict[str, str] = {}
        with closing(stream_rows(session, table)) as rows:
            for row, digest in rows:
                bound, seq = expected.pop(row, (None, 0))
                if bound is None:
                    batch[row] = digest
                    if len(batch) == ADOPT_BATCH:
                        bind(table.name, batch)
                        batch = {}
                elif bound != digest:
                    raise ValueError(_changed(table.name, row, seq, digest, bound).detail
                                     + ": not adopted; restore the row or find out who changed it")
        gone = sorted((row for row, (d, _) in expected.items() if d is not None), key=_order)
        if gone:
            raise ValueError(_deleted(table.name, gone[0], expected[gone[0]][1]).detail
                             + ": not adopted; restore the row or find out who deleted it")
        if batch:
            bind(table.name, batch)
    session.info.pop(EVENTS_KEY, None)
    return recorded
