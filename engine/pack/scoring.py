"""Indicator scoring methods: exact Decimal arithmetic, one pure function per method.

Each method reads its parameters from the pack (``indicators:`` or a score rule's effect) or from
the indicator in the snapshot; ``check_params`` refuses unknown or mistyped parameters so a typo
can't silently fall back to a default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.values import direction as better_way
from engine.values.decimals import check_decimal, div, fmt, mul, q

_HUNDRED = Decimal(100)
_DEFAULT_BANDS: tuple[tuple[Decimal | None, Decimal], ...] = (
    (Decimal(130), Decimal("0.2")),
    (None, Decimal("0.1")),
)

# method → parameter → kind (num | bands | table). Decimals may be given as strings.
METHOD_PARAMS: dict[str, dict[str, str]] = {
    "pass_fail": {"fail_points": "num"},
    "proportional": {"ceiling": "num"},
    "step": {"per_point": "num", "over_bands": "bands", "net_limit": "num"},
    "ranking_decay": {"step_pct": "num", "floor_pct": "num"},
    "ranking_table": {"table": "table", "default": "num"},
    "lower_better": {"ceiling": "num", "per_point_over": "num"},
    "control_line": {"control": "num", "over_score": "num"},
    "rubric": {"scale": "num"},
}
# Accepted with every method: read by rules (e.g. an over-completion bonus's cap), not by scoring.
COMMON_PARAMS: dict[str, str] = {"over_bonus_cap": "num"}
# The directions each method can score. lower_better and control_line reward less by their
# definition and a rubric's assessed score more: paired with the other direction they would
# reward the worse value, so such a pairing is refused (check.validate_pack) and never scored.
METHOD_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "pass_fail": ("higher", "lower", "control_line"),
    "proportional": ("higher", "lower", "control_line"),
    "step": ("higher", "lower", "control_line"),
    "ranking_decay": ("higher", "lower", "control_line"),
    "ranking_table": ("higher", "lower", "control_line"),
    "lower_better": ("lower", "control_line"),
    "control_line": ("lower", "control_line"),
    "rubric": ("higher",),
}


@dataclass(frozen=True)
class ScoreInput:
    points: Decimal  # the indicator's full points (分值)
    annual: Decimal
    actual: Decimal
    direction: str
    rank: int | None  # place in the category on this indicator (ranking methods)


def _num(v: Any, where: str) -> Decimal:
    if isinstance(v, str):
        try:
            v = Decimal(v)
        except ArithmeticError as exc:
            raise ValueError(f"{where}: {v!r} is not a decimal") from exc
    return check_decimal(v, where)


def check_params(method: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed parameters for ``method``; raises ValueError naming the offending parameter."""
    spec = METHOD_PARAMS.get(method)
    if spec is None:
        raise ValueError(f"unknown scoring method '{method}'")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = spec.get(key) or COMMON_PARAMS.get(key)
        if kind is None:
            known = ", ".join([*spec, *COMMON_PARAMS])
            raise ValueError(f"unknown parameter '{key}' for method {method} (known: {known})")
        if kind == "num":
            out[key] = _num(value, key)
        elif kind == "bands":
            out[key] = _bands(value)
        else:
            out[key] = _table(value)
    return out


