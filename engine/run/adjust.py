"""After raw points: appeal overrides, per-rule caps, catch-up resets, bucket caps and item floors.

Order matters and is fixed: override → rule cap → reset → bucket cap → floor. Each step that
takes points records a cut naming what took them, so "bonus cut from 7 to 5 by the honours cap"
can be shown. Where a cap or floor must take points from several firings, it takes them from the
last firings in canonical order.
"""

from __future__ import annotations

from decimal import Decimal

from engine.facts import FiringOverride
from engine.pack.model import RulePack
from engine.run.derived import Derived
from engine.run.drafts import CutDraft, Draft, Ledger
from engine.values.decimals import fmt


def _cut(
    led: Ledger,
    drafts: list[Draft],
    kind: str,
    source: str,
    before: Decimal,
    after: Decimal,
    zh: str,
    en: str,
) -> None:
    first = drafts[0]
    led.cuts.append(CutDraft(first.unit, first.indicator, kind, source, drafts, before, after, zh, en))


def apply_overrides(
    overrides: tuple[FiringOverride, ...], led: Ledger, defer: frozenset[str] = frozenset()
) -> None:
    """Decided appeals void or adjust a firing; the firing stays, marked, with the appeal named.
    Overrides of the rules in ``defer`` (sheet rules, applied later) are left for their pass."""
    for o in overrides:
        if o.rule_id in defer:
            continue
        wanted = tuple(sorted(o.fact_ids))
        hits = [
            dr
            for dr in led.drafts
            if dr.rule_id == o.rule_id
            and dr.unit == o.unit
            and dr.indicator == o.indicator
            and tuple(sorted(dr.fact_ids)) == wanted
        ]
        if not hits:
            led.gap(
                o.unit,
                o.indicator,
                "gap.override_unmatched",
                [],
                f"申诉结论 {o.reference} 未对应任何规则触发（{o.rule_id}）",
                f"appeal decision {o.reference} matches no firing of {o.rule_id}",
            )
            continue
        for dr in hits:
            before = dr.points
            if o.action == "void":
                dr.points, dr.status = Decimal(0), "voided"
            else:
                dr.points, dr.status = o.points if o.points is not None else dr.points, "adjusted"
            dr.override = o.reference
            _cut(
                led,
                [dr],
                "override",
                o.reference,
                before,
                dr.points,
                f"申诉 {o.reference}：{fmt(before)} → {fmt(dr.points)}",
                f"appeal {o.reference}: {fmt(before)} → {fmt(dr.points)}",
            )


def apply_rule_caps(led: Ledger) -> None:
    for dr in led.drafts:
        p = dr.rule.effect.points if dr.rule is not None else None
        if p is None or dr.status == "voided":
            continue
        cap = p.max_points
        if p.max_points_field is not None and dr.facts:
            found = dr.facts[0].values.get(p.max_points_field)
            cap = found if isinstance(found, Decimal) else None
        if cap is None or abs(dr.points) <= cap:
            continue
        before = dr.points
        dr.points = cap if before > 0 else -cap
        _cut(
            led,
            [dr],
            "rule_cap",
            dr.rule_id,
            before,
            dr.points,
            f"规则 {dr.rule_id} 单项封顶：{fmt(before)} → {fmt(dr.points)}",
            f"capped by rule {dr.rule_id}: {fmt(before)} → {fmt(dr.points)}",
        )


def apply_resets(d: Derived, led: Ledger) -> None:
    """Schedule-lag deductions of a target that reached 100% by year end are reset, if the rule says so."""
    if d.period.kind != "year":
        return
    for dr in led.drafts:
        if dr.rule is None or not dr.rule.effect.reset_if_caught_up or dr.points == 0:
            continue
        target_id = dr.facts[0].id.split("@")[0]
        done = d.year_end_completion.get(target_id)
        if done is not None and done >= 100:
            before, dr.points = dr.points, Decimal(0)
            _cut(
                led,
                [dr],
                "reset",
                dr.rule_id,
                before,
                Decimal(0),
                f"年底已完成目标（{fmt(done)}%），序时扣分 {fmt(before)} 取消",
                f"caught up by year end ({fmt(done)}%): lag deduction {fmt(before)} reset",
            )


def _take(group: list[Draft], excess: Decimal) -> None:
    """Reduce magnitudes by ``excess``, from the last firing in canonical order backwards."""
    for dr in sorted(group, key=Draft.sort_key, reverse=True):
        if excess <= 0:
            break
        give = min(abs(dr.points), excess)
        dr.points = dr.points - give if dr.points > 0 else dr.points + give
        excess -= give


def apply_bucket_caps(pack: RulePack, led: Ledger) -> None:
    groups: dict[tuple[str, str, str], list[Draft]] = {}
    for dr in led.drafts:
        if dr.bucket is None or dr.status == "voided":
            continue
        bucket = pack.bucket(dr.bucket)
        assert bucket is not None
        scope = (dr.indicator or "") if bucket.per == "indicator" else ""
        groups.setdefault((dr.bucket, dr.unit, scope), []).append(dr)
    for (code, _unit, scope), group in sorted(groups.items()):
        bucket = pack.bucket(code)
        assert bucket is not None
        cap = dict(bucket.indicator_caps).get(scope, bucket.cap) if scope else bucket.cap
        total = sum((dr.points for dr in group), Decimal(0))
        if cap is None or abs(total) <= cap:
            continue
        _take(group, abs(total) - cap)
        after = cap if total > 0 else -cap
        sign = "加分" if total > 0 else "扣分"
        word = "bonus" if total > 0 else "deduction"
        _cut(
            led,
            sorted(group, key=Draft.sort_key),
            "bucket_cap",
            code,
            total,
            after,
            f"{sign}由 {fmt(total)} 按「{bucket.name_zh}」封顶为 {fmt(after)}",
            f"{word} cut from {fmt(abs(total))} to {fmt(abs(after))} by the {bucket.name_en} cap",
        )


def apply_floors(pack: RulePack, d: Derived, led: Ledger) -> None:
    """扣完为止: deductions on an item stop at the item's points (or at its negative limit)."""
    groups: dict[tuple[str, str], list[Draft]] = {}
    for dr in led.drafts:
        bucket = pack.bucket(dr.bucket) if dr.bucket else None
        if bucket is None or not bucket.floor_at_item or dr.indicator is None or dr.effect != "deduction":
            continue
        groups.setdefault((dr.unit, dr.indicator), []).append(dr)
    for (_unit, indicator), group in sorted(groups.items()):
        spec = pack.indicator(indicator)
        floor = spec.floor if spec is not None and spec.floor is not None else pack.item_floor
        room = d.indicators[indicator].points - floor
        total = sum((dr.points for dr in group), Decimal(0))
        if -total <= room:
            continue
        _take(group, -total - room)
        limit = "扣完为止" if floor == 0 else f"最低 {fmt(floor)} 分"
        _cut(
            led,
            sorted(group, key=Draft.sort_key),
            "floor",
            indicator,
            total,
            -room,
            f"{indicator} 扣分由 {fmt(total)} 截至 {fmt(-room)}（{limit}）",
            f"deductions on {indicator} cut from {fmt(total)} to {fmt(-room)} "
            f"({'the item floor' if floor == 0 else 'negative limit ' + fmt(floor)})",
        )
