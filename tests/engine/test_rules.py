"""One test per rule type, end to end through durable_rules, with the real numbers of docs/design.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

from engine import FiringOverride, PriorResult, RunResult, evaluate
from tests.engine.builders import category, event, indicator, pack, report, snapshot, target, unit

SCORE = """
  - id: score
    version: 1
    kind: score
    on: target
    effect: {method: indicator}
    text: {zh: "{indicator_name} 得 {points} 分", en: "{indicator_name}: {points}"}
"""


def run(body: str, **kw: Any) -> RunResult:
    return evaluate(pack(body), snapshot(**kw))


def points(r: RunResult, rule_id: str, unit_code: str | None = None) -> list[D]:
    return [
        f.points for f in r.firings if f.rule_id == rule_id and (unit_code is None or f.unit == unit_code)
    ]


def full_year(u: str, ind: str, values: tuple[str, str, str, str]) -> tuple[Any, ...]:
    return tuple(report(u, ind, f"2024-{m:02d}", v) for m, v in zip((3, 6, 9, 12), values, strict=True))


def test_section_weights_per_category() -> None:
    """County 重点工作 40 / 定量指标 50 / 其他 10: each section is weight × earned ÷ full."""
    inds = (
        indicator("K", "40", section="key_work"),
        indicator("Q", "50", section="quant"),
        indicator("O", "10", section="other"),
    )
    r = run(
        "rules:" + SCORE,
        categories=(category("county", key_work=40, quant=50, other=10),),
        units=(unit("A"),),
        indicators=inds,
        targets=tuple(target("A", i.code, "100") for i in inds),
        reports=(
            report("A", "K", "2024-12", "50"),
            report("A", "Q", "2024-12", "100"),
            report("A", "O", "2024-12", "80"),
        ),
    )
    sheet = r.sheets[0]
    assert {s.code: s.score for s in sheet.sections} == {"key_work": D(20), "quant": D(50), "other": D(8)}
    assert sheet.total == D(78)


def test_departments_weighted_sections_from_the_pack_and_flagged_totals() -> None:
    """目标任务 80% + 社会评价 20%, each section printed out of 100; a section whose indicators
    add up to less is flagged with a gap firing, not silently rescaled."""
    body = (
        """
categories:
  department:
    sections: {tasks: {weight: 80, full: 100}, social: {weight: 20, full: 100}}
rules:"""
        + SCORE
    )
    inds = (indicator("T", "90", section="tasks"), indicator("S", "100", section="social", method="rubric"))
    r = run(
        body,
        categories=(category("department", tasks=80, social=20),),
        units=(unit("D", "department"),),
        indicators=inds,
        targets=(target("D", "T", "10"), target("D", "S", "100")),
        reports=(report("D", "T", "2024-12", "10"), report("D", "S", "2024-12", "90")),
    )
    sheet = r.sheets[0]
    assert {s.code: s.score for s in sheet.sections} == {"tasks": D(72), "social": D(18)}
    assert [f.text_en for f in r.firings if f.rule_id == "gap.section_total"] == [
        "section tasks: indicator points add up to 90, not 100"
    ]


VETO = (
    """
buckets:
  honours: {cap: 5}
grades:
  "*":
    steps:
      - {grade: excellent, min_total: 90}
      - {grade: good, min_total: 80}
      - {grade: fair, min_total: 60}
      - {grade: poor}
