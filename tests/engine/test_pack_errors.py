"""Bad packs are refused at load (or against a snapshot) with a message naming file, line, rule, field."""

from __future__ import annotations

import pytest

from engine import PackError, load_pack, validate_pack
from tests.engine.builders import indicator, pack, snapshot, unit

RULE = """
rules:
  - id: r1
    version: 1
    kind: deduction
    on: event
    when: {when_body}
    effect: {effect_body}
    text: {{zh: "扣分", en: "deducted"}}
"""


def rule_pack(when: str = "{kind: incident}", effect: str = "{points: -1}", extra: str = "") -> str:
    return "pack: bad\nversion: 1\n" + extra + RULE.format(when_body=when, effect_body=effect)


def issues(text: str) -> list[str]:
    with pytest.raises(PackError) as info:
        load_pack(text, "bad.yaml")
    return [str(i) for i in info.value.issues]


def test_unknown_field_in_condition_is_named_with_line_and_rule() -> None:
    found = issues(rule_pack(when="{kind: incident, levle: municipal}"))
    assert len(found) == 1
    assert found[0].startswith("bad.yaml:9: rule r1: when.levle: unknown field 'levle'")


def test_unknown_key_in_rule_and_at_top_level() -> None:
    found = issues(
        rule_pack(extra="colour: red\n").replace("    kind: deduction", "    kind: deduction\n    prio: 1")
    )
    assert "bad.yaml:3: colour: unknown field 'colour'" in found[0]
    assert any("rule r1: prio: unknown field 'prio'" in f for f in found)


def test_bucket_referenced_but_never_defined() -> None:
    text = rule_pack().replace("    text:", "    bucket: honors\n    text:")
    assert issues(text) == ["bad.yaml:11: rule r1: bucket: bucket 'honors' is not defined under buckets:"]


def test_weights_not_adding_to_100() -> None:
    extra = "categories:\n  county:\n    sections: {key_work: 40, quant: 50, other: 5}\n"
    assert issues(rule_pack(extra=extra)) == [
        "bad.yaml:5: categories.county.sections: section weights add up to 95, not 100"
    ]


def test_scheme_weights_not_adding_to_100_are_refused_against_the_snapshot() -> None:
    from tests.engine.builders import category

    p = load_pack(rule_pack(), "ok.yaml")
    with pytest.raises(PackError, match="section weights for county add up to 90, not 100"):
        validate_pack(p, snapshot(categories=(category("county", a=40, b=50),)))


def test_contradictory_and_cyclic_grades() -> None:
    extra = """grades:
  "*":
    steps:
      - {grade: excellent, min_total: 85}
      - {grade: good, min_total: 90}
      - {grade: excellent, min_total: 60}
      - {grade: poor, min_total: 10}
"""
    found = issues(rule_pack(extra=extra))
    assert any(
        "contradictory thresholds: excellent needs 85 but the lower grade good needs 90" in f for f in found
    )
    assert any("cyclic or contradictory grade order: excellent after good" in f for f in found)
    assert any("the last grade (poor) must have no threshold" in f for f in found)


def test_condition_that_can_never_hold() -> None:
    found = issues(rule_pack(when="{quantity: {gt: 5, lt: 3}}"))
    assert found == ["bad.yaml:9: rule r1: when: the condition can never hold: quantity > 5 and quantity < 3"]


def test_level_value_not_in_the_vocabulary() -> None:
    found = issues(rule_pack(when="{level: city}"))
    assert found == [
        "bad.yaml:9: rule r1: when.level: 'city' is not a level value "
        "(one of national, provincial, municipal, county)"
    ]


def test_dead_branch_of_any() -> None:
    found = issues(rule_pack(when="{any: [{level: county}, {documented: true, documented: false}]}"))
    assert any("duplicate key 'documented'" in f for f in found)
    found = issues(
        rule_pack(when="{any: [{level: county}, {all: [{documented: true}, {documented: false}]}]}")
    )
    assert found == [
        "bad.yaml:9: rule r1: when: branch 2 of 'any' can never hold: "
        "documented = true and documented = false"
    ]


def test_duplicate_rule_ids() -> None:
    text = rule_pack() + RULE.split("rules:\n")[1].format(when_body="{}", effect_body="{points: -2}")
    assert issues(text) == ["bad.yaml:12: rule r1: id: duplicate rule id (first at line 5)"]


