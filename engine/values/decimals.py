"""Exact numbers: every point, value and ratio is a Decimal with at most four decimal places.

durable_rules compares numbers as 64-bit integers (and rejects exponent floats), so values cross
into it scaled by ``SCALE``. Quantizing derived ratios to four places *before* any comparison is
what lets the engine, the durable match and the independent reference agree bit for bit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from engine.values.canonical import decimal_text

SCALE = 10_000  # = 10⁴: scaled() moves the exponent by 4
PLACES = Decimal("0.0001")
_INT64 = 2**63 - 1
_CONTEXT = Context(prec=60)


class NumberError(ValueError):
    """A number that has no exact, finite, four-place form."""


def check_decimal(value: object, where: str) -> Decimal:
    """Accept a Decimal or int with at most four decimal places; refuse floats, NaN, infinity."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise NumberError(f"{where}: expected an exact decimal, got {type(value).__name__} {value!r}")
    d = Decimal(value)
    if not d.is_finite():
        raise NumberError(f"{where}: {d} is not a finite number")
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4 and d != d.quantize(PLACES):
        raise NumberError(f"{where}: {d} has more than four decimal places")
    if abs(d) * SCALE > _INT64:
        raise NumberError(f"{where}: {d} is too large")
    return d


# The context's own rounding is the engine's, so its methods take no keywords (a province run
# rounds millions of values).
_HALF_UP = Context(prec=60, rounding=ROUND_HALF_UP)


def q(value: Decimal) -> Decimal:
    """Round half up to four places: the one rounding rule of the engine."""
    return _HALF_UP.quantize(value, PLACES)


def div(a: Decimal, b: Decimal) -> Decimal:
    """Exact-context division rounded to four places (callers ensure ``b`` is not zero)."""
    return _HALF_UP.quantize(_HALF_UP.divide(a, b), PLACES)


def mul(a: Decimal, b: Decimal) -> Decimal:
    return _HALF_UP.quantize(_HALF_UP.multiply(a, b), PLACES)


def scaled(value: Decimal) -> int:
    """The integer durable_rules sees for ``value`` (exact: values carry four places at most)."""
    s = value.scaleb(4, _CONTEXT)  # exact: only the exponent moves (SCALE is 10⁴)
    n = int(s)
    if s != n:
        raise NumberError(f"{value} has more than four decimal places")
    return n


def fmt(value: Decimal) -> str:
    """Plain text of a decimal for messages: no exponent, no trailing zeros — the canonical text
    (``engine.values.canonical.decimal_text``), or what ``format`` gives a NaN or an infinity."""
    if not value.is_finite():
        return format(value, "f")
    return decimal_text(value)