rules:"""
    + SCORE
    + """
  - id: honour
    version: 1
    kind: bonus
    on: event
    when: {kind: honour}
    effect: {points: {by: level, table: {national: 2, provincial: 1, municipal: 0.5}}}
    bucket: honours
    text: {zh: "{title}", en: "{title}"}
  - id: veto.safety
    version: 1
    kind: veto
    on: event
    when: {event_type: safety_accident, quantity: {gte: 3}}
    effect: {consequence: bar_excellent}
    text: {zh: "重大安全事故 {quantity} 人死亡", en: "major accident: {quantity} deaths"}
  - id: veto.falsified
    version: 1
    kind: veto
    on: event
    when: {event_type: falsified_data}
    effect: {consequence: force_grade, grade: poor}
    text: {zh: "数据造假", en: "falsified data"}
  - id: veto.environment
    version: 1
    kind: veto
    on: event
    when: {event_type: environmental_incident, level: {in: [provincial, national]}}
    effect: {consequence: zero_section, section: quant}
    text: {zh: "重大环境事件", en: "serious environmental incident"}
"""
)


def _veto_case(event_type: str, quantity: str | None = None) -> RunResult:
    return run(
        VETO,
        units=(unit("A"),),
        indicators=(indicator("Q", "100"),),
        targets=(target("A", "Q", "100"),),
        reports=(report("A", "Q", "2024-12", "100"),),
        events=(
            event("H", "A", "honour", "award", "national"),
            event("X", "A", "incident", event_type, "provincial", quantity=quantity),
        ),
    )


def test_veto_bars_excellent_and_outranks_every_bonus() -> None:
    sheet = _veto_case("safety_accident", "3").sheets[0]
    assert sheet.total == D(102) and sheet.grade == "good"
    assert sheet.vetoes[0].rule_id == "veto.safety"
    assert "excellent barred by veto veto.safety" in sheet.grade_notes
    assert _veto_case("safety_accident", "2").sheets[0].grade == "excellent"  # below the veto line


def test_veto_forces_a_grade_and_zeroes_a_section() -> None:
    assert _veto_case("falsified_data").sheets[0].grade == "poor"
    zeroed = _veto_case("environmental_incident").sheets[0]
    assert zeroed.sections[0].score == 0 and zeroed.sections[0].zeroed_by == "veto.environment"
    assert zeroed.total == D(2) and zeroed.grade == "poor"


SCHEDULE = """
buckets:
  schedule: {cap: 1, per: indicator}
rules:
  - id: lag
    version: 1
    kind: deduction
    on: checkpoint
    when: {lagging: true, final: false}
    effect: {points: -0.5, reset_if_caught_up: true}
    bucket: schedule
    text: {zh: "{checkpoint} 进度滞后", en: "behind schedule at {checkpoint}: {actual} < {expected}"}
  - id: reminder
    version: 1
    kind: warning
    on: checkpoint
    when: {schedule_pct: {lt: 80}}
    effect: {notice: reminder}
    text: {zh: "提醒函", en: "reminder: {schedule_pct}% of schedule"}
  - id: supervision
    version: 1
    kind: warning
    on: checkpoint
    when: {schedule_pct: {lt: 60}}
    effect: {notice: supervision}
    displaces: [reminder]
    text: {zh: "督办单", en: "supervision order: {schedule_pct}% of schedule"}
