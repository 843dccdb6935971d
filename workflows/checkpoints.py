"""Checkpoints of the ledger as the office's actions see them: signed after a publication or a
seal (covering its event), on demand and for an export, and refused — with nothing changed — when
the ledger no longer extends the last checkpoint signed (``audit.checkpoint``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from audit.checkpoint import CheckpointError, sign_ledger, sign_milestone
from audit.note import SignerKey
from store import LedgerCheckpoint
from workflows.errors import Conflict


def milestone(session: Session, *, reason: str, actor: str, run_id: int,
              now: dt.datetime | None = None) -> LedgerCheckpoint | None:
    """The checkpoint of a publication or seal (none when the session has no signing key)."""
    try:
        return sign_milestone(session, reason=reason, actor=actor, run_id=run_id, now=now)
    except CheckpointError as exc:
        raise Conflict(f"run {run_id}: {reason} refused, the ledger cannot be checkpointed: {exc}") from exc


def on_demand(session: Session, key: SignerKey, *, actor: str, reason: str = "demand") -> LedgerCheckpoint:
    """A checkpoint of the ledger now (the last one if nothing was recorded since)."""
    try:
        return sign_ledger(session, key, reason=reason, actor=actor)
    except CheckpointError as exc:
        raise Conflict(f"no checkpoint signed: {exc}") from exc
