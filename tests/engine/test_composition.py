"""Composition as data (docs/design.md "Rule semantics", last two bullets), each with real numbers:
field-to-field comparisons and arithmetic, aggregates, other indicators' ranks and scores,
earlier periods and years, tags, the issuing body, vetoes on checkpoints and sheets, sheet-level
deductions, default co-unit shares, displacement and not-applicable items."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from typing import Any

from engine import FiringOverride, PriorResult, RunResult, evaluate
from tests.engine.builders import category, event, indicator, pack, report, snapshot, target, unit
from tests.engine.test_rules import SCORE

GRADED = (
    """
grades:
  "*":
    steps: [{grade: excellent, min_total: 90}, {grade: good, min_total: 80}, {grade: fair, min_total: 60},
            {grade: poor}]
rules:"""
    + SCORE
)


def run(body: str, **kw: Any) -> RunResult:
    return evaluate(pack(body), snapshot(**kw))


def fired(r: RunResult, rule_id: str) -> dict[str, D]:
    return {f.unit: f.points for f in r.firings if f.rule_id == rule_id}


def quarters(u: str, ind: str, values: tuple[str, str, str, str]) -> tuple[Any, ...]:
    return tuple(report(u, ind, f"2024-{m:02d}", v) for m, v in zip((3, 6, 9, 12), values, strict=True))


# --- 1. two fields of one fact, and arithmetic ------------------------------------------------

ABOVE_AVERAGE = """
rules:
  - id: over.above_avg
    version: 1
    kind: bonus
    on: target
    when:
      indicator: GDP
      over_pct: {gt: 0}
      completion_pct: {gt: {field: category_avg_pct}}
    effect: {points: {rate: 0.2, of: over_pct}, max_points: 3}
    text: {zh: "高于类别平均", en: "{completion_pct}% above the category's {category_avg_pct}%"}
  - id: over.top_band
    version: 1
    kind: bonus
    on: target
    when: {indicator: GDP, actual: {gte: {mul: [annual, 1.3]}}}
    effect: {points: 1}
    text: {zh: "超过目标130%", en: "{actual} ≥ 130% of {annual}"}
"""


def test_completion_above_the_category_average_and_arithmetic_on_the_target() -> None:
    """GDP over-completion: +0.2 per point over 100 % (cap 3), only for units above their category's
    average completion; +1 more at 130 % of the target (actual ≥ annual × 1.3)."""
    values = {"A": "112", "B": "104", "C": "96", "D": "130"}
    r = run(
        ABOVE_AVERAGE,
        units=tuple(unit(u) for u in values),
        indicators=(indicator("GDP", "100"),),
        targets=tuple(target(u, "GDP", "100") for u in values),
        reports=tuple(report(u, "GDP", "2024-12", v) for u, v in values.items()),
    )
    # the category's average completion is (112 + 104 + 96 + 130) / 4 = 110.5
    assert fired(r, "over.above_avg") == {"A": D("2.4"), "D": D(3)}  # B: 104 < 110.5; D: 6 cut to 3
    assert fired(r, "over.top_band") == {"D": D(1)}  # 130 ≥ 100 × 1.3; A: 112 < 130
    assert "104% above" not in " ".join(f.text_en for f in r.firings)
    why = [w for w in r.why_not if w.rule_id == "over.above_avg" and w.unit == "B"]
    assert why and "completion_pct > category_avg_pct (fact: 104; category_avg_pct: 110.5)" in why[0].text_en


def test_a_checkpoint_below_80_percent_of_schedule_by_arithmetic_equals_the_literal_form() -> None:
    """ "below 80 % of schedule → reminder" written two ways gives the same firings on C07/CQ04's
    story (72 %, 56 %, 64 %, 78 % of schedule)."""
    body = """
rules:
  - id: literal
    version: 1
    kind: warning
    on: checkpoint
    when: {schedule_pct: {lt: 80}}
    effect: {notice: reminder}
    text: {zh: "提醒", en: "reminder"}
  - id: computed
    version: 1
    kind: warning
    on: checkpoint
    when: {actual: {lt: {mul: [expected, 0.8]}}}
    effect: {notice: reminder}
    text: {zh: "提醒", en: "{actual} < 0.8 × {expected}"}