def _bands(value: Any) -> tuple[tuple[Decimal | None, Decimal], ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("over_bands: a list of {upto, per_point}")
    bands: list[tuple[Decimal | None, Decimal]] = []
    for i, band in enumerate(value):
        if not isinstance(band, dict) or "per_point" not in band or set(band) - {"upto", "per_point"}:
            raise ValueError(f"over_bands[{i}]: needs per_point and optional upto, nothing else")
        upto = _num(band["upto"], f"over_bands[{i}].upto") if band.get("upto") is not None else None
        if upto is None and i != len(value) - 1:
            raise ValueError(f"over_bands[{i}]: only the last band may be open-ended")
        if upto is not None and bands and (bands[-1][0] is None or upto <= (bands[-1][0] or 0)):
            raise ValueError(f"over_bands[{i}]: upto must increase")
        bands.append((upto, _num(band["per_point"], f"over_bands[{i}].per_point")))
    return tuple(bands)


def _table(value: Any) -> tuple[tuple[int, Decimal], ...]:
    if not isinstance(value, dict) or not value:
        raise ValueError("table: a mapping of rank: points")
    rows = []
    for k, v in value.items():
        if not str(k).isdigit() or int(k) < 1:
            raise ValueError(f"table: rank {k!r} must be a positive integer")
        rows.append((int(k), _num(v, f"table.{k}")))
    return tuple(sorted(rows))


def needs_rank(method: str) -> bool:
    return method in ("ranking_decay", "ranking_table")


def direction_problem(method: str, direction: str) -> str | None:
    """Why ``method`` cannot score an indicator of ``direction`` (None: it can)."""
    suits = METHOD_DIRECTIONS.get(method, ())
    if direction in suits:
        return None
    better = "more" if direction == "higher" else "less"
    return (
        f"method {method} cannot score a {direction} indicator ({better} is better): it scores only "
        f"{' or '.join(suits)} indicators; choose {_suggest(direction)} or correct the direction"
    )


def _suggest(direction: str) -> str:
    fits = [m for m, ds in METHOD_DIRECTIONS.items() if direction in ds]
    return ", ".join(fits)


def score(method: str, params: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    """(points earned, an English note on how) for one target under ``method``."""
    return _METHODS[method](params, inp)


def _completion(inp: ScoreInput) -> Decimal | None:
    """The target fact's ``completion_pct``: above 100 is better than the target, whatever the direction."""
    return better_way.completion(inp.direction, inp.actual, inp.annual)


def _pass_fail(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    ok = better_way.met(inp.direction, inp.actual, inp.annual)
    fail = p.get("fail_points", Decimal(0))
    return (inp.points, "met") if ok else (fail, "not met")


def _proportional(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    """points × min(actual ÷ target, ceiling) — target ÷ actual for lower-is-better (one rounding;
    an actual of 0 or below is as good as lower-is-better gets: the ceiling)."""
    ceiling = p.get("ceiling", Decimal(1))
    top = mul(inp.points, ceiling)
    if inp.direction == "higher":
        raw = Decimal(0) if inp.annual == 0 else div(inp.points * inp.actual, inp.annual)
    else:
        raw = top if inp.actual <= 0 else div(inp.points * inp.annual, inp.actual)
    return max(Decimal(0), min(raw, top)), f"{fmt(raw)} before the ceiling {fmt(top)}"


def _step(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    pct = _completion(inp)
    if pct is None:
        return inp.points, "no target value: full points"
    short = p.get("per_point", Decimal("0.1"))
    bands = p.get("over_bands", _DEFAULT_BANDS)
    net = p.get("net_limit", Decimal(10))
    if pct < _HUNDRED:
        adj = -mul(short, _HUNDRED - pct)
    else:
        adj, low = Decimal(0), _HUNDRED
        for upto, per in bands:
            top = pct if upto is None else min(pct, upto)
            if top > low:
                adj += mul(per, top - low)
            if upto is None or pct <= upto:
                break
            low = upto
    limited = max(-net, min(adj, net))
    return q(inp.points + limited), f"completion {fmt(pct)}%: {fmt(adj)} (net limit ±{fmt(net)})"


def _ranking_decay(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    rank = inp.rank or 1
    decay = p.get("step_pct", Decimal(5))
    floor = p.get("floor_pct", Decimal(0))
    pct = max(floor, _HUNDRED - decay * (rank - 1))
    return div(inp.points * pct, _HUNDRED), f"rank {rank}: {fmt(pct)}%"


def _ranking_table(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    rank = inp.rank or 1
    table = dict(p.get("table", ()))
    got = table.get(rank, p.get("default", Decimal(0)))
    return min(got, inp.points), f"rank {rank} in the table"


def _lower_better(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    """Full points at or below target; above it points × target ÷ actual (capped by ``ceiling``;
    an actual of 0 or below earns the ceiling), or, with ``per_point_over``, minus that much per
    percentage point over."""
    per = p.get("per_point_over")
    if per is not None:
        if inp.actual <= inp.annual:
            return inp.points, f"{fmt(inp.actual)} ≤ {fmt(inp.annual)}"
        over = Decimal(0) if inp.annual == 0 else div((inp.actual - inp.annual) * _HUNDRED, inp.annual)
        return max(Decimal(0), q(inp.points - mul(per, over))), f"{fmt(over)} points over target"
    top = mul(inp.points, p.get("ceiling", Decimal(1)))
    raw = top if inp.actual <= 0 else div(inp.points * inp.annual, inp.actual)
    return max(Decimal(0), min(raw, top)), f"{fmt(raw)} before the ceiling {fmt(top)}"


def _control_line(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    control = p.get("control", inp.annual)
    if inp.actual <= control:
        return inp.points, f"{fmt(inp.actual)} within control line {fmt(control)}"
    return p.get("over_score", Decimal(0)), f"{fmt(inp.actual)} above control line {fmt(control)}"


def _rubric(p: Mapping[str, Any], inp: ScoreInput) -> tuple[Decimal, str]:
    """The assessed score; with ``scale`` it is out of that scale and converted to the points."""
    scale = p.get("scale")
    got = inp.actual if scale is None or scale == 0 else div(inp.actual * inp.points, scale)
    return max(Decimal(0), min(got, inp.points)), "rubric score as assessed"


_METHODS: dict[str, Callable[[Mapping[str, Any], ScoreInput], tuple[Decimal, str]]] = {
    "pass_fail": _pass_fail,
    "proportional": _proportional,
    "step": _step,
    "ranking_decay": _ranking_decay,
    "ranking_table": _ranking_table,
    "lower_better": _lower_better,
    "control_line": _control_line,
    "rubric": _rubric,
}