"""
LAGGING = dict(units=(unit("A"),), indicators=(indicator("Q", "10"),), targets=(target("A", "Q", "100"),))


def test_schedule_deductions_per_lagging_quarter_capped_per_indicator() -> None:
    r = run(SCHEDULE, **LAGGING, reports=full_year("A", "Q", ("20", "28", "70", "95")))
    assert points(r, "lag") == [D("-0.5"), D("-0.5"), D(0)]  # three lagging quarters, cap 1
    assert [c.text_en for c in r.cuts] == ["deduction cut from 1.5 to 1 by the schedule cap"]
    notices = [
        (f.detail["notice"], f.matched[0].values["checkpoint"]) for f in r.firings if f.effect == "warning"
    ]
    assert notices == [("supervision", "2024-06")]  # 56% at Q2: supervision displaces the reminder
    assert any(w.rule_id == "reminder" and w.reason == "displaced" for w in r.why_not)
    assert [
        (f.detail["notice"])
        for f in run(SCHEDULE, **LAGGING, reports=full_year("A", "Q", ("19", "50", "75", "100"))).firings
        if f.effect == "warning"
    ] == ["reminder"]  # 76% at Q1


def test_lag_deductions_reset_when_caught_up_by_year_end() -> None:
    r = run(SCHEDULE, **LAGGING, reports=full_year("A", "Q", ("20", "40", "70", "103")))
    assert points(r, "lag") == [D(0), D(0), D(0)]
    assert {c.kind for c in r.cuts} >= {"reset"}


def test_milestone_schedule_and_quarter_run() -> None:
    t = target(
        "A",
        "Q",
        "100",
        milestones=(("2024-03", "18"), ("2024-06", "45"), ("2024-09", "72"), ("2024-12", "100")),
    )
    r = run(
        SCHEDULE,
        period="2024-Q2",
        units=(unit("A"),),
        indicators=(indicator("Q", "10"),),
        targets=(t,),
        reports=(report("A", "Q", "2024-06", "25"),),
    )
    assert points(r, "lag") == [D("-0.5")]
    assert r.firings[0].matched[0].values["expected"] == D(45)
    assert [f.detail.get("notice") for f in r.firings if f.effect == "warning"] == ["supervision"]  # 55.6%
    assert r.sheets[0].grade is None and r.sheets[0].rank is None


def test_month_run_gives_warnings_only_and_missing_reports_are_gaps() -> None:
    r = run(SCHEDULE, period="2024-07", **LAGGING, reports=(report("A", "Q", "2024-07", "20"),))
    assert {f.effect for f in r.firings} == {"warning"}
    gap = run(SCHEDULE, period="2024-07", **LAGGING)
    assert [f.rule_id for f in gap.firings] == ["gap.missing_report"]
    assert "no report for Q at 2024-07" in gap.firings[0].text_en


INCIDENTS = """
buckets:
  incidents: {}
rules:
  - id: criticism
    version: 1
    kind: deduction
    on: event
    when: {event_type: criticism}
    effect: {points: {by: level, table: {county: -1, municipal: -2, provincial: -4, national: -4}}}
    bucket: incidents
    text: {zh: "通报批评", en: "criticised ({level})"}
  - id: media
    version: 1
    kind: deduction
    on: event
    when: {event_type: media_exposure}
    effect: {points: -10}
    text: {zh: "媒体曝光", en: "media exposure"}
  - id: late_report
    version: 1
    kind: deduction
    on: event
    when: {event_type: {in: [late_report, false_report]}}
    effect: {points: {by: event_type, table: {late_report: -1, false_report: -5}}, multiply_by: quantity}
    text: {zh: "迟报/虚报", en: "{event_type} × {quantity}"}
  - id: petition
    version: 1
    kind: deduction
    on: event
    when: {event_type: petition}
    effect: {points: {by: level, table: {county: -0.5, municipal: -1, provincial: -2, national: -5}},
             multiply_by: quantity}
    text: {zh: "信访", en: "petitions to {level} × {quantity}"}
"""


def test_incident_deductions_by_level_with_multipliers() -> None:
    evs = (
        event("C1", "A", "incident", "criticism", "county"),
        event("C2", "A", "incident", "criticism", "municipal"),
        event("C3", "A", "incident", "criticism", "provincial"),
        event("M", "A", "incident", "media_exposure"),
        event("L", "A", "incident", "late_report", "municipal", quantity="2"),
        event("F", "A", "incident", "false_report", "municipal", quantity="1"),
        *(
            event(f"P{i}", "A", "incident", "petition", lvl, quantity=q)
            for i, (lvl, q) in enumerate(
                (("county", "4"), ("municipal", "1"), ("provincial", "3"), ("national", "1"))
            )
        ),
    )
    r = run(INCIDENTS, units=(unit("A", None),), events=evs)
    assert points(r, "criticism") == [D(-1), D(-2), D(-4)]
    assert points(r, "media") == [D(-10)]
    assert points(r, "late_report") == [D(-5), D(-2)]
    assert points(r, "petition") == [D(-2), D(-1), D(-6), D(-5)]
    assert r.sheets[0].deduction == D(-38)


HONOURS = """
buckets:
  honours: {cap: 5, name: {zh: 荣誉, en: honours}}