"""
    r = run(
        body,
        units=(unit("C07"),),
        indicators=(indicator("CQ04", "4"),),
        targets=(target("C07", "CQ04", "100"),),
        reports=quarters("C07", "CQ04", ("18", "28", "48", "78")),
    )

    def at(rule: str) -> list[str]:
        return [str(f.matched[0].values["checkpoint"]) for f in r.firings if f.rule_id == rule]

    assert at("literal") == at("computed") == ["2024-03", "2024-06", "2024-09", "2024-12"]


# --- 2. aggregates, other indicators, earlier periods, tags, the issuing body ----------------


def test_rank_on_another_indicator_and_the_all_units_average() -> None:
    """Fiscal revenue bonus only for a unit ranked 1st–2nd on GDP in its category; a deduction for
    being below the average of all units (every category) on GDP."""
    body = """
rules:
  - id: revenue.gdp_leaders
    version: 1
    kind: bonus
    on: target
    when: {indicator: REV, "rank@GDP": {lte: 2}, completion_pct: {gte: 100}}
    effect: {points: 0.5}
    text: {zh: "GDP第{rank@GDP}名", en: "GDP rank {rank@GDP}, revenue met"}
  - id: gdp.below_all
    version: 1
    kind: deduction
    on: target
    when: {indicator: GDP, completion_pct: {lt: {field: all_avg_pct}}}
    effect: {points: -1}
    text: {zh: "低于全市平均", en: "{completion_pct}% below all units' {all_avg_pct}%"}
"""
    cats = (category("county", quant=100), category("district", quant=100))
    units = (unit("C1"), unit("C2"), unit("C3"), unit("X1", "district", "district"))
    gdp = {"C1": "108", "C2": "101", "C3": "99", "X1": "120"}
    r = run(
        body,
        categories=cats,
        units=units,
        indicators=(indicator("GDP", "50"), indicator("REV", "50")),
        targets=tuple(target(u.code, i, "100") for u in units for i in ("GDP", "REV")),
        reports=tuple(report(u, "GDP", "2024-12", v) for u, v in gdp.items())
        + tuple(report(u, "REV", "2024-12", "100") for u in gdp),
    )
    # X1 ranks 1st in its own category; C1 and C2 are 1st and 2nd among counties
    assert fired(r, "revenue.gdp_leaders") == {"C1": D("0.5"), "C2": D("0.5"), "X1": D("0.5")}
    assert "GDP rank 2, revenue met" in [f.text_en for f in r.firings]
    # all units' average GDP completion: (108 + 101 + 99 + 120) / 4 = 107
    assert fired(r, "gdp.below_all") == {"C2": D(-1), "C3": D(-1)}


def test_behind_schedule_three_quarters_running_and_a_checkpoint_veto() -> None:
    """C07/CQ04 lags at Q1, Q2, Q3 (72 %, 56 %, 64 %) → listed supervision at the third lagging
    quarter; D15/DK01 (2 / 3 / 6 / 10 of 12 tasks) fails every checkpoint → barred from 优秀."""
    body = """
rules:
  - id: listed
    version: 1
    kind: warning
    on: checkpoint
    when: {quarters_lagging_running: {gte: 3}}
    effect: {notice: listed_supervision}
    text:
      zh: "连续{quarters_lagging_running}个季度滞后，挂牌督办"
      en: "{quarters_lagging_running} quarters behind"
  - id: veto.every_checkpoint
    version: 1
    kind: veto
    on: target
    when: {lagging_checkpoints: {gte: {field: checkpoint_count}}}
    effect: {consequence: bar_excellent}
    text: {zh: "每个节点均滞后", en: "behind at all {checkpoint_count} checkpoints"}
  - id: veto.final_checkpoint
    version: 1
    kind: veto
    on: checkpoint
    when: {final: true, quarters_lagging_running: {gte: 4}}
    effect: {consequence: bar_excellent}
    text: {zh: "全年四个季度均滞后", en: "behind in all four quarters"}