def test_type_errors_sign_and_exponent_numbers() -> None:
    assert any(
        "'<' needs a number field" not in f and "'lt' needs a number field; 'level' is str" in f
        for f in issues(rule_pack(when="{level: {lt: 3}}"))
    )
    assert issues(rule_pack(effect="{points: 2}")) == [
        "bad.yaml:10: rule r1: effect.points: a deduction is negative: 2"
    ]
    assert any("plain decimal (no exponent" in f for f in issues(rule_pack(effect="{points: -1.0e+1}")))


def test_unknown_indicator_category_and_unit_against_the_snapshot() -> None:
    text = rule_pack(when="{indicator: GDPX, category: city}")
    p = load_pack(text, "bad.yaml")
    s = snapshot(units=(unit("A"),), indicators=(indicator("GDP"),))
    with pytest.raises(PackError) as info:
        validate_pack(p, s)
    found = [str(i) for i in info.value.issues]
    assert "bad.yaml:9: rule r1: when.indicator: unknown indicator 'GDPX'" in found
    assert "bad.yaml:9: rule r1: when.category: unknown category 'city'" in found


def test_unknown_placeholder_and_method_param() -> None:
    text = rule_pack().replace('zh: "扣分"', 'zh: "扣分 {nope}"')
    assert issues(text) == ["bad.yaml:11: rule r1: text.zh: unknown placeholder {nope}"]
    empty = rule_pack().replace('zh: "扣分"', 'zh: "扣分 {}"')  # would fail only when rendered
    assert issues(empty) == ["bad.yaml:11: rule r1: text.zh: unknown placeholder {}"]
    bad_param = "indicators:\n  GDP: {method: step, params: {per_pont: 0.1}}\n"
    assert any(
        "unknown parameter 'per_pont' for method step" in f for f in issues(rule_pack(extra=bad_param))
    )


def test_displacement_cycle() -> None:
    body = """
rules:
  - {id: a, version: 1, kind: warning, on: checkpoint, displaces: [b], effect: {}, text: {zh: a, en: a}}
  - {id: b, version: 1, kind: warning, on: checkpoint, displaces: [a], effect: {}, text: {zh: b, en: b}}
"""
    found = issues("pack: bad\nversion: 1\n" + body)
    assert found == ["bad.yaml:5: rule a: displaces: displacement cycle: a → b → a"]


def test_hash_ignores_comments_whitespace_and_key_order() -> None:
    a = pack("rules: []\nbuckets: {h: {cap: 5}}\n")
    b = load_pack("# a comment\nbuckets:\n  h:   {cap: 5.0}\nversion: 1\npack: test\nrules: []\n", "b.yaml")
    assert a.sha256 == b.sha256
    assert pack("rules: []\nbuckets: {h: {cap: 4}}\n").sha256 != a.sha256


# --- composition: expressions, references, tags, sheet rules, shares ------------------------------

TARGET_RULE = """pack: bad
version: 1
constants: {{PROVINCE: 5.2}}
rules:
  - id: r1
    version: 1
    kind: bonus
    on: {on}
    when: {when}
    effect: {{points: 1}}
    text: {{zh: "加分", en: "{text}"}}
"""


def target_issues(when: str, on: str = "target", text: str = "bonus") -> list[str]:
    return issues(TARGET_RULE.format(when=when, on=on, text=text))


def test_expression_errors_name_the_rule_field_and_line() -> None:
    assert target_issues("{completion_pct: {lt: {field: category_avgpct}}}") == [
        "bad.yaml:9: rule r1: when.completion_pct: unknown field 'category_avgpct' (known: "
        + ", ".join(sorted(__import__("engine.pack.schema", fromlist=["FIELDS"]).FIELDS["target"]))
        + ")"
    ]
    assert target_issues("{completion_pct: {lt: {field: category}}}") == [
        "bad.yaml:9: rule r1: when.completion_pct: 'lt' needs numbers on both sides; 'category' is str"
    ]
    assert target_issues("{category: {eq: {field: actual}}}") == [
        "bad.yaml:9: rule r1: when.category: type mismatch: 'category' is str, 'actual' is num"
    ]
    assert target_issues("{actual: {gt: {mul: [annual, category]}}}") == [
        "bad.yaml:9: rule r1: when.actual: arithmetic needs numbers; 'category' is str"
    ]
    assert target_issues("{actual: {gt: {sub: [annual]}}}") == [
        "bad.yaml:9: rule r1: when.actual: 'sub' needs a list of two operands"
    ]
    assert target_issues("{actual: {gt: {const: PROVINCIAL}}}") == [
        "bad.yaml:9: rule r1: when.actual: unknown constant 'PROVINCIAL' (constants: PROVINCE)"
    ]
    assert target_issues("{actual: {in: {field: annual}}}") == [
        "bad.yaml:9: rule r1: when.actual: 'in' takes literal values, not an expression"
    ]


