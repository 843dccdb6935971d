"""Run periods as users write them: ``2024``, ``2024-H1``, ``2024-Q3``, ``2024-07``."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from workflows.errors import Invalid

_PATTERN = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|\d{2}))?$")
_KIND_MONTHS = {"year": 12, "half": 6, "quarter": 3, "month": 1}


@dataclass(frozen=True)
class Period:
    year: int
    kind: str  # year | half | quarter | month
    index: int  # 1 for a year; 1–2 halves; 1–4 quarters; 1–12 months

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PATTERN.match(text.strip())
        if not match:
            raise Invalid(f"period {text!r} is not YYYY, YYYY-H1/H2, YYYY-Q1..Q4 or YYYY-MM")
        year, part = int(match.group(1)), match.group(2)
        if part is None:
            return cls(year, "year", 1)
        if part[0] == "H":
            return cls(year, "half", int(part[1]))
        if part[0] == "Q":
            return cls(year, "quarter", int(part[1]))
        month = int(part)
        if not 1 <= month <= 12:
            raise Invalid(f"period {text!r}: month must be 01–12")
        return cls(year, "month", month)

    @property
    def last_month_number(self) -> int:
        return self.index * _KIND_MONTHS[self.kind]

    @property
    def first_month_number(self) -> int:
        return self.last_month_number - _KIND_MONTHS[self.kind] + 1

    @property
    def last_month(self) -> str:
        return f"{self.year}-{self.last_month_number:02d}"

    @property
    def end(self) -> dt.date:
        month = self.last_month_number
        return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])

    def __str__(self) -> str:
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        return f"{self.year}-{'H' if self.kind == 'half' else 'Q'}{self.index}"
