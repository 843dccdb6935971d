"""The deduction workflow's rows: cases opened from firings, their history, publication, appeals,
and the idempotency keys that make a repeated request harmless.

A case and an appeal carry a version column (optimistic locking): two people acting on the same
one at once cannot both win; the second flush finds the version moved and fails. A case's history
(``case_event``) is append-only and every row points at the audit event recorded with it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.rules import Firing, Run
from store.models.scheme import Unit
from store.models.vocab import in_list
from store.types import ExactDecimal, UTCDateTime

CASE_KINDS = ("deduction", "veto")
CASE_STATES = ("proposed", "reviewed", "approved", "rejected", "published")
CASE_DECISIONS = ("approved", "rejected")
APPEAL_STATES = ("filed", "under_review", "upheld", "overturned", "adjusted")


class Case(Base):
    """One deduction or veto firing of a run on its way to publication.

    ``proposer`` is who made the run; ``reviewer`` confirmed it or proposed ``adjusted_points``
    (with ``review_reason``); ``approver`` decided (``decision``, ``decision_reason``). A case of a
    superseding run that continues an earlier case names it in ``carried_from_id``.
    """

    __tablename__ = "run_case"  # "case" is an SQL keyword
    __table_args__ = (
        UniqueConstraint("run_id", "firing_id"),
        CheckConstraint(in_list("kind", CASE_KINDS), name="kind"),
        CheckConstraint(in_list("state", CASE_STATES), name="state"),
        CheckConstraint(f"decision IS NULL OR {in_list('decision', CASE_DECISIONS)}", name="decision"),
        Index("ix_run_case_run_state", "run_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    firing_id: Mapped[int] = mapped_column(ForeignKey("firing.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    proposer: Mapped[str] = mapped_column(String(100))
    reviewer: Mapped[str | None] = mapped_column(String(100))
    approver: Mapped[str | None] = mapped_column(String(100))
    review_reason: Mapped[str | None] = mapped_column(Text)
    adjusted_points: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    decision: Mapped[str | None] = mapped_column(String(10))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("run_case.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    run: Mapped[Run] = relationship()
    firing: Mapped[Firing] = relationship()
    unit: Mapped[Unit] = relationship()
    carried_from: Mapped[Case | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class CaseEvent(Base):
    """One transition of a case: who, when, why, from which state to which (append-only)."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("run_case.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_event.seq", ondelete="RESTRICT"))


class Publication(Base):
    """公示 of a run: results public from ``published_at`` until ``window_ends_at``
    (publication_days); appeals accepted from ``published_at`` until ``appeals_close_at``
    (appeal_days, never beyond the window), both ends half-open: ``[published_at, close)``.
    A superseding run made by an appeal keeps the window of the publication it continues."""

    __tablename__ = "publication"
    __table_args__ = (
        CheckConstraint("appeals_close_at <= window_ends_at", name="appeals_inside_window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"), unique=True)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(100))
    window_ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    appeals_close_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    continues_id: Mapped[int | None] = mapped_column(ForeignKey("publication.id", ondelete="RESTRICT"))
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sealed_by: Mapped[str | None] = mapped_column(String(100))

    run: Mapped[Run] = relationship()


class Appeal(Base):
    """申诉: a unit contests firings of a published run; a reviewer not involved decides it.

    A changed outcome (overturned, adjusted) makes a new run with the decision as an explicit
    override; ``superseding_run_id`` names it.
    """

    __tablename__ = "appeal"
    __table_args__ = (CheckConstraint(in_list("state", APPEAL_STATES), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    filed_by: Mapped[str] = mapped_column(String(100))
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    grounds: Mapped[str] = mapped_column(Text)
    evidence_ref: Mapped[str | None] = mapped_column(String(500))
    reviewer: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    superseding_run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))

    run: Mapped[Run] = relationship(foreign_keys=[run_id])
    unit: Mapped[Unit] = relationship()
    firings: Mapped[list[AppealFiring]] = relationship(
        back_populates="appeal", cascade="all, delete-orphan", order_by="AppealFiring.firing_id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class AppealFiring(Base):
    """A firing an appeal cites; ``new_points`` is set when the appeal is decided ``adjusted``."""

    __tablename__ = "appeal_firing"

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeal.id", ondelete="CASCADE"), primary_key=True)
    firing_id: Mapped[int] = mapped_column(ForeignKey("firing.id", ondelete="RESTRICT"), primary_key=True)
    new_points: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))

    appeal: Mapped[Appeal] = relationship(back_populates="firings")
    firing: Mapped[Firing] = relationship()


class IdempotencyKey(Base):
    """A request already done: the same actor and key again returns ``response`` instead of redoing
    it; the same key with a different request (``request_sha256``) is refused."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("actor", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    request_sha256: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
