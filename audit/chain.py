"""Recording events on the hash chain, and the exact bytes each event's hash covers.

The byte format is specified in ``docs/audit-format.md``; change it only together with that
document and a new ``FORMAT`` tag, or every recorded ledger stops verifying.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from audit.who import method_of
from engine.values.canonical import canonical_json
from store import AuditEvent
from store.db import sqlite_write_lock

FORMAT = "kaohe-audit-1"
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of event 1: there is no event 0."""

ADVISORY_LOCK_KEY = int.from_bytes(b"kaohe:al", "big")
"""PostgreSQL transaction-level advisory lock that serialises appends (held until commit)."""

_HEADER_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""``engine.values.canonical``'s JSON settings. The header holds only str and int values, which
``canonical_json`` would pass through unchanged, so encoding them directly gives the same bytes
without its per-value conversion (half of verify's time); a test holds the two equal."""

ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_LIMITS = {"actor": 100, "action": 40, "subject_type": 40, "subject_id": 100}
EVENTS_KEY = "kaohe.audit.events"
"""``session.info`` entry: (seq, actor, subject type, subject id) of each event the session's
transaction recorded, for the ``rows.bind`` event that closes it (``audit.rows``)."""


def format_time(value: dt.datetime) -> str:
    """``recorded_at`` as hashed: UTC, always six fractional digits, ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def hash_input(
    *,
    seq: int,
    recorded_at: dt.datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    payload: str,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: canonical JSON header, one LF, the payload bytes.

    Canonical JSON escapes every control character, so the first LF always ends the header and
    the payload needs no escaping: it is hashed exactly as stored.
    """
    header = _HEADER_ENCODER.encode(
        {
            "action": action,
            "actor": actor,
            "format": FORMAT,
            "prev_hash": prev_hash,
            "recorded_at": format_time(recorded_at),
            "seq": seq,
            "subject_id": subject_id,
            "subject_type": subject_type,
        }
    )
    return header.encode("utf-8") + b"\n" + payload.encode("utf-8")


def event_hash(**fields: Any) -> str:
    """SHA-256 hex of :func:`hash_input` for the given fields."""
    return hashlib.sha256(hash_input(**fields)).hexdigest()


def stored_hash_input(event: AuditEvent) -> bytes:
    return hash_input(
        seq=event.seq,
        recorded_at=event.recorded_at,
        actor=event.actor,
        action=event.action,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        payload=event.payload,
        prev_hash=event.prev_hash,
    )


def _check_fields(fields: Mapping[str, str]) -> None:
    for name, limit in _LIMITS.items():
        value = fields[name]
        if not value or len(value) > limit:
            raise ValueError(f"audit {name} must be 1 to {limit} characters, not {value!r}")
    if not ACTION_PATTERN.fullmatch(fields["action"]):
        raise ValueError(f"audit action must look like 'noun.verb', not {fields['action']!r}")


def _lock_chain(session: Session) -> None:
    """Serialise appenders so two transactions never extend the chain from the same event.

    PostgreSQL: an advisory lock released at commit or rollback; under READ COMMITTED the head is
    read after it is granted, so it is the latest committed one. SQLite: a no-op write takes the
    database write lock now, before the head is read, so the head cannot move underneath us. In
    either case the primary key on ``seq`` is the backstop: a fork would need a duplicate seq, so
    a stale head (e.g. a REPEATABLE READ snapshot taken before the lock) fails the insert instead.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        sqlite_write_lock(session, "audit_event", "seq")


def head(session: Session) -> tuple[int, str]:
    """The last stored event's (seq, hash), or (0, GENESIS_HASH) for an empty ledger."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    payload: Mapping[str, Any],
    with_auth: bool = True,
) -> AuditEvent:
    """Append one event to the ledger inside the caller's transaction (flushed, never committed).

    Riding in the caller's transaction means the event commits or rolls back together with the
    change it records; the chain lock is held until then, so keep such transactions short. When
    the session says how ``actor`` was authenticated (:mod:`audit.who`), the payload gains
    ``auth`` — unless not ``with_auth``: a binding (``run.create``) is exactly what it binds.
    """
    auth = method_of(session, actor) if with_auth else None
    if auth is not None and "auth" not in payload:
        payload = {**payload, "auth": auth}
    fields = {
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
    }
    _check_fields(fields)
    body = canonical_json(dict(payload)).decode("utf-8")
    session.flush()  # the caller's pending rows first, so a failure here is theirs, not ours
    _lock_chain(session)
    last_seq, prev_hash = head(session)
    recorded_at = dt.datetime.now(dt.UTC)
    event = AuditEvent(
        seq=last_seq + 1,
        recorded_at=recorded_at,
        payload=body,
        prev_hash=prev_hash,
        **fields,
    )
    event.hash = hashlib.sha256(stored_hash_input(event)).hexdigest()
    session.add(event)
    session.flush()
    session.info.setdefault(EVENTS_KEY, []).append(
        (event.seq, event.actor, event.subject_type, event.subject_id))
    return event