"""
    units = (unit("C07"), unit("D15"))
    inds = (indicator("CQ04", "50"), indicator("DK01", "50"))
    r = run(
        body,
        units=units,
        indicators=inds,
        targets=(target("C07", "CQ04", "100"), target("D15", "DK01", "12")),
        reports=quarters("C07", "CQ04", ("18", "28", "48", "78"))
        + quarters("D15", "DK01", ("2", "3", "6", "10")),
    )
    listed = [(f.unit, f.matched[0].values["checkpoint"]) for f in r.firings if f.rule_id == "listed"]
    assert listed == [("C07", "2024-09"), ("C07", "2024-12"), ("D15", "2024-09"), ("D15", "2024-12")]
    assert [f.matched[0].values["quarters_lagging_running"] for f in r.firings if f.rule_id == "listed"] == [
        D(3),
        D(4),
        D(3),
        D(4),
    ]
    assert {s.unit: [v.rule_id for v in s.vetoes] for s in r.sheets} == {
        "C07": ["veto.every_checkpoint", "veto.final_checkpoint"],
        "D15": ["veto.every_checkpoint", "veto.final_checkpoint"],
    }
    # one quarter on schedule breaks the run: 18, 50 (on schedule), 48, 78
    r2 = run(
        body,
        units=(unit("C07"),),
        indicators=(indicator("CQ04", "100"),),
        targets=(target("C07", "CQ04", "100"),),
        reports=quarters("C07", "CQ04", ("18", "50", "48", "78")),
    )
    assert fired(r2, "listed") == {} and r2.sheets[0].vetoes == ()


def test_months_lagging_running_in_a_month_run() -> None:
    body = """
rules:
  - id: three.months
    version: 1
    kind: warning
    on: checkpoint
    when: {months_lagging_running: {gte: 3}}
    effect: {notice: supervision}
    text: {zh: "连续三个月滞后", en: "{months_lagging_running} months behind"}