def test_comparisons_that_can_never_hold() -> None:
    assert target_issues("{actual: {lt: {field: actual}}}") == [
        "bad.yaml:9: rule r1: when: the condition can never hold: "
        "actual < actual compares a field with itself"
    ]
    assert target_issues("{actual: {gt: {div: [annual, 0]}}}") == [
        "bad.yaml:9: rule r1: when: the condition can never hold: actual > (annual ÷ 0) divides by zero"
    ]
    assert target_issues("{tags: {has: grain, lacks: grain}}") == [
        "bad.yaml:9: rule r1: when: the condition can never hold: tags has grain and lacks grain"
    ]
    assert target_issues('{"rank@CQ01": {lt: 2, gt: 3}}') == [
        "bad.yaml:9: rule r1: when: the condition can never hold: rank@CQ01 < 2 and rank@CQ01 > 3"
    ]


def test_cross_indicator_references_and_tags_misused() -> None:
    assert target_issues('{"rnk@CQ01": 1}') == [
        "bad.yaml:9: rule r1: when.rnk@CQ01: 'rnk@CQ01': unknown target field 'rnk' (known: "
        + ", ".join(sorted(__import__("engine.pack.schema", fromlist=["FIELDS"]).FIELDS["target"]))
        + ", score)"
    ]
    assert target_issues('{"score@CQ01": {lt: 3}}') == [
        "bad.yaml:9: rule r1: when.score@CQ01: 'score@CQ01': an indicator's score is known only on "
        "sheet facts"
    ]
    assert target_issues("{tags: grain}") == [
        "bad.yaml:9: rule r1: when.tags: 'tags' is a set of tags: write {has: TAG} or {lacks: TAG}"
    ]
    assert target_issues("{tags: {has: 'grain land'}}") == [
        "bad.yaml:9: rule r1: when.tags: a tag is letters, digits, '_' or '-', not 'grain land'"
    ]
    assert target_issues("{indicator: CQ01}", text="{rank@}") == [
        "bad.yaml:11: rule r1: text.en: unknown placeholder {rank@}"
    ]


def test_sheet_rules_before_grading_may_not_read_the_grade() -> None:
    found = target_issues("{grade: fair, total: {lt: 60}}", on="sheet")
    assert found == [
        "bad.yaml:9: rule r1: when.grade: 'grade' is known only after grading; a bonus rule on sheet "
        "facts runs before grading (flag and warning rules run after it)"
    ]


def test_checkpoint_vetoes_are_year_only_and_shares_are_checked() -> None:
    text = rule_pack(when="{direction: higher}", effect="{points: -1, co_unit_share: 1.5}").replace(
        "on: event", "on: target"
    )
    assert issues(text) == [
        "bad.yaml:10: rule r1: effect.co_unit_share: a share is 0..1",
        "bad.yaml:10: rule r1: effect.co_unit_share: co_unit_share goes with shared",
    ]
    veto = (
        "pack: bad\nversion: 1\nco_unit_share: -0.1\nrules:\n  - id: v\n    version: 1\n    kind: veto\n"
        "    on: checkpoint\n    periods: [quarter]\n    effect: {consequence: bar_excellent}\n"
        "    text: {zh: x, en: x}\n"
    )
    assert issues(veto) == [
        "bad.yaml:3: co_unit_share: a share is 0..1",
        "bad.yaml:9: rule v: periods: 'quarter' not allowed for a veto rule on checkpoint: "
        "checkpoint facts exist in year runs only",
    ]


def test_unknown_indicator_or_tag_against_the_snapshot() -> None:
    p = pack(
        """
not_applicable:
  - {indicator: Q, tags: [urban_cor]}
rules:
  - id: r1
    version: 1
    kind: bonus
    on: target
    when: {"rank@GPD": 1, tags: {has: grain}}
    effect: {points: 1}
    text: {zh: x, en: x}
"""
    )
    with pytest.raises(PackError) as info:
        validate_pack(p, snapshot(units=(unit("A"),), indicators=(indicator("Q"),)))
    assert [str(i) for i in info.value.issues] == [
        "test.yaml:5: not_applicable.tags: no unit or category has the tag 'urban_cor'",
        "test.yaml:11: rule r1: when: unknown indicator 'GPD'",
        "test.yaml:11: rule r1: when.tags: no unit or category has the tag 'grain' (tags: none)",
    ]
