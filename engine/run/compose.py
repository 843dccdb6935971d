"""On-demand fields: what a pack may read beyond a fact's own values, derived only when it does.

- aggregates on target facts: the category's and all units' average completion and actual value,
  the rank among all units, the group sizes;
- earlier periods: on targets, how many quarter-end checkpoints up to the period end lagged; on
  checkpoints, how many months and quarter ends running (up to this one) lagged;
- ``tags``: the unit's tags and its category's, as one comma-joined text (tested by has / lacks);
- cross-indicator references ``FIELD@INDICATOR``: the same unit's target fact's field on another
  indicator (``rank@CQ01``); on sheet facts also ``score@INDICATOR``;
- on sheet facts: bonus, deduction, target and failed-target counts, more of the grade history.

A pack that reads none of these gets facts with exactly the values it got before, so existing
runs keep their bytes, and a province-scale run pays only for what its pack uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal

from engine.pack.conditions import Scalar, keys_read
from engine.pack.model import Rule, RulePack
from engine.pack.schema import FIELDS
from engine.run.derived import Derived, DerivedFact, expected_at
from engine.run.drafts import Ledger
from engine.values import direction as better_way
from engine.values.decimals import div

_HUNDRED = Decimal(100)
_QUARTER_ENDS = (3, 6, 9, 12)
_CACHE: dict[str, dict[str, frozenset[str]]] = {}


def _rule_keys(rule: Rule) -> set[str]:
    keys = keys_read(rule.when)
    p = rule.effect.points
    if p is not None:
        keys |= {k for k in (p.table_field, p.rate_field, p.multiply_by, p.max_points_field) if k}
    for text in (rule.text_zh, rule.text_en):
        keys |= _placeholders(text)
    return keys


def _placeholders(text: str) -> set[str]:
    import string

    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError:
        return set()


def uses(pack: RulePack) -> dict[str, frozenset[str]]:
    """Per fact type, the on-demand fields and cross-indicator keys the pack's rules read."""
    found = _CACHE.get(pack.sha256)
    if found is not None:
        return found
    out: dict[str, set[str]] = {t: set() for t in FIELDS}
    for rule in pack.rules:
        for key in _rule_keys(rule):
            spec = FIELDS[rule.on].get(key)
            if "@" in key or (spec is not None and spec.on_demand):
                out[rule.on].add(key)
    frozen = {t: frozenset(v) for t, v in out.items()}
    _CACHE[pack.sha256] = frozen
    return frozen


def _tags(d: Derived, unit: str) -> str:
    u = d.units[unit]
    tags = set(u.tags)
    if u.category is not None:
        cat = next((c for c in d.snapshot.categories if c.code == u.category), None)
        if cat is not None:
            tags |= set(cat.tags)
    return ",".join(sorted(tags))


def _with(fact: DerivedFact, extra: Mapping[str, Scalar]) -> DerivedFact:
    if not extra:
        return fact
    return dataclasses.replace(fact, values={**fact.values, **extra})


def _target_values(d: Derived, want_all: bool) -> dict[tuple[str, str | None], dict[str, Scalar]]:
    """Every target fact's values with the aggregates and checkpoint counts added."""
    targets = d.facts.get("target", [])
    extra: dict[str, dict[str, Scalar]] = {f.id: {} for f in targets}
    if want_all:
        reports = _report_values(d)
        _aggregates(targets, extra)
        for f in targets:
            extra[f.id].update(_lagging_quarters(d, f, reports))
    return {(f.unit, f.indicator): {**extra[f.id], **f.values} for f in targets}


_TARGET_EXTRA = frozenset(
    (
        "category_avg_actual",
        "category_count",
        "all_avg_pct",
        "all_avg_actual",
        "all_rank",
        "all_count",
        "checkpoint_count",
        "lagging_checkpoints",
    )
)


def _report_values(d: Derived) -> dict[tuple[str, str, str], Decimal]:
    """(unit, indicator, month) → value: made only when a field the pack reads needs it."""
    return {(r.unit, r.indicator, r.period): r.value for r in d.snapshot.reports}


