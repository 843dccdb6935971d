"""Checkpoints of the ledger as the office's actions see them: signed after a publication or a
seal (covering its event), on demand and for an export, and refused — with nothing changed — when
the ledger no longer extends the last checkpoint signed (``audit.checkpoint``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.checkpoint import (
    CheckpointError,
    check_extends,
    check_stored,
    open_checkpoint,
    sign_ledger,
    sign_milestone,
)
from audit.note import SignerKey, VerifierKey
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


@dataclass(frozen=True)
class AnchoringReport:
    """Checkpoints checked against the ledger: what held (``lines``) and what did not."""

    lines: list[str]
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoints": {"ok": not self.problems, "checked": self.lines, "problems": self.problems}}


def anchoring_report(session: Session, trusted: Sequence[VerifierKey],
                     held: Sequence[tuple[str, str]]) -> AnchoringReport:
    """Every stored checkpoint, and each ``(label, note)`` held elsewhere, against today's ledger:
    signed by a trusted key and extended by the ledger (its first N events hash to the root)."""
    lines: list[str] = []
    try:
        stored, tree = check_stored(session, trusted)
    except CheckpointError as exc:
        return AnchoringReport(lines, [str(exc)])
    problems: list[str] = []
    for label, note in held:
        try:
            checkpoint = open_checkpoint(note, trusted)
            check_extends(checkpoint.head, tree, f"checkpoint {label}")
        except CheckpointError as exc:
            problems.append(f"{label}: {exc}")
            continue
        key = checkpoint.key
        lines.append(f"checkpoint {label}: OK, the ledger's {tree.size} events extend its "
                     f"{checkpoint.head.size} (signed by {key.name} {key.key_id.hex()})")
    problems += [f"stored checkpoint {p.checkpoint_id}: {p.detail}" for p in stored]
    count = session.scalar(select(func.count()).select_from(LedgerCheckpoint)) or 0
    if count and not stored:
        lines.append(f"{count} stored checkpoint(s): OK, each signed by a trusted key and extended "
                     "by the ledger")
    return AnchoringReport(lines, problems)
