"""Honours, incidents and project claims: the facts besides progress that move points."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models.scheme import Indicator, Scheme, Unit
from store.models.vocab import EVENT_KINDS, EVENT_LEVELS, in_list
from store.types import ExactDecimal, UTCDateTime


class Event(Base):
    """One honour, incident or project claim with its evidence.

    ``dedupe_key`` groups reports of the same honour (it counts once, at its highest level);
    ``work_year`` is the year the work was done, which differs from the document date's year for
    an honour awarded after the cut-off (carry-over, 结转).
    """

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("scheme_id", "code"),
        CheckConstraint(in_list("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(f"level IS NULL OR {in_list('level', EVENT_LEVELS)}", name="level"),
        CheckConstraint("quantity IS NULL OR CAST(quantity AS NUMERIC) >= 0", name="quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(60))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    # Finer type within the kind: safety_accident, criticism, media_exposure, petition, honour …
    event_type: Mapped[str] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    awarding_body: Mapped[str | None] = mapped_column(String(200))
    document_no: Mapped[str | None] = mapped_column(String(200))
    document_date: Mapped[dt.date | None] = mapped_column(Date)
    occurred_on: Mapped[dt.date | None] = mapped_column(Date)
    work_year: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id", ondelete="RESTRICT"))
    evidence_ref: Mapped[str | None] = mapped_column(String(500))
    verified_quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(18, 4))
    verified_by: Mapped[str | None] = mapped_column(String(100))
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    verification_note: Mapped[str | None] = mapped_column(String(1000))

    scheme: Mapped[Scheme] = relationship()
    unit: Mapped[Unit] = relationship()
    indicator: Mapped[Indicator | None] = relationship()