def enrich(d: Derived, pack: RulePack) -> None:
    """Add what the pack reads to the target, checkpoint and event facts of ``d`` (in place)."""
    wanted = uses(pack)
    if not any(wanted[t] for t in ("target", "checkpoint", "event")):
        return
    cross = any("@" in k for t in ("target", "checkpoint", "event") for k in wanted[t])
    by_unit_ind = _target_values(d, cross or bool(wanted["target"] & _TARGET_EXTRA))
    want_running = wanted["checkpoint"] & {"months_lagging_running", "quarters_lagging_running"}
    reports = _report_values(d) if want_running else {}
    for fact_type in ("target", "checkpoint", "event"):
        want = wanted[fact_type]
        if not want:
            continue
        out = []
        for f in d.facts.get(fact_type, []):
            add: dict[str, Scalar] = {}
            if fact_type == "target":
                full = by_unit_ind[(f.unit, f.indicator)]
                add.update({k: full[k] for k in want & _TARGET_EXTRA if k in full})
            if "tags" in want:
                add["tags"] = _tags(d, f.unit)
            if fact_type == "checkpoint" and want_running:
                add.update(_lagging_running(d, f, reports))
            add.update(_cross(want, f.unit, by_unit_ind))
            out.append(_with(f, add))
        d.facts[fact_type] = out


def _only(extra: Mapping[str, Scalar], have: Mapping[str, Scalar], want: frozenset[str]) -> dict[str, Scalar]:
    return {k: v for k, v in extra.items() if k in want and k not in have}


def _cross(
    want: Iterable[str], unit: str, by_unit_ind: Mapping[tuple[str, str | None], Mapping[str, Scalar]]
) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for key in want:
        field, at, indicator = key.partition("@")
        if not at or field == "score":
            continue
        other = by_unit_ind.get((unit, indicator))
        if other is not None and field in other:
            out[key] = other[field]
    return out


def _aggregates(targets: list[DerivedFact], extra: dict[str, dict[str, Scalar]]) -> None:
    """Averages over the category and over all units on each indicator; the rank among all units
    (by completion, highest first whatever the direction; equal values share a rank)."""
    by_cat: dict[tuple[object, object], list[DerivedFact]] = {}
    by_ind: dict[object, list[DerivedFact]] = {}
    for f in targets:
        if "completion_pct" in f.values:
            by_cat.setdefault((f.values.get("category"), f.indicator), []).append(f)
            by_ind.setdefault(f.indicator, []).append(f)
    for group in by_cat.values():
        avg = _avg(group, "actual")
        for f in group:
            extra[f.id].update(category_avg_actual=avg, category_count=Decimal(len(group)))
    for group in by_ind.values():
        pct, act = _avg(group, "completion_pct"), _avg(group, "actual")
        pcts = [_num(f.values["completion_pct"]) for f in group]
        for f in group:
            mine = _num(f.values["completion_pct"])
            better = sum(1 for p in pcts if p > mine)
            extra[f.id].update(
                all_avg_pct=pct,
                all_avg_actual=act,
                all_rank=Decimal(better + 1),
                all_count=Decimal(len(group)),
            )


def _num(v: Scalar) -> Decimal:
    assert isinstance(v, Decimal) and not isinstance(v, bool)
    return v


def _avg(group: list[DerivedFact], field: str) -> Decimal:
    return div(sum((_num(f.values[field]) for f in group), Decimal(0)), Decimal(len(group)))


def _lagging_at(
    d: Derived, target_id: str, month: int, reports: Mapping[tuple[str, str, str], Decimal]
) -> bool:
    """Whether the target's cumulative report at ``month`` is behind the schedule: below it when
    higher is better, above it otherwise (a month without a report does not lag — it breaks a run)."""
    t = d.targets[target_id]
    actual = reports.get((t.unit, t.indicator, d.period.month_text(month)))
    return actual is not None and better_way.lagging(
        d.indicators[t.indicator].direction, actual, expected_at(t, month, d.period.year)
    )


