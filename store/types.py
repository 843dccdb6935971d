"""Column types that keep exactness across SQLite and PostgreSQL.

SQLite has no decimal type: a NUMERIC column there round-trips through a binary float. Scores and
money must stay exact, so on SQLite :class:`ExactDecimal` stores the canonical decimal string and
on PostgreSQL a real NUMERIC(precision, scale).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 4) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            if isinstance(value, float):
                raise TypeError("ExactDecimal refuses binary floats; pass a Decimal or an int")
            value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"ExactDecimal cannot store {value}")
        quantum = Decimal(1).scaleb(-self.scale)
        exact = value.quantize(quantum)
        if exact != value:
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return format(exact, "f")
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return exact_decimal(value)


def exact_decimal(value: Any) -> Decimal | None:
    """An :class:`ExactDecimal` column's value as the driver gives it → Decimal, for a caller
    reading rows through the driver itself (``store.db.driver_rows``)."""
    kind = type(value)  # (a snapshot reads millions: the usual two kinds first)
    if kind is Decimal:  # PostgreSQL's NUMERIC
        return value  # type: ignore[no-any-return]
    if kind is str:  # SQLite's canonical text
        return Decimal(value)
    if value is None:
        return None
    if isinstance(value, float):  # never expected; refuse to hide a float silently
        raise TypeError("ExactDecimal read a binary float from the database")
    return Decimal(str(value))


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes, stored as UTC; SQLite hands back naive values, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
