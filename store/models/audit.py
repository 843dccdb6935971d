"""The audit ledger's row: one hash-chained, append-only event.

The payload is kept as TEXT holding canonical JSON, so the bytes read back are exactly the bytes
that were hashed; a JSON column would let the driver re-serialise them. The chain rules live in
``audit/`` and ``docs/audit-format.md``; this module only stores them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base
from store.models.vocab import in_list
from store.types import UTCDateTime


class AuditEvent(Base):
    """Event ``seq`` of the ledger (1, 2, 3 … with no gaps); ``hash`` chains it to ``seq - 1``."""

    __tablename__ = "audit_event"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint("length(prev_hash) = 64", name="prev_hash"),
        CheckConstraint("length(hash) = 64", name="hash"),
        Index("ix_audit_event_subject", "subject_type", "subject_id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


CHECKPOINT_REASONS = ("publish", "seal", "demand", "export")


class LedgerCheckpoint(Base):
    """A signed checkpoint of the ledger (``audit/checkpoint.py``): the note as signed, and what it
    says, so it can be shown and re-checked. The note's signature is its own proof; the columns
    beside it are kept to find and show it, and are checked against the note by ``verify``."""

    __tablename__ = "ledger_checkpoint"
    __table_args__ = (
        CheckConstraint("tree_size >= 0", name="tree_size"),
        CheckConstraint("length(root_hash) = 64", name="root_hash"),
        CheckConstraint("length(key_id) = 8", name="key_id"),
        CheckConstraint(in_list("reason", CHECKPOINT_REASONS), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    key_name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(20))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    made_by: Mapped[str] = mapped_column(String(100))