"""
    reps = tuple(report("A", "Q", f"2024-{m:02d}", v) for m, v in ((5, "30"), (6, "40"), (7, "50")))
    kw: dict[str, Any] = dict(
        units=(unit("A"),), indicators=(indicator("Q"),), targets=(target("A", "Q", "120"),), reports=reps
    )
    # expected 50, 60, 70 at May, June, July: three months running at July
    assert [f.text_en for f in run(body, period="2024-07", **kw).firings] == ["3 months behind"]
    assert run(body, period="2024-06", **kw).firings == ()  # April has no report: the run is 2


def test_category_tags_and_the_issuing_body() -> None:
    """A grain bonus only for grain-producing units (the tag on the category or on the unit);
    criticism by the provincial natural-resources department (INC-06's 省自然资源厅) −4."""
    body = """
rules:
  - id: grain
    version: 1
    kind: bonus
    on: target
    when: {tags: {has: grain_producing}, completion_pct: {gte: 100}}
    effect: {points: 1}
    text: {zh: "粮食", en: "grain target met"}
  - id: criticism.land
    version: 1
    kind: deduction
    on: event
    when: {event_type: criticism, awarding_body: 省自然资源厅}
    effect: {points: -4}
    text: {zh: "被{awarding_body}通报", en: "criticised by {awarding_body}"}
"""
    cats = (dataclasses.replace(category("county"), tags=("grain_producing",)), category("urban"))
    units = (
        unit("C1"),
        unit("U1", "urban", "district"),
        dataclasses.replace(unit("U2", "urban", "district"), tags=("grain_producing",)),
    )
    crit = dataclasses.replace(
        event("INC-06", "C1", "incident", "criticism", "provincial"), awarding_body="省自然资源厅"
    )
    other = dataclasses.replace(
        event("INC-04", "U1", "incident", "criticism", "municipal"), awarding_body="市政府"
    )
    r = run(
        body,
        categories=cats,
        units=units,
        indicators=(indicator("Q", "100"),),
        targets=tuple(target(u.code, "Q", "100") for u in units),
        reports=tuple(report(u.code, "Q", "2024-12", "100") for u in units),
        events=(crit, other),
    )
    assert fired(r, "grain") == {"C1": D(1), "U2": D(1)}
    assert fired(r, "criticism.land") == {"C1": D(-4)}


def test_consecutive_years_general_form() -> None:
    body = (
        GRADED
        + """
  - id: flag.three_excellent
    version: 1
    kind: flag
    on: sheet
    when: {excellent_years_running: {gte: 3}}
    effect: {flag: commend}
    text: {zh: "连续三年优秀", en: "excellent three years running"}
  - id: flag.fair_or_poor_twice
    version: 1
    kind: flag
    on: sheet
    when: {fair_or_poor_years_running: {gte: 2}}
    effect: {flag: interview}
    text: {zh: "连续两年一般及以下", en: "fair or poor two years running"}
"""
    )
    r = run(
        body,
        units=(unit("A"), unit("B")),
        indicators=(indicator("Q", "100"),),
        targets=(target("A", "Q", "100"), target("B", "Q", "100")),
        reports=(report("A", "Q", "2024-12", "95"), report("B", "Q", "2024-12", "65")),
        prior=(
            PriorResult(2023, "A", "excellent"),
            PriorResult(2022, "A", "excellent"),
            PriorResult(2023, "B", "poor"),
        ),
    )
    assert {s.unit: s.flags for s in r.sheets} == {"A": ("commend",), "B": ("interview",)}


# --- 3. sheet-level vetoes and deductions ------------------------------------------------------

SHEET = (
    GRADED
    + """
  - id: sheet.failed_targets
    version: 1
    kind: deduction
    on: sheet
    when: {failed_targets: {gte: 2}}
    effect: {points: -2}
    text: {zh: "{failed_targets} 项目标未完成", en: "{failed_targets} of {target_count} targets not met"}
  - id: sheet.key_work_weak
    version: 1
    kind: veto
    on: sheet
    when: {"score@K": {lt: {mul: [{field: indicator_points, indicator: K}, 0.6]}}}
    effect: {consequence: bar_excellent}
    text: {zh: "重点工作得分 {score@K} 不足六成", en: "key work scored {score@K}, under 60%"}
"""
)


def test_sheet_level_deduction_and_veto_before_grading() -> None:
    inds = (indicator("K", "40"), indicator("Q1", "30"), indicator("Q2", "30"))
    vals = {"A": ("100", "100", "100"), "B": ("100", "95", "95"), "C": ("55", "100", "100")}
    r = run(
        SHEET,
        units=tuple(unit(u) for u in vals),
        indicators=inds,
        targets=tuple(target(u, i.code, "100") for u in vals for i in inds),
        reports=tuple(
            report(u, i.code, "2024-12", v) for u, vs in vals.items() for i, v in zip(inds, vs, strict=True)
        ),
    )
    sheets = {s.unit: s for s in r.sheets}
    # B: 40 + 28.5 + 28.5 = 97, two targets missed → −2 → 95, still excellent
    assert fired(r, "sheet.failed_targets") == {"B": D(-2)}
    assert (sheets["B"].total, sheets["B"].deduction, sheets["B"].grade) == (D(95), D(-2), "excellent")
    assert "2 of 3 targets not met" in [f.text_en for f in r.firings]
    # C: K scored 40 × 55% = 22 < 24 → barred from excellent at 82 + 0 ... total 82 → good anyway;
    assert [v.rule_id for v in sheets["C"].vetoes] == ["sheet.key_work_weak"]
    assert sheets["A"].grade == "excellent" and sheets["A"].vetoes == ()


def test_sheet_veto_bars_excellent_and_an_appeal_voids_a_sheet_deduction() -> None:
    inds = (indicator("K", "40"), indicator("Q1", "30"), indicator("Q2", "30"))
    vals = {"A": ("59", "100", "100"), "B": ("100", "95", "95")}
    kw: dict[str, Any] = dict(
        units=tuple(unit(u) for u in vals),
        indicators=inds,
        targets=tuple(target(u, i.code, "100") for u in vals for i in inds),
        reports=tuple(
            report(u, i.code, "2024-12", v) for u, vs in vals.items() for i, v in zip(inds, vs, strict=True)
        ),
    )
    r = run(SHEET, **kw)
    a = r.sheet("A")
    assert a is not None and a.total == D("83.6") and a.grade == "good"  # 23.6 < 24: vetoed anyway
    appeal = FiringOverride("sheet.failed_targets", "B", None, ("sheet:B",), "void", None, "APL-9")
    r2 = run(SHEET, overrides=(appeal,), **kw)
    b = r2.sheet("B")
    assert b is not None and b.total == D(97) and b.deduction == 0
    assert [(f.status, f.override) for f in r2.firings if f.rule_id == "sheet.failed_targets"] == [
        ("voided", "APL-9")
    ]
    assert not [f for f in r2.firings if f.rule_id == "gap.override_unmatched"]


def test_a_sheet_deduction_and_a_sheet_veto_together() -> None:
    body = SHEET.replace("failed_targets: {gte: 2}", "failed_targets: {gte: 1}")
    inds = (indicator("K", "40"), indicator("Q1", "60"))
    r = run(
        body,
        units=(unit("A"),),
        indicators=inds,
        targets=(target("A", "K", "100"), target("A", "Q1", "100")),
        reports=(report("A", "K", "2024-12", "50"), report("A", "Q1", "2024-12", "130")),
    )
    a = r.sheet("A")
    assert a is not None
    assert a.total == D(78) and [v.rule_id for v in a.vetoes] == ["sheet.key_work_weak"]


# --- 4. co-units without an explicit share -------------------------------------------------------

SHARED = """
co_unit_share: 0.1
rules:
  - id: failed.control
    version: 1
    kind: deduction
    on: target
    when: {direction: control_line, actual: {gt: {field: annual}}}
    effect: {points: -2, shared: additional}
    text: {zh: "{unit} 承担 {share}", en: "{unit} answers for {share} (lead {lead_unit})"}
  - id: failed.split
    version: 1
    kind: deduction
    on: target
    when: {direction: higher, completion_pct: {lt: 100}}
    effect: {points: -1, shared: split, co_unit_share: 0.2}
    text: {zh: "{unit} 承担 {share}", en: "{unit}: {share}"}
"""


def test_co_units_without_a_share_take_the_pack_or_rule_default() -> None:
    """D06/DC07 (deaths, a control line of 30) with co-units D07, D15, D16 and no shares: 34 deaths
    → D06 −2, each co-unit 0.1 × −2 = −0.2. A split rule's own default 0.2: lead 1 − 0.4 = 0.6."""
    units = tuple(unit(u, "department", "department") for u in ("D06", "D07", "D15", "D16", "D01", "D14"))
    co = (("D07", "0"), ("D15", "0"), ("D16", "0"))
    r = run(
        SHARED,
        categories=(category("department"),),
        units=units,
        indicators=(
            indicator("DC07", "30", "control_line", direction="control_line"),
            indicator("DC05", "30"),
        ),
        targets=(
            target("D06", "DC07", "30", co=co),
            target("D01", "DC05", "10", co=(("D14", "0"), ("D15", "0.2"))),
        ),
        reports=(report("D06", "DC07", "2024-12", "34"), report("D01", "DC05", "2024-12", "8")),
    )
    control = {
        f.unit: (f.points, f.detail.get("share_from")) for f in r.firings if f.rule_id == "failed.control"
    }
    assert control == {
        "D06": (D(-2), None),
        "D07": (D("-0.2"), "pack"),
        "D15": (D("-0.2"), "pack"),
        "D16": (D("-0.2"), "pack"),
    }
    split = {f.unit: f.points for f in r.firings if f.rule_id == "failed.split"}
    assert split == {"D01": D("-0.6"), "D14": D("-0.2"), "D15": D("-0.2")}  # D15's explicit 0.2 stays


def test_split_shares_over_one_are_a_gap_not_a_negative_lead_share() -> None:
    units = tuple(unit(u) for u in ("L", "C1", "C2"))
    r = run(
        SHARED,
        units=units,
        indicators=(indicator("Q"),),
        targets=(target("L", "Q", "100", co=(("C1", "0.7"), ("C2", "0.6"))),),
        reports=(report("L", "Q", "2024-12", "90"),),
    )
    assert [f.rule_id for f in r.firings if f.rule_id.startswith("failed")] == []
    assert "the co-units' shares add up to more than 1" in " ".join(f.text_en for f in r.firings)


# --- 6. a specific rule displaces a general one; not-applicable items ---------------------------


def test_specific_criticism_rule_displaces_the_general_one_in_totals() -> None:
    """通报批评 −1/−2/−4 by county/city/province, doubled above the city: a provincial criticism
    rule (−8) displaces the general table for the same event, and only −8 counts."""
    body = """
rules:
  - id: criticism
    version: 1
    kind: deduction
    on: event
    when: {event_type: criticism}
    effect: {points: {by: level, table: {county: -1, municipal: -2, provincial: -4, national: -4}}}
    text: {zh: "通报批评", en: "criticised"}
  - id: criticism.above_city
    version: 1
    kind: deduction
    on: event
    when: {event_type: criticism, level: {in: [provincial, national]}}
    effect: {points: {by: level, table: {provincial: -4, national: -4}}, multiplier: 2}
    displaces: [criticism]
    text: {zh: "通报批评（加倍）", en: "criticised above the city: doubled"}
"""
    evs = (
        event("C1", "A", "incident", "criticism", "county"),
        event("C2", "A", "incident", "criticism", "municipal"),
        event("C3", "A", "incident", "criticism", "provincial"),
    )
    r = run(body, units=(unit("A", None),), events=evs)
    assert [(f.rule_id, f.matched[0].id, f.points) for f in r.firings] == [
        ("criticism", "C1", D(-1)),
        ("criticism", "C2", D(-2)),
        ("criticism.above_city", "C3", D(-8)),
    ]
    assert r.sheets[0].deduction == D(-11)
    assert [(w.rule_id, w.fact_ids, w.reason) for w in r.why_not if w.reason == "displaced"] == [
        ("criticism", ("C3",), "displaced")
    ]


def test_not_applicable_full_marks_by_unit_and_rescale_by_tag() -> None:
    """A county without a port gets 外贸 (10 points) as full marks; grain (20 points) doesn't apply
    to units tagged urban_core and their section is scored out of 80."""
    body = (
        """
not_applicable:
  - indicator: TRADE
    units: [C2]
    treatment: full_marks
    reason: {zh: 无口岸, en: no port}
  - indicator: GRAIN
    tags: [urban_core]
    treatment: rescale
    reason: {zh: 中心城区不考核粮食, en: no grain in the urban core}
rules:"""
        + SCORE
    )
    inds = (indicator("GDP", "70"), indicator("TRADE", "10"), indicator("GRAIN", "20"))
    units = (unit("C1"), unit("C2"), dataclasses.replace(unit("C5"), tags=("urban_core",)))
    reps = {"C1": ("63", "5", "20"), "C2": ("70", None, "10"), "C5": ("56", "10", None)}
    r = run(
        body,
        units=units,
        indicators=inds,
        targets=tuple(target(u.code, i.code, i.points.to_eng_string()) for u in units for i in inds),
        reports=tuple(
            report(u, i.code, "2024-12", v)
            for u, vs in reps.items()
            for i, v in zip(inds, vs, strict=True)
            if v is not None
        ),
    )
    totals = {s.unit: s.total for s in r.sheets}
    assert totals == {"C1": D(88), "C2": D(90), "C5": D("82.5")}  # C5: 100 × (56 + 10) / 80
    assert sorted((f.unit, f.text_en) for f in r.firings if f.rule_id == "na.declared") == [
        ("C2", "no port"),
        ("C5", "no grain in the urban core"),
    ]
    assert not [f for f in r.firings if f.rule_id == "gap.section_total"]


# --- pack constants ------------------------------------------------------------------------------


def test_a_pack_constant_for_the_provinces_published_figure() -> None:
    body = """
constants: {PROVINCE_GDP_GROWTH: 5.2}
rules:
  - id: above.province
    version: 1
    kind: bonus
    on: target
    when: {indicator: GDP, actual: {gt: {const: PROVINCE_GDP_GROWTH}}}
    effect: {points: 0.5}
    text: {zh: "高于全省增速", en: "{actual}% above the province's growth"}
"""
    r = run(
        body,
        units=(unit("A"), unit("B")),
        indicators=(indicator("GDP", "100"),),
        targets=(target("A", "GDP", "6"), target("B", "GDP", "6")),
        reports=(report("A", "GDP", "2024-12", "5.3"), report("B", "GDP", "2024-12", "5.2")),
    )
    assert fired(r, "above.province") == {"A": D("0.5")}
