"""Run periods: ``2024`` (year), ``2024-H1`` (half), ``2024-Q3`` (quarter), ``2024-07`` (month).

A period fixes which checkpoints (quarter-end months, or the month itself) fall inside it and
which month's cumulative report counts as "the value at the period end".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|\d{2}))?$")


class PeriodError(ValueError):
    """A period string that is not one of the four forms."""


@dataclass(frozen=True)
class Period:
    text: str
    kind: str  # year | half | quarter | month
    year: int
    end_month: int
    checkpoints: tuple[int, ...]  # months at which schedule progress is checked

    def month_text(self, month: int) -> str:
        return f"{self.year:04d}-{month:02d}"

    @property
    def end(self) -> str:
        return self.month_text(self.end_month)

    @property
    def report_months(self) -> tuple[str, ...]:
        """The months whose cumulative reports a run of this period reads: its checkpoints, its
        end, and every quarter end before it (lag counts over earlier quarters). A snapshot holds
        exactly these months' reports; a rule feature reading another month must add it here."""
        months = {*self.checkpoints, self.end_month, *(m for m in (3, 6, 9, 12) if m <= self.end_month)}
        return tuple(self.month_text(m) for m in sorted(months))


def parse_period(text: str) -> Period:
    m = _PATTERN.match(text)
    if not m:
        raise PeriodError(f"period {text!r} is not YYYY, YYYY-H1/H2, YYYY-Q1..Q4 or YYYY-MM")
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        return Period(text, "year", year, 12, (3, 6, 9, 12))
    if part.startswith("H"):
        half = int(part[1])
        return Period(text, "half", year, 6 * half, (6 * half - 3, 6 * half))
    if part.startswith("Q"):
        quarter = int(part[1])
        return Period(text, "quarter", year, 3 * quarter, (3 * quarter,))
    month = int(part)
    if not 1 <= month <= 12:
        raise PeriodError(f"period {text!r}: month {month} is not 01..12")
    return Period(text, "month", year, month, (month,))
