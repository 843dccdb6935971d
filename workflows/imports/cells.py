"""Turning one cell into a typed value, by the column's type in ``sheets.py``.

Decimals: "12.5", "-3", "1,234.5" (commas only between groups of three digits) are accepted;
"12.5%" is refused, because a percentage's unit belongs in the indicator's ``measure`` and
"12.5%" could mean 12.5 or 0.125. Exponents, NaN and infinity are refused. A numeric Excel cell
arrives as a binary float: it is read as Excel shows it (15 significant digits), so 0.1 stays 0.1,
and refused if that has more decimal places than the column stores. No float goes any further.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from workflows.imports.limits import Limits
from workflows.imports.readers import Cell, is_blank
from workflows.imports.sheets import Column

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})|(\d{4})年(\d{1,2})月(\d{1,2})日")
_TRUE = frozenset({"yes", "y", "true", "1", "是", "√"})
_FALSE = frozenset({"no", "n", "false", "0", "否", "×"})


class CellError(ValueError):
    """A cell's value does not fit its column; the message says what was expected."""


def show(value: Cell) -> str:
    """A cell value as the error message quotes it."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def dec_str(value: Decimal) -> str:
    """Canonical decimal text for JSON fields: plain notation, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def to_decimal(value: Cell, limits: Limits) -> Decimal:
    if isinstance(value, bool):
        raise CellError(f"expected a number, got {show(value)}")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CellError(f"expected a number, got {show(value)}")
        number = Decimal(format(value, ".15g"))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and _NUMBER.fullmatch(text[:-1].strip()):
            raise CellError(f"expected a number without %, got {show(value)} "
                            "(the indicator's measure says the unit)")
        if not _NUMBER.fullmatch(text):
            raise CellError(f"expected a number, got {show(value)}")
        number = Decimal(text.replace(",", ""))
    else:
        raise CellError(f"expected a number, got {show(value)}")
    if not number.is_finite():
        raise CellError(f"expected a number, got {show(value)}")
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -limits.scale:
        raise CellError(f"{show(value)} has more than {limits.scale} decimal places")
    if abs(number) >= Decimal(10) ** (limits.precision - limits.scale):
        raise CellError(f"{show(value)} is too large (at most {limits.precision - limits.scale} "
                        "digits before the decimal point)")
    return number


def to_int(value: Cell) -> int:
    try:
        number = to_decimal(value, Limits(precision=18, scale=0))
    except CellError as exc:
        raise CellError(f"expected a whole number, got {show(value)}") from exc
    return int(number)


def to_date(value: Cell) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise CellError(f"expected a date YYYY-MM-DD without a time, got {show(value)}")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and (m := _DATE.fullmatch(value.strip())):
        y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
        try:
            return dt.date(y, mo, d)
        except ValueError as exc:
            raise CellError(f"expected a date YYYY-MM-DD, got {show(value)} ({exc})") from exc
    raise CellError(f"expected a date YYYY-MM-DD, got {show(value)}")


def to_datetime(value: Cell) -> dt.datetime:
    """A time of submission; without a zone it is Beijing time (UTC+8)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(0))
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("/", "-"))
        except ValueError as exc:
            raise CellError(f"expected a date and time YYYY-MM-DD HH:MM, got {show(value)}") from exc
    else:
        raise CellError(f"expected a date and time YYYY-MM-DD HH:MM, got {show(value)}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


def to_bool(value: Cell) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if isinstance(value, int | float | str) and text in _TRUE:
        return True
    if isinstance(value, int | float | str) and text in _FALSE:
        return False
    raise CellError(f"expected yes or no (是/否), got {show(value)}")


def _json_plain(value: Any) -> Any:
    """Fractional JSON numbers become decimal strings so that no binary float is stored."""
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, dict):
        return {k: _json_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_plain(v) for v in value]
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def to_json_object(value: Cell) -> dict[str, Any]:
    if not isinstance(value, str):
        raise CellError(f"expected a JSON object, got {show(value)}")
    try:
        parsed = json.loads(value, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, InvalidOperation) as exc:
        raise CellError(f"invalid JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise CellError(f"expected a JSON object {{…}}, got {show(value)}")
    plain: dict[str, Any] = _json_plain(parsed)
    return plain


def to_text(value: Cell, limits: Limits) -> str:
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else format(value, ".15g")
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value).strip()
    if limits.max_length is not None and len(text) > limits.max_length:
        raise CellError(f"text longer than {limits.max_length} characters")
    return text


def to_choice(value: Cell, choices: tuple[str, ...]) -> str:
    text = str(value).strip()
    for choice in choices:
        if text.casefold() == choice.casefold():
            return choice
    raise CellError(f"expected one of {', '.join(choices)}, got {show(value)}")


def parse_cell(column: Column, value: Cell, limits: Limits) -> object | None:
    """The typed value of a cell, or None when it is empty."""
    if is_blank(value):
        return None
    match column.type:
        case "decimal":
            return to_decimal(value, limits)
        case "int":
            return to_int(value)
        case "date":
            return to_date(value)
        case "datetime":
            return to_datetime(value)
        case "bool":
            return to_bool(value)
        case "json":
            return to_json_object(value)
        case "choice":
            return to_choice(value, column.choices)
        case _:
            return to_text(value, limits)
