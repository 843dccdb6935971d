"""Score sheets: section scores by category weights, bonuses and deductions, vetoes, totals.

A section is scored as weight × earned ÷ full, where full is the points its indicators are
printed to add up to (the pack's ``full``, else the weight itself). If the unit's indicators do
not add up to that, a gap firing says so: flagged, never silently rescaled. Only a declared
not-applicable item with ``treatment: rescale`` lowers the full.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from engine.facts import TargetFact
from engine.pack.model import RulePack, SectionWeight
from engine.result import SectionScore, VetoNote
from engine.run.derived import Derived
from engine.run.drafts import Draft, Ledger
from engine.values.decimals import div, fmt, mul, q


@dataclass
class SheetDraft:
    unit: str
    category: str | None
    sections: tuple[SectionScore, ...]
    bonus: Decimal
    deduction: Decimal
    vetoes: list[tuple[Draft, VetoNote]]
    total: Decimal
    credited_events: tuple[str, ...]


def section_weights(pack: RulePack, d: Derived, category: str) -> tuple[SectionWeight, ...]:
    own = dict(pack.categories).get(category)
    if own is not None:
        return own
    cat = next(c for c in d.snapshot.categories if c.code == category)
    return tuple(SectionWeight(s.code, s.weight) for s in cat.sections)


def _applied(drafts: Iterable[Draft], effect: str) -> list[Draft]:
    return [dr for dr in drafts if dr.effect == effect and dr.status != "voided"]


def build_sheets(pack: RulePack, d: Derived, led: Ledger) -> list[SheetDraft]:
    by_unit: dict[str, list[Draft]] = {}
    for dr in led.drafts:
        by_unit.setdefault(dr.unit, []).append(dr)
    targets_of: dict[str, list[TargetFact]] = {}
    for t in d.snapshot.targets:
        targets_of.setdefault(t.unit, []).append(t)
    sheets = []
    for unit in sorted(d.units.values(), key=lambda u: u.code):
        mine = by_unit.get(unit.code, [])
        vetoes = [
            (
                dr,
                VetoNote(
                    dr.rule_id,
                    dr.detail.get("consequence", ""),
                    dr.detail.get("grade"),
                    dr.detail.get("section"),
                    dr.fact_ids,
                    0,
                ),
            )
            for dr in sorted(_applied(mine, "veto"), key=Draft.sort_key)
        ]
        sections: tuple[SectionScore, ...] = ()
        if d.period.kind == "year" and unit.category is not None:
            zeroed = {
                v.section: v.rule_id for _, v in vetoes if v.consequence == "zero_section" and v.section
            }
            targets = sorted(targets_of.get(unit.code, ()), key=lambda t: t.indicator)
            sections = _sections(pack, d, led, unit.code, unit.category, mine, zeroed, targets)
        bonus = q(sum((dr.points for dr in _applied(mine, "bonus")), Decimal(0)))
        deduction = q(sum((dr.points for dr in _applied(mine, "deduction")), Decimal(0)))
        total = q(sum((s.score for s in sections), Decimal(0)) + bonus + deduction)
        credited = tuple(
            sorted(
                {
                    dr.facts[0].id
                    for dr in _applied(mine, "bonus")
                    if dr.facts and dr.facts[0].type == "event" and dr.points > 0
                }
            )
        )
        sheets.append(
            SheetDraft(unit.code, unit.category, sections, bonus, deduction, vetoes, total, credited)
        )
    return sheets


def _sections(
    pack: RulePack,
    d: Derived,
    led: Ledger,
    unit: str,
    category: str,
    mine: list[Draft],
    zeroed: dict[str, str],
    targets: list[TargetFact],
) -> tuple[SectionScore, ...]:
    weights = section_weights(pack, d, category)
    codes = {w.code for w in weights}
    scores: dict[str, Decimal] = {}
    for dr in _applied(mine, "score"):
        if dr.indicator is not None:
            scores[dr.indicator] = scores.get(dr.indicator, Decimal(0)) + dr.points
    for t in targets:
        section = d.indicators[t.indicator].section
        if section not in codes:
            led.gap(
                unit,
                t.indicator,
                "gap.section_unknown",
                [],
                f"指标 {t.indicator} 的板块 {section} 不属于类别 {category}",
                f"indicator {t.indicator}'s section {section} is not a section of category {category}",
            )
    out = []
    for w in weights:
        mine_targets = [t for t in targets if d.indicators[t.indicator].section == w.code]
        earned = printed = rescaled = Decimal(0)
        for t in mine_targets:
            points = d.indicators[t.indicator].points
            na = d.not_applicable.get((unit, t.indicator))
            if na is None:
                printed += points
                earned += scores.get(t.indicator, Decimal(0))
            elif na.treatment == "full_marks":
                printed += points
                earned += points
            else:
                rescaled += points
        full = w.full if w.full is not None else w.weight
        if not mine_targets:
            led.gap(
                unit,
                None,
                "gap.section_empty",
                [],
                f"板块 {w.code} 没有目标任务，得分为 0",
                f"section {w.code} has no targets for this unit: it scores 0",
            )
        elif printed + rescaled != full:
            led.gap(
                unit,
                None,
                "gap.section_total",
                [],
                f"板块 {w.code} 的指标分值合计 {fmt(printed + rescaled)}，与满分 {fmt(full)} 不符",
                f"section {w.code}: indicator points add up to {fmt(printed + rescaled)}, not {fmt(full)}",
            )
        base = full - rescaled
        score = div(mul(w.weight, earned), base) if base > 0 else Decimal(0)
        zero = zeroed.get(w.code)
        out.append(
            SectionScore(
                w.code,
                w.weight,
                base,
                q(earned),
                Decimal(0) if zero else score,
                tuple(t.indicator for t in mine_targets),
                zero,
            )
        )
    return tuple(out)
