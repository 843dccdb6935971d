"""How long a text and how precise a number each column may be, read off the models.

Checking these before writing means the database never has to refuse a row (PostgreSQL would
raise on an over-long string; ExactDecimal on an extra decimal place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String
from sqlalchemy.sql.elements import KeyedColumnElement

from store import Category, Event, Indicator, ProgressReport, Scheme, Section, Target, Unit
from store.base import Base
from store.types import ExactDecimal

_MODELS: dict[str, type[Base]] = {
    "scheme": Scheme, "categories": Category, "sections": Section, "units": Unit,
    "indicators": Indicator, "targets": Target, "progress": ProgressReport, "events": Event,
}
# Sheet columns stored under another attribute name.
_RENAMES = {
    ("progress", "value"): "reported_value",
    ("progress", "evidence"): "evidence_ref",
    ("events", "evidence"): "evidence_ref",
    ("events", "type"): "event_type",
}
# Columns holding the code of another row: limited like that row's code.
_REFERENCES = {
    "scheme": Scheme.__table__.c.code,
    "category": Category.__table__.c.code,
    "parent": Unit.__table__.c.code,
    "unit": Unit.__table__.c.code,
    "lead_unit": Unit.__table__.c.code,
    "indicator": Indicator.__table__.c.code,
}
# Decimal columns with no model column of their own (category grade thresholds, in JSON).
DEFAULT_DECIMAL = (18, 4)


@dataclass(frozen=True)
class Limits:
    max_length: int | None = None
    precision: int = DEFAULT_DECIMAL[0]
    scale: int = DEFAULT_DECIMAL[1]


def _model_column(kind: str, column: str) -> KeyedColumnElement[Any] | None:
    table = _MODELS[kind].__table__
    name = _RENAMES.get((kind, column), column)
    if name in table.c and not table.c[name].foreign_keys:
        return table.c[name]
    return _REFERENCES.get(column)


def limits_for(kind: str, column: str) -> Limits:
    col = _model_column(kind, column)
    if col is None:
        return Limits()
    if isinstance(col.type, ExactDecimal):
        return Limits(precision=col.type.precision, scale=col.type.scale)
    if isinstance(col.type, String) and col.type.length is not None:
        return Limits(max_length=col.type.length)
    return Limits()
