"""Better is better, whichever way an indicator points (issue 16).

A metamorphic property over the engine's public surface (``engine.evaluate`` on a small
snapshot): take a unit's reports on one indicator and make them better — more when higher is
better, less for lower-is-better and control-line indicators — at the year end, at the
checkpoints, or both. Then, under every scoring method that can score the direction and under
the shipped packs (the demo city's, the province bench's) and a probe pack that reads every
derived field that compares an actual with a target, the unit's item score never drops, no
deduction, veto or warning appears that was not there, and no bonus disappears. Read the other
way round, the same pair says that making it worse never adds a bonus.

The definitions themselves (completion, over, shortfall per direction) are pinned by worked
examples, the ones docs/rulepacks.md prints.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import PackError, RulePack, RunResult, Snapshot, evaluate, load_pack, validate_pack
from engine.pack.scoring import METHOD_DIRECTIONS, METHOD_PARAMS
from engine.values import vocab

from .builders import category, indicator, report, snapshot, target, unit

ROOT = Path(__file__).resolve().parents[2]

# The probe: one rule per derived field that compares actual with target, each in the direction
# that should only ever get *easier* to reach (bonus) or *harder* (deduction, warning) as the
# unit's value gets better.
_PROBE_RULES = (  # id, kind, fact type, condition, effect
    ("score", "score", "target", "{}", "{method: indicator}"),
    ("b.completion", "bonus", "target", "{completion_pct: {gte: 100}}", "{points: 1}"),
    ("b.over", "bonus", "target", "{over_pct: {gt: 10}}", "{points: {rate: 0.1, of: over_pct}}"),
    ("b.rank", "bonus", "target", "{rank: {lte: 1}}", "{points: 1}"),
    ("b.all_rank", "bonus", "target", "{all_rank: {lte: 2}}", "{points: 1}"),
    ("b.category_avg", "bonus", "target", "{completion_pct: {gt: {field: category_avg_pct}}}", "{points: 1}"),
    ("b.all_avg", "bonus", "target", "{completion_pct: {gte: {field: all_avg_pct}}}", "{points: 1}"),
    ("b.no_lag", "bonus", "target", "{lagging_checkpoints: 0}", "{points: 1}"),
    ("b.sheet", "bonus", "sheet", "{failed_targets: 0}", "{points: 1}"),
    ("d.shortfall", "deduction", "target", "{shortfall_pct: {gt: 5}}", "{points: -1}"),
    ("d.completion", "deduction", "target", "{completion_pct: {lt: 90}}", "{points: -1}"),
    ("d.rank", "deduction", "target", "{rank: {gte: 3}}", "{points: -1}"),
    ("d.all_rank", "deduction", "target", "{all_rank: {gt: 1}}", "{points: -1}"),
    (
        "d.category_avg",
        "deduction",
        "target",
        "{completion_pct: {lt: {field: category_avg_pct}}}",
        "{points: -1}",
    ),
    ("d.lagging_checkpoints", "deduction", "target", "{lagging_checkpoints: {gte: 1}}", "{points: -1}"),
    ("d.lag", "deduction", "checkpoint", "{lagging: true}", "{points: -0.5, reset_if_caught_up: true}"),
    ("d.schedule", "deduction", "checkpoint", "{schedule_pct: {lt: 90}}", "{points: -0.5}"),
    ("d.months", "deduction", "checkpoint", "{months_lagging_running: {gte: 2}}", "{points: -0.5}"),
    ("d.quarters", "deduction", "checkpoint", "{quarters_lagging_running: {gte: 1}}", "{points: -0.5}"),
    ("d.failed", "deduction", "sheet", "{failed_targets: {gte: 1}}", "{points: -1}"),
    ("w.schedule", "warning", "checkpoint", "{schedule_pct: {lt: 80}}", "{notice: reminder}"),
    ("v.shortfall", "veto", "target", "{shortfall_pct: {gt: 30}}", "{consequence: bar_excellent}"),
)
PROBE = "pack: probe\nversion: 1\nrules:\n" + "".join(
    f"  - {{id: {i}, version: 1, kind: {k}, on: {on}, when: {w}, effect: {e}, text: {{zh: {i}, en: {i}}}}}\n"
    for i, k, on, w, e in _PROBE_RULES
)

# Parameters a scheme gives each method (the demo's, and a per-point-over lower_better).
PARAMS: dict[str, tuple[dict[str, Any], ...]] = {
    "pass_fail": ({}, {"fail_points": "1"}),
    "proportional": ({"ceiling": "1.2"}, {}),
    "step": ({"per_point": "0.1", "net_limit": "10"}, {"per_point": "0.2", "net_limit": "3"}),
    "ranking_decay": ({"step_pct": "5", "floor_pct": "50"},),
    "ranking_table": ({"table": {"1": "5", "2": "4", "3": "3"}, "default": "1"},),
    "lower_better": ({"ceiling": "1.1"}, {"per_point_over": "0.5"}),
    "control_line": ({"over_score": "0"}, {"over_score": "2"}),
    "rubric": ({"scale": "100"}, {}),
}
PAIRS = tuple((m, d) for m, ds in METHOD_DIRECTIONS.items() for d in ds)
CHECKPOINTS = ("2024-03", "2024-06", "2024-09", "2024-12")


def _shipped(
    path: Path, scheme: str, cats: tuple[tuple[str, dict[str, int]], ...]
) -> tuple[RulePack, Snapshot]:
    pack = load_pack(path.read_text(encoding="utf-8"), path.name)
    base = snapshot(categories=tuple(category(code, **w) for code, w in cats))
    return pack, dataclasses.replace(base, scheme_code=scheme)


_PACKS = {
    "demo": lambda: _shipped(
        ROOT / "rulepacks" / "demo-city-2024.yaml",
        "DEMO-2024",
        (
            ("county", {"key_work": 40, "quantitative": 50, "other": 10}),
            ("department", {"key_work": 20, "core_duty": 60, "evaluation": 20}),
            ("stationed", {"core_duty": 80, "evaluation": 20}),
        ),
    ),
    "bench": lambda: _shipped(
        ROOT / "bench" / "province-pack.yaml",
        "BENCH-2024",
        tuple(
            (c, {"key_work": 40, "quantitative": 50, "other": 10})
            for c in ("county", "township", "department")
        ),
    ),
    "probe": lambda: (
        load_pack(PROBE, "probe.yaml"),
        snapshot(categories=(category("county", quantitative=100),)),
    ),
}


@pytest.fixture(scope="module", params=sorted(_PACKS))
def shipped(request: pytest.FixtureRequest) -> tuple[RulePack, Snapshot]:
    made: tuple[RulePack, Snapshot] = _PACKS[request.param]()
    return made


@dataclasses.dataclass(frozen=True)
class Case:
    method: str
    direction: str
    params: dict[str, Any]
    annual: tuple[int, ...]  # the three units' targets
    values: tuple[tuple[int, ...], ...]  # per unit, the cumulative reports at CHECKPOINTS
    co_unit: bool  # U0's target names U1 as a co-unit (shared deductions)
    gains: tuple[int, ...]  # how much better U0's report gets at each checkpoint


@st.composite
def cases(draw: st.DrawFn) -> Case:
    method, direction = draw(st.sampled_from(PAIRS))
    params = dict(draw(st.sampled_from(PARAMS[method])))
    if draw(st.booleans()):
        params["over_bonus_cap"] = "2"
    annual = tuple(draw(st.integers(0, 120)) for _ in range(3))  # 0: no percentages
    values = tuple(tuple(draw(st.integers(-10, 200)) for _ in CHECKPOINTS) for _ in range(3))
    gains = tuple(draw(st.sampled_from((0, 0, 1, 5, 30, 150))) for _ in CHECKPOINTS)
    return Case(method, direction, params, annual, values, draw(st.booleans()), gains)


def _run(pack: RulePack, base: Snapshot, case: Case, u0: tuple[int, ...]) -> RunResult:
    ind = indicator("X", "10", case.method, "quantitative", case.direction, dict(case.params))
    units = tuple(unit(f"U{i}", "county") for i in range(3))
    targets = tuple(
        target(u.code, "X", str(a), co=(("U1", "0.5"),) if u.code == "U0" and case.co_unit else ())
        for u, a in zip(units, case.annual, strict=True)
    )
    reports = tuple(
        report(u.code, "X", when, str(v))
        for u, vs in zip(units, (u0, *case.values[1:]), strict=True)
        for when, v in zip(CHECKPOINTS, vs, strict=True)
    )
    s = dataclasses.replace(base, units=units, indicators=(ind,), targets=targets, reports=reports)
    return evaluate(pack, s, why_not=False)


def _better(direction: str, values: tuple[int, ...], gains: tuple[int, ...]) -> tuple[int, ...]:
    sign = 1 if direction == "higher" else -1
    return tuple(v + sign * g for v, g in zip(values, gains, strict=True))


def _of(r: RunResult, effects: tuple[str, ...]) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.rule_id, f.fact_ids) for f in r.firings if f.unit == "U0" and f.effect in effects}


def _score(r: RunResult) -> D:
    return sum((f.points for f in r.firings if f.unit == "U0" and f.effect == "score"), D(0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_a_better_value_never_scores_less_nor_adds_a_deduction_nor_loses_a_bonus(
    shipped: tuple[RulePack, Snapshot], case: Case
) -> None:
    pack, base = shipped
    worse = _run(pack, base, case, case.values[0])
    better = _run(pack, base, case, _better(case.direction, case.values[0], case.gains))
    assert _score(better) >= _score(worse)
    # a better value adds no deduction, veto or warning (a milder rung of a ladder — a reminder
    # where the worse value drew the supervision order that displaces it — is not an addition) …
    harms = ("deduction", "veto", "warning")
    assert _beyond(_of(better, harms), _of(worse, harms), pack) == set()
    # … and loses no bonus (unless a bigger one displaces it); read backwards: a worse value
    # never adds a bonus
    assert _beyond(_of(worse, ("bonus",)), _of(better, ("bonus",)), pack) == set()


def _beyond(these: set[tuple[str, tuple[str, ...]]], those: set[tuple[str, tuple[str, ...]]],
            pack: RulePack) -> set[tuple[str, tuple[str, ...]]]:
    """The firings in ``these`` that ``those`` neither has nor outranks (a rule of ``those`` on the
    same facts that displaces it)."""
    displaces = {r.id: set(r.displaces) for r in pack.rules}
    return {(rule, facts) for rule, facts in these - those
            if not any(f == facts and rule in displaces.get(r, set()) for r, f in those)}


def test_every_method_and_direction_is_covered() -> None:
    """The property draws every method with every direction it can score."""
    assert set(METHOD_PARAMS) == set(vocab.SCORING_METHODS) == set(PARAMS)
    assert {d for _, d in PAIRS} == set(vocab.DIRECTIONS)


def _target_facts(direction: str, annual: str, actual: str) -> dict[str, Any]:
    pack = load_pack(PROBE, "probe.yaml")
    method = "proportional"
    s = snapshot(
        categories=(category("county", quantitative=100),),
        units=(unit("U0"),),
        indicators=(indicator("X", "10", method=method, direction=direction, section="quantitative"),),
        targets=(target("U0", "X", annual),),
        reports=(report("U0", "X", "2024-12", actual),),
    )
    r = evaluate(pack, s, why_not=False)
    (score,) = [f for f in r.firings if f.effect == "score"]
    return dict(score.matched[0].values)


@pytest.mark.parametrize(
    ("direction", "annual", "actual", "completion", "over", "shortfall"),
    [
        ("higher", "120", "138", "115", "15", "0"),  # 138 of 120: 15 % over
        ("higher", "120", "90", "75", "0", "25"),
        ("lower", "35", "31.5", "110", "10", "0"),  # PM2.5 31.5 against 35: 10 % better
        ("lower", "35", "42", "80", "0", "20"),  # 42 against 35: 20 % worse
        ("lower", "20", "0", "200", "100", "0"),  # no heavy-pollution day against 20
        ("control_line", "2", "4", "0", "0", "100"),  # 4 petitions against a line of 2: 100 % over the line
        ("control_line", "2", "1", "150", "50", "0"),  # 1 against 2: 50 % better than the line
        ("control_line", "2", "2", "100", "0", "0"),  # on the line: met, neither over nor short
        ("higher", "-2", "-1", "150", "50", "0"),  # a negative target: more is still better
    ],
)
def test_the_worked_examples_of_the_docs(
    direction: str, annual: str, actual: str, completion: str, over: str, shortfall: str
) -> None:
    v = _target_facts(direction, annual, actual)
    assert (v["completion_pct"], v["over_pct"], v["shortfall_pct"]) == (D(completion), D(over), D(shortfall))


@pytest.mark.parametrize(
    ("method", "direction"), [("lower_better", "higher"), ("control_line", "higher"), ("rubric", "lower")]
)
def test_a_method_that_cannot_score_the_direction_is_refused_with_what_to_do(
    method: str, direction: str
) -> None:
    pack = load_pack(PROBE, "probe.yaml")
    s = snapshot(
        categories=(category("county", quantitative=100),),
        units=(unit("U0"),),
        indicators=(indicator("X", "10", method=method, direction=direction, section="quantitative"),),
        targets=(target("U0", "X", "10"),),
    )
    with pytest.raises(PackError) as err:
        validate_pack(pack, s)
    message = str(err.value)
    assert f"indicator X in the scheme: method {method} cannot score a {direction} indicator" in message
    assert "correct the direction" in message


def test_a_score_rule_naming_a_method_the_direction_cannot_take_is_a_gap_not_a_score() -> None:
    pack = load_pack(
        PROBE.replace("effect: {method: indicator}", "effect: {method: lower_better}"), "probe.yaml"
    )
    s = snapshot(
        categories=(category("county", quantitative=100),),
        units=(unit("U0"),),
        indicators=(indicator("X", "10", direction="higher", section="quantitative"),),
        targets=(target("U0", "X", "10"),),
        reports=(report("U0", "X", "2024-12", "12"),),
    )
    r = evaluate(pack, s, why_not=False)
    assert not [f for f in r.firings if f.effect == "score"]
    (gap,) = [f for f in r.firings if f.rule_id == "gap.method_direction"]
    assert gap.text_zh == "X指标的计分方法 lower_better 与指标方向 越高越好不符，无法计分"