rules:
  - id: honour
    version: 1
    kind: bonus
    on: event
    when: {kind: honour}
    effect: {points: {by: level, table: {national: 2, provincial: 1, municipal: 0.5}}, dedupe: true}
    bucket: honours
    text: {zh: "{title} 加 {points} 分", en: "{title}: +{points}"}
"""


def test_honours_by_level_dedupe_and_no_document() -> None:
    evs = (
        event("H1", "A", "honour", "honour", "provincial", dedupe_key="k"),
        event("H2", "A", "honour", "honour", "national", dedupe_key="k"),
        event("H3", "A", "honour", "honour", "municipal"),
        event("H4", "A", "honour", "honour", "national", document_no=None),
    )
    r = run(HONOURS, units=(unit("A", None),), events=evs)
    assert [(f.matched[0].id, f.points) for f in r.firings] == [("H2", D(2)), ("H3", D("0.5"))]
    reasons = {(w.fact_ids, w.reason) for w in r.why_not}
    assert (("H1",), "deduped") in reasons and (("H4",), "no_document") in reasons


def test_honours_cap_records_the_cut() -> None:
    evs = tuple(
        event(f"H{i}", "A", "honour", "honour", lvl)
        for i, lvl in enumerate(("national", "national", "provincial", "provincial"))
    )
    r = run(HONOURS, units=(unit("A", None),), events=evs)
    assert r.sheets[0].bonus == D(5)
    assert [c.text_en for c in r.cuts] == ["bonus cut from 6 to 5 by the honours cap"]


def test_carry_over_exactly_once_and_after_cutoff() -> None:
    late = event(
        "L", "A", "honour", "honour", "provincial", work_year=2023, document_date=dt.date(2024, 1, 18)
    )
    after = event("N", "A", "honour", "honour", "provincial", document_date=dt.date(2025, 1, 15))
    r = run(HONOURS, units=(unit("A", None),), events=(late, after))
    assert [f.matched[0].id for f in r.firings] == ["L"]
    assert r.sheets[0].credited_events == ("L",)
    assert any(w.fact_ids == ("N",) and "carried over to 2025" in w.text_en for w in r.why_not)
    again = run(
        HONOURS, units=(unit("A", None),), events=(late,), prior=(PriorResult(2023, "A", "good", ("L",)),)
    )
    assert again.firings == () and again.why_not[0].reason == "already_credited"


def test_over_completion_bonus_with_per_indicator_cap_and_verification() -> None:
    body = """
rules:
  - id: over
    version: 1
    kind: bonus
    on: target
    when: {over_pct: {gt: 0}}
    effect: {points: {rate: 0.1, of: over_pct}, max_points: over_bonus_cap}
    text: {zh: "超额完成 {over_pct}%", en: "over target by {over_pct}%"}
"""
    inds = (
        indicator("GDP", "6", params={"over_bonus_cap": "3"}),
        indicator("INC", "3", params={"over_bonus_cap": "2"}),
    )
    r = run(
        body,
        units=(unit("A", None),),
        indicators=inds,
        targets=(target("A", "GDP", "100"), target("A", "INC", "10")),
        reports=(report("A", "GDP", "2024-12", "150", reported="160"), report("A", "INC", "2024-12", "11")),
    )
    assert [(f.indicator, f.raw_points, f.points) for f in r.firings if f.rule_id == "over"] == [
        ("GDP", D(5), D(3)),
        ("INC", D(1), D(1)),
    ]
    assert {(c.kind, c.before, c.after) for c in r.cuts} == {
        ("rule_cap", D(5), D(3)),
        ("verification", D(160), D(150)),
    }


def test_item_floor_and_negative_limit() -> None:
    body = """
