"""Veto, deduction and bonus rules on sheet facts: one unit's whole result, before grading.

They read what the unit's sheet says once every item is scored and every cap and floor applied
(``total``, ``bonus``, ``deduction``, ``vetoed``, ``failed_targets``, ``score@INDICATOR``, the
prior years' grades …) and change it: their points join the bonus or deduction (with bucket caps),
their vetoes join the sheet's before grading. Grade-dependent fields are refused at load for
these rules (see ``schema.GRADED_FIELDS``); flag and warning rules on sheets run after grading.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from engine.pack.model import Rule, RulePack
from engine.pack.rules import PRE_GRADE_KINDS
from engine.result import VetoNote
from engine.run import adjust
from engine.run.compose import enrich_sheets
from engine.run.derived import Derived, DerivedFact
from engine.run.drafts import Draft, Ledger
from engine.run.effects import displace, make_drafts
from engine.run.matching import match_facts
from engine.run.sheets import SheetDraft
from engine.values.decimals import q


def pre_grade(rule: Rule) -> bool:
    return rule.on == "sheet" and rule.kind in PRE_GRADE_KINDS


def deferred(pack: RulePack) -> frozenset[str]:
    """Rule ids whose appeal overrides wait for this pass (their firings don't exist before it)."""
    return frozenset(r.id for r in pack.rules if pre_grade(r))


def sheet_values(d: Derived, s: SheetDraft) -> dict[str, str | Decimal | bool]:
    """What every sheet fact says, before grading and after: the unit, its total, any veto."""
    v: dict[str, str | Decimal | bool] = {
        "unit": s.unit,
        "unit_level": d.units[s.unit].level,
        "total": s.total,
        "vetoed": bool(s.vetoes),
    }
    if s.category is not None:
        v["category"] = s.category
    return v


def sheet_fact(d: Derived, s: SheetDraft) -> DerivedFact:
    """The pre-grade sheet fact: the common values and the unit's grades of the two prior years."""
    v = sheet_values(d, s)
    prior = {p.year: p.grade for p in d.snapshot.prior_results if p.unit == s.unit}
    for back in (1, 2):
        g = prior.get(d.period.year - back)
        if g is not None:
            v[f"prior_grade_{back}"] = g
    return DerivedFact("sheet", f"sheet:{s.unit}", s.unit, None, v)


def apply_sheet_rules(
    pack: RulePack, d: Derived, rules: list[Rule], sheets: list[SheetDraft], led: Ledger
) -> None:
    """Match the pre-grade sheet rules and fold their firings into ``sheets`` (in place)."""
    active = {r.id for r in rules if pre_grade(r)}
    if not active or d.period.kind != "year":
        return
    totals = {s.unit: (s.bonus, s.deduction) for s in sheets}
    facts = enrich_sheets(pack, d, [sheet_fact(d, s) for s in sheets], totals, led)
    matches = [(r, f) for r, f in match_facts(pack, "sheet", facts) if r.id in active]
    mine = Ledger()
    make_drafts(displace(matches, pack, mine), pack, d, mine)
    adjust.apply_overrides(tuple(o for o in d.snapshot.overrides if o.rule_id in active), mine)
    adjust.apply_rule_caps(mine)
    new = list(mine.drafts)
    led.drafts.extend(new)
    led.cuts.extend(mine.cuts)
    led.why_not.extend(mine.why_not)
    # Bucket caps again over every unit's bucket: groups already within their caps are unchanged.
    adjust.apply_bucket_caps(pack, led)
    by_unit: dict[str, list[Draft]] = {}
    for dr in new:
        by_unit.setdefault(dr.unit, []).append(dr)
    for s in sheets:
        if s.unit in by_unit:
            _fold(s, by_unit[s.unit], led)


def _fold(s: SheetDraft, new: list[Draft], led: Ledger) -> None:
    applied = [dr for dr in led.drafts if dr.unit == s.unit and dr.status != "voided"]
    for dr in sorted(new, key=Draft.sort_key):
        if dr.effect != "veto" or dr.status == "voided":
            continue
        note = VetoNote(
            dr.rule_id,
            dr.detail.get("consequence", ""),
            dr.detail.get("grade"),
            dr.detail.get("section"),
            dr.fact_ids,
            0,
        )
        s.vetoes.append((dr, note))
        if note.consequence == "zero_section" and note.section:
            s.sections = tuple(
                dataclasses.replace(x, score=Decimal(0), zeroed_by=x.zeroed_by or dr.rule_id)
                if x.code == note.section
                else x
                for x in s.sections
            )
    s.bonus = q(sum((dr.points for dr in applied if dr.effect == "bonus"), Decimal(0)))
    s.deduction = q(sum((dr.points for dr in applied if dr.effect == "deduction"), Decimal(0)))
    s.total = q(sum((x.score for x in s.sections), Decimal(0)) + s.bonus + s.deduction)
