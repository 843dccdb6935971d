"""目标任务 and 进度报送: what each unit must achieve and what it reported, month by month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.scheme import Indicator, Scheme, Unit
from store.models.vocab import SCHEDULE_KINDS, in_list
from store.types import ExactDecimal, UTCDateTime


class Target(Base):
    """Unit × indicator × scheme. ``version`` guards concurrent edits; locked targets change only
    through an approved target adjustment."""

    __tablename__ = "target"
    __table_args__ = (
        UniqueConstraint("unit_id", "indicator_id"),
        CheckConstraint(in_list("schedule_kind", SCHEDULE_KINDS), name="schedule_kind"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="RESTRICT"))
    annual_value: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    schedule_kind: Mapped[str] = mapped_column(String(20), default="pro_rata")
    # For "milestones": {"2024-03": "20", "2024-06": "45", …} cumulative values as decimal strings.
    milestones: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    scheme: Mapped[Scheme] = relationship()
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    indicator: Mapped[Indicator] = relationship()
    lead_unit: Mapped[Unit] = relationship(foreign_keys=[lead_unit_id])
    co_units: Mapped[list[TargetCoUnit]] = relationship(
        back_populates="target", order_by="TargetCoUnit.unit_id"
    )
    reports: Mapped[list[ProgressReport]] = relationship(
        back_populates="target", order_by="ProgressReport.period"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TargetCoUnit(Base):
    """协办: a co-unit answerable for a share of the target when it fails."""

    __tablename__ = "target_co_unit"
    __table_args__ = (
        CheckConstraint("CAST(share AS NUMERIC) >= 0 AND CAST(share AS NUMERIC) <= 1", name="share"),
    )

    target_id: Mapped[int] = mapped_column(
        ForeignKey("target.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True)
    # Share of a failed target's deduction this co-unit takes; 0 means the rule pack decides.
    share: Mapped[Decimal] = mapped_column(ExactDecimal(5, 4), default=Decimal(0))

    target: Mapped[Target] = relationship(back_populates="co_units")
    unit: Mapped[Unit] = relationship()


class ProgressReport(Base):
    """A reported cumulative value for one period; the office's verified value, when set, wins."""

    __tablename__ = "progress_report"
    __table_args__ = (UniqueConstraint("target_id", "period", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))  # YYYY-MM
    reported_value: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    source: Mapped[str] = mapped_column(String(200))  # the reporting unit's code or a department
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    evidence_ref: Mapped[str | None] = mapped_column(String(500))
    verified_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verification_note: Mapped[str | None] = mapped_column(String(1000))

    target: Mapped[Target] = relationship(back_populates="reports")