def _lagging_quarters(
    d: Derived, f: DerivedFact, reports: Mapping[tuple[str, str, str], Decimal]
) -> dict[str, Scalar]:
    months = [m for m in _QUARTER_ENDS if m <= d.period.end_month]
    lagged = sum(1 for m in months if _lagging_at(d, f.id, m, reports))
    return {"checkpoint_count": Decimal(len(months)), "lagging_checkpoints": Decimal(lagged)}


def _lagging_running(
    d: Derived, f: DerivedFact, reports: Mapping[tuple[str, str, str], Decimal]
) -> dict[str, Scalar]:
    target_id = f.id.rsplit("@", 1)[0]
    month = int(_num(f.values["month"]))
    runs: dict[str, Scalar] = {}
    for name, months in (
        ("months_lagging_running", list(range(month, 0, -1))),
        ("quarters_lagging_running", [m for m in reversed(_QUARTER_ENDS) if m <= month]),
    ):
        n = 0
        for m in months:
            if not _lagging_at(d, target_id, m, reports):
                break
            n += 1
        runs[name] = Decimal(n)
    return runs


def enrich_sheets(
    pack: RulePack,
    d: Derived,
    facts: list[DerivedFact],
    totals: Mapping[str, tuple[Decimal, Decimal]],
    led: Ledger,
) -> list[DerivedFact]:
    """Sheet facts with the on-demand fields the pack reads; ``totals``: unit → (bonus, deduction).
    Grade-history runs are added only to graded facts (those with a ``grade``)."""
    want = uses(pack)["sheet"]
    if not want:
        return facts
    cross = [k for k in want if "@" in k and not k.startswith("score@")]
    by_unit_ind = _target_values(d, bool(cross))
    scores: dict[tuple[str, str], Decimal] = {}
    if any(k.startswith("score@") for k in want):
        for dr in led.drafts:
            if dr.effect == "score" and dr.status != "voided" and dr.indicator:
                pair = (dr.unit, dr.indicator)
                scores[pair] = scores.get(pair, Decimal(0)) + dr.points
    targets_of: dict[str, list[Mapping[str, Scalar]]] = {}
    for (unit, _), values in sorted(by_unit_ind.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        targets_of.setdefault(unit, []).append(values)
    out = []
    for f in facts:
        unit = f.unit
        add: dict[str, Scalar] = {}
        bonus, deduction = totals.get(unit, (Decimal(0), Decimal(0)))
        if "bonus" in want:
            add["bonus"] = bonus
        if "deduction" in want:
            add["deduction"] = deduction
        if "tags" in want:
            add["tags"] = _tags(d, unit)
        if want & {"target_count", "failed_targets"}:
            mine = targets_of.get(unit, [])
            add["target_count"] = Decimal(len(mine))
            add["failed_targets"] = Decimal(sum(1 for v in mine if _failed(v)))
        prior = {p.year: p.grade for p in d.snapshot.prior_results if p.unit == unit}
        g3 = prior.get(d.period.year - 3)
        if "prior_grade_3" in want and g3 is not None:
            add["prior_grade_3"] = g3
        grade = f.values.get("grade")
        if isinstance(grade, str):
            runs: tuple[tuple[str, tuple[str, ...]], ...] = (
                ("excellent_years_running", ("excellent",)),
                ("good_years_running", ("good",)),
                ("fair_or_poor_years_running", ("fair", "poor")),
            )
            for name, grades in runs:
                if name in want:
                    n, year, g = 0, d.period.year, grade
                    while g in grades:
                        n += 1
                        year -= 1
                        g = prior.get(year) or ""
                    add[name] = Decimal(n)
        for key in want:
            field, at, indicator = key.partition("@")
            if at and field == "score" and (unit, indicator) in scores:
                add[key] = scores[(unit, indicator)]
        add.update(_cross(cross, unit, by_unit_ind))
        out.append(_with(f, add))
    return out


def _failed(values: Mapping[str, Scalar]) -> bool:
    """A target not met at the period end: below target (higher is better) or above it."""
    actual, annual, direction = values.get("actual"), values.get("annual"), values.get("direction")
    if not isinstance(actual, Decimal) or not isinstance(annual, Decimal) or not isinstance(direction, str):
        return True  # no report: not met
    return not better_way.met(direction, actual, annual)
