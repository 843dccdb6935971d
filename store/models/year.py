"""The other cases of the year: target adjustments, verifications and supervision notices.

An adjustment and a notice carry a version column (optimistic locking), like a case. Their
histories (``target_adjustment_event``, ``notice_event``) and the verifications are append-only;
every row points at the audit event recorded with it.
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
from store.models.events import Event
from store.models.rules import Run
from store.models.scheme import Indicator, Scheme, Unit
from store.models.targets import ProgressReport, Target
from store.models.vocab import in_list
from store.types import ExactDecimal, UTCDateTime

ADJUSTMENT_STATES = ("requested", "approved", "rejected")
NOTICE_LEVELS = ("reminder", "supervision_order", "listed_supervision")
NOTICE_STATES = ("issued", "responded", "closed", "escalated")


class TargetAdjustment(Base):
    """目标调整: a request to change a target's annual value and/or milestones.

    ``base_version`` is the target's version when requested: approving after the target moved on
    would silently undo that other change, so it is refused. ``old_*`` are filled at approval.
    """

    __tablename__ = "target_adjustment"
    __table_args__ = (
        CheckConstraint(in_list("state", ADJUSTMENT_STATES), name="state"),
        CheckConstraint("new_annual_value IS NOT NULL OR new_milestones IS NOT NULL", name="changes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="RESTRICT"), index=True)
    state: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int] = mapped_column(Integer)
    new_annual_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    new_milestones: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    periods: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    evidence_ref: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    old_annual_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    old_milestones: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    target: Mapped[Target] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class TargetAdjustmentEvent(Base):
    """One transition of an adjustment (append-only)."""

    __tablename__ = "target_adjustment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    adjustment_id: Mapped[int] = mapped_column(
        ForeignKey("target_adjustment.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_event.seq", ondelete="RESTRICT"))


class Verification(Base):
    """核减/核准认定: the office's verified value of a progress report or a project claim.

    Exactly one of ``progress_report_id`` and ``event_id`` is set. The highest ``seq`` is the one
    in force (copied onto the report or event); earlier rows stay as history, each later one
    naming the row it ``supersedes``.
    """

    __tablename__ = "verification"
    __table_args__ = (
        CheckConstraint("(progress_report_id IS NULL) <> (event_id IS NULL)", name="one_subject"),
        CheckConstraint("seq >= 1", name="seq"),
        # Two verifications of one subject at once cannot both take the next seq: one conflicts.
        UniqueConstraint("progress_report_id", "seq"),
        UniqueConstraint("event_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    progress_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("progress_report.id", ondelete="RESTRICT"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="RESTRICT"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … per subject; the highest is in force
    value: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    claimed_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    previous_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    reason: Mapped[str] = mapped_column(Text)
    verified_by: Mapped[str] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("verification.id", ondelete="RESTRICT"))
    audit_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_event.seq", ondelete="RESTRICT"))

    progress_report: Mapped[ProgressReport | None] = relationship()
    event: Mapped[Event | None] = relationship()


class SupervisionNotice(Base):
    """预警 → 提醒函 → 督办单 → 挂牌督办: one notice to a unit about one lagging indicator.

    Escalation closes this notice as ``escalated`` and issues the next level as a new notice
    (``escalated_from_id``), with its own due date and response. ``run_id`` is the run whose
    warning firings raised it (none for an escalation by hand).
    """

    __tablename__ = "supervision_notice"
    __table_args__ = (
        CheckConstraint(in_list("level", NOTICE_LEVELS), name="level"),
        CheckConstraint(in_list("state", NOTICE_STATES), name="state"),
        Index("ix_supervision_notice_unit_indicator", "unit_id", "indicator_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="RESTRICT"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    level: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer)
    checkpoint: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM of the lag it is about
    schedule_pct: Mapped[Decimal | None] = mapped_column(ExactDecimal(9, 4))
    firing_ids: Mapped[list[int]] = mapped_column(JSON)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    response_text: Mapped[str | None] = mapped_column(Text)
    response_evidence: Mapped[str | None] = mapped_column(String(500))
    responded_by: Mapped[str | None] = mapped_column(String(100))
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(Text)
    escalated_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("supervision_notice.id", ondelete="RESTRICT"))

    scheme: Mapped[Scheme] = relationship()
    unit: Mapped[Unit] = relationship()
    indicator: Mapped[Indicator] = relationship()
    run: Mapped[Run | None] = relationship()
    escalated_from: Mapped[SupervisionNotice | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class NoticeEvent(Base):
    """One transition of a notice (append-only); ``run_id`` names the run that raised or escalated
    it, which makes raising from the same run twice a no-op."""

    __tablename__ = "notice_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("supervision_notice.id", ondelete="RESTRICT"),
                                           index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_event.seq", ondelete="RESTRICT"))
