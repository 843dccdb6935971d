"""Repeat-safe requests: the same actor, key and request again returns the first response.

The key row is inserted before the work is done, so a concurrent repeat waits on the unique
index (PostgreSQL) or the write lock (SQLite) until the first request commits, then finds the
stored response instead of doing the work twice; if the first rolls back, the repeat proceeds.
The same key with a different request is a :class:`Conflict`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.values.canonical import canonical_json, sha256_hex
from store import IdempotencyKey
from workflows.errors import Conflict, Invalid


@dataclass(frozen=True)
class Once:
    response: dict[str, Any]
    replayed: bool  # True: the stored response of an earlier request; nothing was done now


def request_digest(action: str, request: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json({"action": action, "request": dict(request)}))


def _stored(session: Session, actor: str, key: str) -> IdempotencyKey | None:
    return session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.actor == actor, IdempotencyKey.key == key)
    ).one_or_none()


def _replay(row: IdempotencyKey, digest: str) -> Once:
    if row.request_sha256 != digest:
        raise Conflict(f"idempotency key {row.key!r} was already used by {row.actor} for a different "
                       f"request ({row.action} at {row.created_at.isoformat(timespec='seconds')})")
    return Once(dict(row.response), replayed=True)


def once(
    session: Session,
    *,
    key: str | None,
    actor: str,
    action: str,
    request: Mapping[str, Any],
    perform: Callable[[], Mapping[str, Any]],
) -> Once:
    """Run ``perform`` unless this actor already made this request under ``key``.

    ``request`` is what identifies the request (canonical JSON of it is hashed); ``perform``
    returns the JSON-able response stored for repeats. Without a key it simply runs.
    """
    if key is None:
        return Once(dict(perform()), replayed=False)
    key = key.strip()
    if not key or len(key) > 200:
        raise Invalid("an idempotency key is 1 to 200 characters")
    digest = request_digest(action, request)
    row = _stored(session, actor, key)
    if row is not None:
        return _replay(row, digest)
    row = IdempotencyKey(actor=actor, key=key, action=action, request_sha256=digest, response={},
                         created_at=dt.datetime.now(dt.UTC))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        other = _stored(session, actor, key)  # a concurrent request with the key committed first
        if other is None:
            raise
        return _replay(other, digest)
    response = dict(perform())
    row.response = response
    session.flush()
    return Once(response, replayed=False)
