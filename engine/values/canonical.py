"""Canonical JSON: the one byte form that hashes, snapshots and run hashes are computed over.

Keys sorted, no insignificant white space, UTF-8, decimals as plain strings (never exponent form),
dates as ISO strings. Two equal values always give the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson


def to_plain(value: Any) -> Any:
    """Turn dataclasses, decimals, dates, tuples and mappings into JSON-ready plain values."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    convert = _BY_TYPE.get(kind)
    if convert is not None:
        return convert(value)
    return _general(value)


def _general(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        if dataclasses.is_dataclass(type(value)):
            # Exact dataclass types are remembered: the next instance skips these checks.
            _BY_TYPE[type(value)] = lambda v: {n: to_plain(getattr(v, n)) for n in names}
        return {n: to_plain(getattr(value, n)) for n in names}
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, float):
        raise TypeError("binary floats have no canonical form here; use Decimal")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime has no canonical form")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _decimal(value: Decimal) -> str:
    """The canonical text: ``format(value.normalize(), "f")``, with "0" for a zero of either sign.

    ``str`` already gives plain notation, exactly, for nearly every number a run writes (millions
    of them: no exponent, up to trailing zeros), and costs a fifth of ``normalize`` + ``format``;
    the rest — exponent form, more digits than the default context keeps — take the long way."""
    text = str(value)
    if "E" in text or len(text) > _SHORT or not value.is_finite():
        return _normalized(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# Texts this long may hold more digits than ``normalize`` keeps (28): they take its way.
_SHORT = 28


def _normalized(value: Decimal) -> str:
    if not value.is_finite():  # (a signalling NaN cannot even be hashed)
        raise ValueError(f"non-finite decimal {value} has no canonical form")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


decimal_text = _decimal  # the canonical text of a finite decimal, for messages too


def _sequence(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [to_plain(v) for v in value]


def _dict(value: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): to_plain(v) for k, v in value.items()}


# Converters by exact type (subclasses take the general path, so nothing changes meaning).
_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    Decimal: _decimal,
    tuple: _sequence,
    list: _sequence,
    dict: _dict,
    dt.date: lambda v: v.isoformat(),
}


def canonical_json(value: Any) -> bytes:
    return dumps(to_plain(value))


# orjson writes str, 64-bit int, bool, None, list and str-keyed dict exactly as ``json`` does
# (tests/test_canonical.py compares them); what it would write otherwise — subclasses,
# dataclasses, dates — or refuses (big ints, other keys) goes to ``json``, whose bytes define the
# canonical form. Floats never get here: ``to_plain`` refuses them.
_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
_ORJSON |= orjson.OPT_PASSTHROUGH_DATETIME
CANONICAL_OPTIONS = _ORJSON  # for a caller embedding ready canonical parts (``orjson.Fragment``)


def dumps(plain: Any) -> bytes:
    """The canonical bytes of an already plain value: keys sorted, no white space, UTF-8 —
    exactly ``json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``,
    about ten times faster (a province run dumps millions of rows)."""
    try:
        return orjson.dumps(plain, option=_ORJSON)
    except TypeError:
        return _json_dumps(plain)


def _json_dumps(plain: Any) -> bytes:
    return json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
