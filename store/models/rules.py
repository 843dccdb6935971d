"""Rule packs and what a run leaves behind: the run, its firings and its score sheets.

Rows here are written once and never updated in place (a later run supersedes an earlier one).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.scheme import Scheme, Unit
from store.models.vocab import (
    FIRING_STATUSES,
    GRADES,
    RULE_PACK_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    in_list,
    one_of,
)
from store.types import ExactDecimal, UTCDateTime


class RulePack(Base):
    """A versioned, content-hashed YAML rule pack. A stored version's text never changes."""

    __tablename__ = "rule_pack"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint(in_list("status", RULE_PACK_STATUSES), name="status"),
        CheckConstraint("length(sha256) = 64", name="sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(40))
    scheme_code: Mapped[str | None] = mapped_column(String(40), index=True)
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))


class Run(Base):
    """An assessment run over a frozen snapshot of the facts under one rule-pack version."""

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(in_list("kind", RUN_KINDS), name="kind"),
        CheckConstraint(in_list("status", RUN_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    rule_pack_id: Mapped[int] = mapped_column(ForeignKey("rule_pack.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))  # 2024, 2024-H1, 2024-Q3, 2024-07
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="complete")
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    run_hash: Mapped[str] = mapped_column(String(64))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))

    scheme: Mapped[Scheme] = relationship()
    rule_pack: Mapped[RulePack] = relationship()
    supersedes: Mapped[Run | None] = relationship(remote_side=[id])
    # The frozen snapshot lives in its own table (migration 0008): on a province it is ~170 MB, and
    # read only by replay, export, impact and supersede — never by a scorecard or an explanation.
    frozen: Mapped[RunSnapshot] = relationship(lazy="select", cascade="all", back_populates="run")

    @property
    def snapshot(self) -> str:
        """The canonical JSON of every fact the run read (loaded from ``run_snapshot`` on first use)."""
        return self.frozen.body

    @snapshot.setter
    def snapshot(self, text: str) -> None:  # Run(snapshot=...) goes through here too
        self.frozen = RunSnapshot(body=text)


class RunSnapshot(Base):
    """A run's frozen snapshot, written once with the run (bound by the run's ``snapshot_sha256``)."""

    __tablename__ = "run_snapshot"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of every fact the run read

    run: Mapped[Run] = relationship(back_populates="frozen")


class Firing(Base):
    """One rule firing: which rule (id, version, pack hash) matched which facts, with what effect."""

    __tablename__ = "firing"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        CheckConstraint(one_of("status", FIRING_STATUSES), name="status"),  # migration 0011
        # A unit's scorecard and explanation: its firings in seq order from the index alone (with
        # only (run_id, unit_id), SQLite walked the unique (run_id, seq) index — the whole run — to
        # avoid a sort).
        Index("ix_firing_run_id_unit_id_seq", "run_id", "unit_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[int] = mapped_column(Integer)
    pack_sha256: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    indicator_code: Mapped[str | None] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(10))
    effect: Mapped[str] = mapped_column(String(20))
    bucket: Mapped[str | None] = mapped_column(String(40))
    matched_facts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    raw_points: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    points: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    # The effect's specifics (method, consequence, notice, share …) as the engine reported them.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # applied, or voided / adjusted by an appeal override named in ``override``.
    status: Mapped[str] = mapped_column(String(10), default="applied")
    override: Mapped[str | None] = mapped_column(String(100))

    run: Mapped[Run] = relationship()
    unit: Mapped[Unit] = relationship()


class Cut(Base):
    """Points a cap, floor, reset, override or verification took off firings (the why-not of a total)."""

    __tablename__ = "cut"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        Index("ix_cut_run_id_unit_id_seq", "run_id", "unit_id", "seq"),  # as firing's
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    indicator_code: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100))
    firing_seqs: Mapped[list[int]] = mapped_column(JSON)
    before: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    after: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)

    run: Mapped[Run] = relationship()
    unit: Mapped[Unit] = relationship()


class ScoreSheet(Base):
    """A unit's result in a run: section scores, bonuses, deductions, vetoes, total, rank, grade."""

    __tablename__ = "score_sheet"
    __table_args__ = (
        UniqueConstraint("run_id", "unit_id"),
        CheckConstraint(f"grade IS NULL OR {in_list('grade', GRADES)}", name="grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    category_code: Mapped[str] = mapped_column(String(40))
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bonus: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    deduction: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    vetoes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    rank: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(10))
    flags: Mapped[list[str]] = mapped_column(JSON)
    grade_notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Honours credited in this run, so next year's carry-over never credits them twice.
    credited_events: Mapped[list[str]] = mapped_column(JSON, default=list)

    run: Mapped[Run] = relationship()
    unit: Mapped[Unit] = relationship()
