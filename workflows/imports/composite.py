"""Cells with a small grammar of their own: periods, milestones, co-units, the 优秀 quota."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

from workflows.imports.cells import CellError, dec_str, show, to_decimal
from workflows.imports.limits import Limits

_PERIOD = re.compile(r"(\d{4})[-/](\d{1,2})(?:-01)?")
_MILESTONE = re.compile(r"(?:(\d{4})-)?(\d{1,2})\s*[=:：]\s*(.+)")
_QUOTA = re.compile(r"(\d+)|(\d+(?:\.\d+)?)\s*%")
SHARE_LIMITS = Limits(precision=5, scale=4)


def parse_period(text: str, year: int) -> str:
    """YYYY-MM inside the scheme year. "2024-3" and "2024-03-01" (Excel turns a typed 2024-03
    into the first of the month) are read as 2024-03."""
    m = _PERIOD.fullmatch(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise CellError(f"expected a month YYYY-MM, got {show(text)}")
    period = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    if int(m.group(1)) != year:
        raise CellError(f"period {period} is outside the scheme year {year}")
    return period


def parse_milestones(text: str, year: int, limits: Limits) -> dict[str, str]:
    """"03=20;06=45;12=100" → {"2024-03": "20", …}: months 01–12, cumulative, never decreasing."""
    points: dict[str, Decimal] = {}
    for part in (p.strip() for p in re.split(r"[;；]", text)):
        if not part:
            continue
        m = _MILESTONE.fullmatch(part)
        if not m:
            raise CellError(f"expected milestones like 03=20;06=45;12=100, got {show(part)}")
        if m.group(1) and int(m.group(1)) != year:
            raise CellError(f"milestone {show(part)} is outside the scheme year {year}")
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise CellError(f"milestone month must be 01–12, got {show(part)}")
        key = f"{year:04d}-{month:02d}"
        if key in points:
            raise CellError(f"milestone month {month:02d} is given twice")
        try:
            points[key] = to_decimal(m.group(3).strip(), limits)
        except CellError as exc:
            raise CellError(f"milestone {show(part)}: {exc}") from exc
    if not points:
        raise CellError(f"expected milestones like 03=20;06=45;12=100, got {show(text)}")
    ordered = sorted(points.items())
    for (p1, v1), (p2, v2) in itertools.pairwise(ordered):
        if v2 < v1:
            raise CellError(f"milestones must be cumulative (never decreasing): {p2[5:]}={dec_str(v2)} "
                            f"is below {p1[5:]}={dec_str(v1)}")
    return {k: dec_str(v) for k, v in ordered}


def parse_co_units(text: str) -> list[tuple[str, Decimal]]:
    """"D07:0.3;D09" → [("D07", 0.3), ("D09", 0)]: a share is 0..1; 0 leaves it to the rule pack."""
    result: list[tuple[str, Decimal]] = []
    for part in (p.strip() for p in re.split(r"[;；]", text)):
        if not part:
            continue
        code, sep, share_text = part.replace("：", ":").partition(":")
        code = code.strip()
        if not code:
            raise CellError(f"expected co-units like D07:0.3;D09, got {show(part)}")
        share = Decimal(0)
        if sep:
            try:
                share = to_decimal(share_text.strip(), SHARE_LIMITS)
            except CellError as exc:
                raise CellError(f"co-unit {code}: share {exc}") from exc
            if not Decimal(0) <= share <= Decimal(1):
                raise CellError(f"co-unit {code}: share must be between 0 and 1, got {share_text.strip()}")
        if any(c == code for c, _ in result):
            raise CellError(f"co-unit {code} is listed twice")
        result.append((code, share))
    return result


def parse_quota(text: str) -> str:
    """A count ("3") or a percentage of the category ("20%"), kept as written, normalized."""
    m = _QUOTA.fullmatch(text.strip())
    if not m:
        raise CellError(f"expected a count like 3 or a percentage like 20%, got {show(text)}")
    if m.group(1):
        return str(int(m.group(1)))
    pct = Decimal(m.group(2))
    if pct > 100:
        raise CellError(f"a percentage quota must be at most 100%, got {show(text)}")
    return f"{dec_str(pct)}%"
