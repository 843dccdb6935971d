"""A year's assessment method: the scheme, its categories and their sections, units, indicators."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.vocab import (
    DIRECTIONS,
    SCHEME_STATUSES,
    SCORING_METHODS,
    UNIT_LEVELS,
    in_list,
)
from store.types import ExactDecimal


class Scheme(Base):
    """考核方案: one year's method. ``cutoff_date`` bounds the work year for honours (结转);
    ``previous_cutoff_date`` is the previous year's cut-off, which decides what carries over into
    this year, for when the previous year's scheme is not in the database (when it is, its
    ``cutoff_date`` decides, and this must be empty or equal to it)."""

    __tablename__ = "scheme"
    __table_args__ = (
        CheckConstraint(in_list("status", SCHEME_STATUSES), name="status"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
        CheckConstraint("publication_days > 0", name="publication_days"),
        CheckConstraint("appeal_days > 0", name="appeal_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    cutoff_date: Mapped[dt.date] = mapped_column(Date)
    adjustment_cutoff_date: Mapped[dt.date | None] = mapped_column(Date)
    previous_cutoff_date: Mapped[dt.date | None] = mapped_column(Date)
    publication_days: Mapped[int] = mapped_column(Integer)
    appeal_days: Mapped[int] = mapped_column(Integer)

    categories: Mapped[list[Category]] = relationship(back_populates="scheme")
    units: Mapped[list[Unit]] = relationship(back_populates="scheme")
    indicators: Mapped[list[Indicator]] = relationship(back_populates="scheme")


class Category(Base):
    """考核类别: units ranked together under the same section weights and grade rules."""

    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("scheme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # Grade thresholds, rank limits and quotas; the rule pack may override them.
    grade_rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    scheme: Mapped[Scheme] = relationship(back_populates="categories")
    sections: Mapped[list[Section]] = relationship(
        back_populates="category", order_by="Section.code"
    )


class Section(Base):
    """A weighted part of a category's total (重点工作 40 / 定量指标 50 / 其他 10); weights sum to 100."""

    __tablename__ = "section"
    __table_args__ = (
        UniqueConstraint("category_id", "code"),
        CheckConstraint("CAST(weight AS NUMERIC) >= 0 AND CAST(weight AS NUMERIC) <= 100", name="weight"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    weight: Mapped[Decimal] = mapped_column(ExactDecimal(7, 4))

    category: Mapped[Category] = relationship(back_populates="sections")


class Unit(Base):
    """考核对象: a county, township, department or stationed unit, with its parent."""

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("scheme_id", "code"),
        CheckConstraint(in_list("level", UNIT_LEVELS), name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))

    scheme: Mapped[Scheme] = relationship(back_populates="units")
    category: Mapped[Category | None] = relationship()
    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class Indicator(Base):
    """指标: what is measured, in which section, scored how (method and parameters)."""

    __tablename__ = "indicator"
    __table_args__ = (
        UniqueConstraint("scheme_id", "code"),
        CheckConstraint(in_list("direction", DIRECTIONS), name="direction"),
        CheckConstraint(in_list("method", SCORING_METHODS), name="method"),
        CheckConstraint("CAST(points AS NUMERIC) >= 0", name="points"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(40))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(40))
    measure: Mapped[str] = mapped_column(String(40))  # unit of measure: %, 亿元, 人 …
    direction: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    points: Mapped[Decimal] = mapped_column(ExactDecimal(9, 4))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_department: Mapped[str | None] = mapped_column(String(200))

    scheme: Mapped[Scheme] = relationship(back_populates="indicators")