buckets:
  safety: {floor_at_item: true}
indicators:
  NEG: {floor: -2}
rules:
  - id: accident
    version: 1
    kind: deduction
    on: event
    when: {event_type: accident}
    effect: {points: -2}
    bucket: safety
    text: {zh: "事故", en: "accident"}
"""
    inds = (indicator("SAFE", "3"), indicator("NEG", "3"))
    evs = tuple(
        event(f"E{i}{c}", "A", "incident", "accident", indicator_code=c)
        for c in ("SAFE", "NEG")
        for i in range(3)
    )
    r = run(body, units=(unit("A", None),), indicators=inds, events=evs)
    assert sum(points(r, "accident")[:3]) == D(-5)  # NEG: 3 points + 2 below zero
    assert sum(points(r, "accident")[3:]) == D(-3)  # SAFE: 扣完为止 at its 3 points
    assert sorted(c.kind for c in r.cuts) == ["floor", "floor"]


GRADES = (
    """
grades:
  "*":
    tie_break: [total, section:quant, unit]
    steps:
      - {grade: excellent, min_total: 90, max_rank: 2, quota: {count: 1}}
      - {grade: good, min_total: 80, quota: {percent: 50}}
      - {grade: fair, min_total: 60}
      - {grade: poor}
rules:"""
    + SCORE
)


def test_grades_thresholds_rank_limits_quotas_and_tie_breaks() -> None:
    values = {"A": "95", "B": "95", "C": "92", "D": "85", "E": "85", "F": "50"}
    r = run(
        GRADES,
        units=tuple(unit(u) for u in values),
        indicators=(indicator("Q", "100"),),
        targets=tuple(target(u, "Q", "100") for u in values),
        reports=tuple(report(u, "Q", "2024-12", v) for u, v in values.items()),
    )
    got = {s.unit: (s.rank, s.grade) for s in r.sheets}
    # A and B tie at 95: the unit code breaks it. One excellent slot; good quota 50% of 6 = 3.
    assert got == {
        "A": (1, "excellent"),
        "B": (2, "good"),
        "C": (3, "good"),
        "D": (4, "good"),
        "E": (5, "fair"),
        "F": (6, "poor"),
    }
    assert "excellent quota of 1 already taken" in r.sheet("B").grade_notes  # type: ignore[union-attr]
    assert "good quota of 3 already taken" in r.sheet("E").grade_notes  # type: ignore[union-attr]


def test_shared_responsibility_co_units_take_their_share() -> None:
    body = """
rules:
  - id: failed
    version: 1
    kind: deduction
    on: target
    when: {completion_pct: {lt: 100}}
    effect: {points: -2, shared: split}
    text:
      zh: "{unit} 未完成（牵头 {lead_unit}，份额 {share}）"
      en: "{unit} failed (lead {lead_unit}, share {share})"
"""
    t = target("L", "Q", "100", co=(("C1", "0.3"), ("C2", "0.1")))
    r = run(
        body,
        units=(unit("L"), unit("C1"), unit("C2")),
        indicators=(indicator("Q"),),
        targets=(t,),
        reports=(report("L", "Q", "2024-12", "90"),),
    )
    assert {f.unit: f.points for f in r.firings} == {"C1": D("-0.6"), "C2": D("-0.2"), "L": D("-1.2")}
    assert r.sheet("C1").deduction == D("-0.6")  # type: ignore[union-attr]
    assert "C1 failed (lead L, share 0.3)" in [f.text_en for f in r.firings]


def test_consequence_flags_across_years() -> None:
    body = (
        """
grades:
  "*":
    steps:
      - {grade: excellent, min_total: 90}
      - {grade: good, min_total: 80}
      - {grade: fair, min_total: 60}
      - {grade: poor}
