"""From a snapshot to the facts rules match: targets at the period end, checkpoints, events.

Derived numbers (completion, schedule percentages, expected cumulative values) are rounded to four
places here, once, so every later comparison — in durable_rules, in the cross-check and in the
independent reference — sees the same value.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping
from decimal import Decimal

from engine.facts import EventFact, IndicatorFact, Snapshot, TargetFact, UnitFact
from engine.pack.conditions import Scalar
from engine.pack.model import NotApplicable, RulePack
from engine.run.compose import enrich
from engine.run.derived import Derived, DerivedFact, expected_at
from engine.values import direction as better_way
from engine.values.crediting import crediting
from engine.values.decimals import div
from engine.values.periods import Period

_HUNDRED = Decimal(100)
_TWELVE = Decimal(12)


def effective_method(pack: RulePack, indicator: IndicatorFact) -> str:
    spec = pack.indicator(indicator.code)
    return spec.method if spec and spec.method else indicator.method


def derive(snapshot: Snapshot, period: Period, pack: RulePack) -> Derived:
    units = {u.code: u for u in snapshot.units}
    indicators = {i.code: i for i in snapshot.indicators}
    d = Derived(snapshot, period, units, indicators, {t.id: t for t in snapshot.targets})
    reports = {(r.unit, r.indicator, r.period): r.value for r in snapshot.reports}
    cat_tags = {c.code: c.tags for c in snapshot.categories}
    for t in snapshot.targets:
        na = _not_applicable(pack, units[t.unit], t.indicator, cat_tags)
        if na is not None:
            d.not_applicable[(t.unit, t.indicator)] = na
    live = [
        t
        for t in sorted(snapshot.targets, key=lambda t: t.id)
        if (t.unit, t.indicator) not in d.not_applicable
    ]
    for t in live:
        end = reports.get((t.unit, t.indicator, f"{period.year:04d}-12"))
        done = (
            None
            if end is None
            else better_way.completion(indicators[t.indicator].direction, end, t.annual_value)
        )
        if done is not None:
            d.year_end_completion[t.id] = done
    d.facts["target"] = (
        _targets(live, units, indicators, pack, reports, period) if period.kind == "year" else []
    )
    months = _checkpoint_months(period)
    d.facts["checkpoint"] = [
        f for t in live for f in _checkpoints(t, units, indicators, reports, period, months)
    ]
    d.facts["event"] = (
        [_event(e, units[e.unit], snapshot) for e in sorted(snapshot.events, key=lambda e: e.id)]
        if period.kind == "year"
        else []
    )
    d.facts["sheet"] = []
    enrich(d, pack)
    return d


def _over_bonus_cap(pack: RulePack, ind: IndicatorFact) -> Decimal | None:
    spec = pack.indicator(ind.code)
    params = spec.params if spec is not None and spec.method is not None else ind.params
    raw = params.get("over_bonus_cap")
    return None if raw is None else Decimal(str(raw)) if isinstance(raw, str | int) else raw


def _not_applicable(
    pack: RulePack, unit: UnitFact, indicator: str, cat_tags: Mapping[str, tuple[str, ...]]
) -> NotApplicable | None:
    tags = set(unit.tags) | set(cat_tags.get(unit.category or "", ()))
    for na in pack.not_applicable:
        if na.indicator == indicator and (
            unit.code in na.units
            or (unit.category in na.categories)
            or unit.level in na.unit_levels
            or not tags.isdisjoint(na.tags)
        ):
            return na
    return None


def _common(unit: UnitFact) -> dict[str, Scalar]:
    values: dict[str, Scalar] = {"unit": unit.code, "unit_level": unit.level}
    if unit.category is not None:
        values["category"] = unit.category
    return values


def _targets(
    targets: list[TargetFact],
    units: dict[str, UnitFact],
    indicators: dict[str, IndicatorFact],
    pack: RulePack,
    reports: Mapping[tuple[str, str, str], Decimal],
    period: Period,
) -> list[DerivedFact]:
    rows: list[dict[str, Scalar]] = []
    for t in targets:
        ind = indicators[t.indicator]
        v = _common(units[t.unit])
        v.update(
            indicator=t.indicator,
            section=ind.section,
            direction=ind.direction,
            method=effective_method(pack, ind),
            measure=ind.measure,
            indicator_points=ind.points,
            annual=t.annual_value,
            co_unit_count=Decimal(len(t.co_units)),
        )
        cap = _over_bonus_cap(pack, ind)
        if cap is not None:
            v["over_bonus_cap"] = cap
        actual = reports.get((t.unit, t.indicator, period.end))
        v["has_report"] = actual is not None
        if actual is not None:
            v["actual"] = actual
            pct = better_way.completion(ind.direction, actual, t.annual_value)
            if pct is not None:
                v.update(
                    completion_pct=pct,
                    over_pct=better_way.over(pct),
                    shortfall_pct=better_way.shortfall(pct),
                )
        rows.append(v)
    _ranks(rows)
    return [DerivedFact("target", t.id, t.unit, t.indicator, v) for t, v in zip(targets, rows, strict=True)]


def _ranks(rows: list[dict[str, Scalar]]) -> None:
    """Rank in the category on each indicator by completion, highest first whatever the direction
    (completion already says which way is better); equal values share a rank (1, 1, 3). Also the
    category's average completion."""
    groups: dict[tuple[object, object], list[dict[str, Scalar]]] = {}
    for v in rows:
        if "completion_pct" in v:
            groups.setdefault((v.get("category"), v["indicator"]), []).append(v)
    for group in groups.values():
        pcts = [v["completion_pct"] for v in group]
        assert all(isinstance(p, Decimal) for p in pcts)
        avg = div(sum((p for p in pcts if isinstance(p, Decimal)), Decimal(0)), Decimal(len(group)))
        ordered = sorted(p for p in pcts if isinstance(p, Decimal))  # to count the better ones
        for v in group:
            mine = v["completion_pct"]
            assert isinstance(mine, Decimal)
            better = len(ordered) - bisect.bisect_right(ordered, mine)  # strictly greater
            v["rank"] = Decimal(better + 1)
            v["category_avg_pct"] = avg