rules:"""
        + SCORE
        + """
  - id: fair.twice
    version: 1
    kind: flag
    on: sheet
    when: {fair_years_running: {gte: 2}}
    effect: {flag: reorganise_leadership}
    text: {zh: "连续两年一般", en: "fair two years running"}
  - id: poor
    version: 1
    kind: flag
    on: sheet
    when: {grade: poor}
    effect: {flag: no_promotion_2y}
    text: {zh: "较差", en: "poor"}
"""
    )
    r = run(
        body,
        units=(unit("A"), unit("B")),
        indicators=(indicator("Q", "100"),),
        targets=(target("A", "Q", "100"), target("B", "Q", "100")),
        reports=(report("A", "Q", "2024-12", "70"), report("B", "Q", "2024-12", "40")),
        prior=(PriorResult(2023, "A", "fair"), PriorResult(2023, "B", "good")),
    )
    assert {s.unit: s.flags for s in r.sheets} == {"A": ("reorganise_leadership",), "B": ("no_promotion_2y",)}


def test_appeal_overrides_void_and_adjust_firings() -> None:
    evs = (
        event("C1", "A", "incident", "criticism", "municipal"),
        event("M", "A", "incident", "media_exposure"),
    )
    overrides = (
        FiringOverride("criticism", "A", None, ("C1",), "void", None, "APL-1"),
        FiringOverride("media", "A", None, ("M",), "adjust", D(-5), "APL-2"),
    )
    r = run(INCIDENTS, units=(unit("A", None),), events=evs, overrides=overrides)
    assert [(f.rule_id, f.raw_points, f.points, f.status, f.override) for f in r.firings] == [
        ("criticism", D(-2), D(0), "voided", "APL-1"),
        ("media", D(-10), D(-5), "adjusted", "APL-2"),
    ]
    assert r.sheets[0].deduction == D(-5)


def test_not_applicable_and_rank_composition() -> None:
    body = (
        """
not_applicable:
  - indicator: GRAIN
    categories: [urban]
    treatment: rescale
    reason: {zh: 城区不考核粮食, en: no grain in urban districts}
rules:"""
        + SCORE
        + """
  - id: top.rank
    version: 1
    kind: bonus
    on: target
    when: {indicator: Q, rank: 1}
    effect: {points: 1}
    text: {zh: "第一名", en: "ranked first on {indicator}"}
"""
    )
    cats = (category("urban", quant=100),)
    inds = (indicator("Q", "50"), indicator("GRAIN", "50"))
    r = run(
        body,
        categories=cats,
        units=(unit("U", "urban"), unit("V", "urban")),
        indicators=inds,
        targets=tuple(target(u, i.code, "100") for u in ("U", "V") for i in inds),
        reports=(report("U", "Q", "2024-12", "90"), report("V", "Q", "2024-12", "80")),
    )
    assert r.sheet("U").total == D(91)  # type: ignore[union-attr]  # 100 × 45/50 + 1
    assert [f.unit for f in r.firings if f.rule_id == "top.rank"] == ["U"]
    assert [f.text_en for f in r.firings if f.rule_id == "na.declared"] == ["no grain in urban districts"] * 2


def test_a_yes_no_field_reads_in_each_texts_own_language() -> None:
    body = SCHEDULE.replace(
        'text: {zh: "{checkpoint} 进度滞后", en: "behind schedule at {checkpoint}: {actual} < {expected}"}',
        'text: {zh: "{checkpoint} 滞后：{lagging}，年末：{final}，{indicator_name}", '
        'en: "lagging at {checkpoint}: {lagging}, year end: {final}, {indicator_name}"}',
    )
    assert body != SCHEDULE
    r = run(body, **LAGGING, reports=full_year("A", "Q", ("20", "28", "70", "95")))
    lag = [f for f in r.firings if f.rule_id == "lag"]
    assert lag and all("滞后：是，年末：否" in f.text_zh and "lagging at" in f.text_en for f in lag)
    assert all(": yes, year end: no" in f.text_en for f in lag)