_Month = tuple[int, str, dict[str, Scalar]]


def _checkpoint_months(period: Period) -> list[_Month]:
    """Each checkpoint month with its text and the fields every target's checkpoint then has."""
    return [
        (
            month,
            _month_text(period.year, month),
            {
                "checkpoint": _month_text(period.year, month),
                "month": _SMALL[month],
                "quarter": _SMALL[(month + 2) // 3],
                "final": month == 12,
            },
        )
        for month in period.checkpoints
    ]


def _checkpoints(
    t: TargetFact,
    units: dict[str, UnitFact],
    indicators: dict[str, IndicatorFact],
    reports: Mapping[tuple[str, str, str], Decimal],
    period: Period,
    months: list[_Month],
) -> list[DerivedFact]:
    ind = indicators[t.indicator]
    out = []
    base = _common(units[t.unit])  # what the target's checkpoints share
    base.update(indicator=t.indicator, section=ind.section, direction=ind.direction)
    annual, pro_rata = t.annual_value, t.schedule_kind != "milestones"
    way, higher = ind.direction, ind.direction == "higher"
    for month, when, fields in months:
        # expected_at(t, month, year), the pro-rata case written out (800,000 checkpoints)
        expected = div(annual * month, _TWELVE) if pro_rata else expected_at(t, month, period.year)
        v = {**base, **fields, "annual": annual, "expected": expected}
        actual = reports.get((t.unit, t.indicator, when))
        v["has_report"] = actual is not None
        if actual is not None:
            v["actual"] = actual
            if higher and expected > 0:  # better_way's higher case written out (800,000 checkpoints)
                v["schedule_pct"] = div(actual * _HUNDRED, expected)
                v["lagging"] = actual < expected
            else:
                pct = better_way.completion(way, actual, expected)
                if pct is not None:
                    v["schedule_pct"] = pct
                v["lagging"] = better_way.lagging(way, actual, expected)
        out.append(DerivedFact("checkpoint", f"{t.id}@{when}", t.unit, t.indicator, v))
    return out


# One object each for the values 800,000 checkpoints share (a province's; equal either way).
_SMALL = tuple(Decimal(n) for n in range(13))


@functools.lru_cache(maxsize=256)
def _month_text(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def event_timing(e: EventFact, s: Snapshot) -> str:
    """Where the event stands for this run (``engine.values.crediting``, the rule the snapshot's
    reading follows too): in_year, after_cutoff, carried_over, too_late, earlier or later."""
    return crediting(s.year, s.cutoff_date, s.prior_cutoff_date, e.work_year, e.document_date).timing


def _event(e: EventFact, unit: UnitFact, s: Snapshot) -> DerivedFact:
    v = _common(unit)
    credited = any(e.id in p.credited_events for p in s.prior_results if p.unit == e.unit)
    v.update(
        kind=e.kind,
        event_type=e.event_type,
        title=e.title,
        documented=bool(e.document_no),
        timing=event_timing(e, s),
        work_year=Decimal(e.work_year),
        already_credited=credited,
        verified=e.verified_quantity is not None,
    )
    optional: dict[str, str | Decimal | None] = {
        "level": e.level,
        "awarding_body": e.awarding_body,
        "document_no": e.document_no or None,
        "indicator": e.indicator,
        "dedupe_key": e.dedupe_key,
        "claimed_quantity": e.quantity,
        "quantity": e.verified_quantity if e.verified_quantity is not None else e.quantity,
    }
    v.update({k: x for k, x in optional.items() if x is not None})
    return DerivedFact("event", e.id, e.unit, e.indicator, v)
