"""Property: on random facts and packs, the engine (through durable_rules) agrees with the plain
reference reading in tests/engine/reference.py, firing by firing and total by total."""

from __future__ import annotations

import textwrap
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Snapshot, evaluate, load_pack
from tests.engine import reference
from tests.engine.builders import category, event, indicator, report, snapshot, target, unit

LEVELS = ("national", "provincial", "municipal", "county")
TYPES = ("honour", "criticism", "petition", "1")
CAP_CHOICES = (None, "1", "2.5", "5")


@st.composite
def conditions(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f"event_type: {draw(st.sampled_from(TYPES))!r}")
    if draw(st.booleans()):
        levels = draw(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3, unique=True))
        parts.append(f"level: {{in: [{', '.join(levels)}]}}")
    if draw(st.booleans()):
        lo = draw(st.integers(0, 3))
        parts.append(f"quantity: {{gte: {lo}, lt: {lo + draw(st.integers(1, 4))}}}")
    if draw(st.booleans()):
        parts.append(f"documented: {str(draw(st.booleans())).lower()}")
    return "{" + ", ".join(parts) + "}"


TARGET_CONDITIONS = (
    "{indicator: A, completion_pct: {gt: {field: category_avg_pct}}}",
    "{completion_pct: {lt: {field: all_avg_pct}}}",
    "{indicator: B, actual: {gte: {mul: [annual, 1.3]}}}",
    "{actual: {lt: {mul: [annual, 0.5]}}}",
    "{actual: {gt: {add: [annual, 20]}}}",
    '{indicator: B, "rank@A": {lte: 1}}',
    "{rank: {gt: 1}, completion_pct: {gte: {field: category_avg_pct}}}",
)


@st.composite
def target_rules(draw: st.DrawFn) -> str:
    out = []
    for n in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(("bonus", "deduction", "deduction")))
        pts = draw(st.sampled_from(("0.5", "1", "3")))
        shared = draw(st.sampled_from(("", ", shared: additional", ", shared: split", ", shared: split")))
        effect = f"{{points: {pts}}}" if kind == "bonus" else f"{{points: -{pts}{shared}}}"
        out.append(f"""
  - id: t{n}
    version: 1
    kind: {kind}
    on: target
    when: {draw(st.sampled_from(TARGET_CONDITIONS))}
    effect: {effect}
    text: {{zh: "{{indicator}}", en: "{{indicator}} {{points}} {{share}}"}}""")
    return "".join(out)


@st.composite
def packs(draw: st.DrawFn) -> str:
    caps = {code: draw(st.sampled_from(CAP_CHOICES)) for code in ("plus", "minus")}
    buckets = "\n".join(f"  {c}: {{cap: {v}}}" if v else f"  {c}: {{}}" for c, v in caps.items())
    rules = [
        """
  - {id: score, version: 1, kind: score, on: target, effect: {method: indicator}, text: {zh: s, en: s}}"""
    ]
    for n in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("bonus", "deduction")))
        sign = "" if kind == "bonus" else "-"
        if draw(st.booleans()):
            vals = draw(st.lists(st.sampled_from(("0.5", "1", "2", "4")), min_size=4, max_size=4))
            pts = (
                "{by: level, table: {"
                + ", ".join(f"{lv}: {sign}{v}" for lv, v in zip(LEVELS, vals, strict=True))
                + "}}"
            )
        else:
            pts = f"{sign}{draw(st.sampled_from(('0.5', '1', '3')))}"
        extra = ", multiply_by: quantity" if draw(st.booleans()) else ""
        if kind == "bonus" and draw(st.booleans()):
            extra += ", dedupe: true"
        bucket = f"\n    bucket: {'plus' if kind == 'bonus' else 'minus'}" if draw(st.booleans()) else ""
        earlier = [f"r{m}" for m in range(n) if draw(st.integers(0, 3)) == 0]
        displaces = f"\n    displaces: [{', '.join(earlier)}]" if earlier else ""
        rules.append(f"""
  - id: r{n}
    version: 1
    kind: {kind}
    on: event
    when: {draw(conditions())}
    effect: {{points: {pts}{extra}}}{bucket}{displaces}
    text: {{zh: "{{title}}", en: "{{title}} {{points}}"}}""")
    rules.append(draw(target_rules()))
    head = "pack: prop\nversion: 1\n"
    share = draw(st.sampled_from((None, "0.1", "0.3")))
    if share:
        head += f"co_unit_share: {share}\n"
    treatment = draw(st.sampled_from((None, "full_marks", "rescale")))
    if treatment:
        head += f"not_applicable:\n  - {{indicator: B, units: [U0], treatment: {treatment}}}\n"
    return f"{head}buckets:\n{buckets}\nrules:{''.join(rules)}\n"


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    units = tuple(unit(f"U{i}", ("county", "city")[i % 2]) for i in range(draw(st.integers(1, 4))))
    methods = draw(
        st.lists(st.sampled_from(("pass_fail", "proportional", "control_line")), min_size=2, max_size=2)
    )
    # a control line scores a control-line indicator (less is better): completion, averages and
    # ranks then run the other way round, which the reference computes on its own
    inds = tuple(
        indicator(code, points, method=m, direction="control_line" if m == "control_line" else "higher")
        for code, points, m in (("A", "60", methods[0]), ("B", "40", methods[1]))
    )
    targets, reports = [], []
    for u in units:
        for ind in inds:
            annual = draw(st.integers(1, 200))
            others = [o.code for o in units if o.code != u.code]
            co = draw(st.lists(st.sampled_from(others), unique=True, max_size=2)) if others else []
            shares = tuple((c, draw(st.sampled_from(("0", "0.2", "0.5")))) for c in co)
            targets.append(target(u.code, ind.code, str(annual), co=shares))
            if draw(st.integers(0, 5)):
                reports.append(report(u.code, ind.code, "2024-12", str(draw(st.integers(0, 300)))))
    events = []
    for n in range(draw(st.integers(0, 10))):
        q = draw(st.one_of(st.none(), st.integers(0, 6)))
        events.append(
            event(
                f"E{n:02d}",
                draw(st.sampled_from(units)).code,
                "incident",
                draw(st.sampled_from(TYPES)),
                draw(st.one_of(st.none(), st.sampled_from(LEVELS))),
                document_no=draw(st.sampled_from(("文1号", None))),
                dedupe_key=draw(st.sampled_from((None, "k1", "k2"))),
                quantity=None if q is None else str(q),
            )
        )
    return snapshot(
        categories=(category("county", quant=100), category("city", quant=100)),
        units=units,
        indicators=inds,
        targets=tuple(targets),
        reports=tuple(reports),
        events=tuple(events),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=packs(), s=snapshots())
def test_engine_agrees_with_the_reference(text: str, s: Snapshot) -> None:
    pack = load_pack(textwrap.dedent(text), "prop.yaml")
    result = evaluate(pack, s, why_not_detail=False)
    ids = {r.id for r in pack.rules} | {f"gap.{r.id}" for r in pack.rules}
    got = {
        (f.rule_id, f.unit, f.fact_ids[0], f.points.normalize()) for f in result.firings if f.rule_id in ids
    }
    want_firings, want_totals = reference.reference(text, s)
    assert got == {(r, u, f, p.normalize()) for r, u, f, p in want_firings}
    assert {sh.unit: sh.total for sh in result.sheets} == want_totals


def test_the_reference_is_not_vacuous() -> None:
    """The property test would pass trivially if nothing ever fired; one hand-made case that must."""
    text = """pack: prop
version: 1
buckets:
  plus: {cap: 2.5}
rules:
  - {id: r0, version: 1, kind: bonus, on: event, when: {event_type: honour}, effect: {points: 2},
     bucket: plus, text: {zh: x, en: x}}
"""
    s = snapshot(
        units=(unit("U0", None),), events=tuple(event(f"E{i}", "U0", "honour", "honour") for i in range(2))
    )
    firings, totals = reference.reference(text, s)
    assert firings == {("r0", "U0", "E0", D(2)), ("r0", "U0", "E1", D("0.5"))}
    assert totals == {"U0": D("2.5")}
    assert evaluate(load_pack(text, "x.yaml"), s).sheets[0].total == D("2.5")


def test_the_reference_reads_composition_too() -> None:
    """A hand-made case through every composed path the property generates: a Calc condition on
    targets, a split with the pack's default share, displacement, and a rescaled N/A item."""
    text = """pack: prop
version: 1
co_unit_share: 0.3
not_applicable:
  - {indicator: B, units: [U0], treatment: rescale}
rules:
  - {id: score, version: 1, kind: score, on: target, effect: {method: indicator}, text: {zh: s, en: s}}
  - id: t0
    version: 1
    kind: deduction
    on: target
    when: {completion_pct: {lt: {field: category_avg_pct}}}
    effect: {points: -1, shared: split}
    text: {zh: x, en: x}
  - {id: r0, version: 1, kind: deduction, on: event, when: {event_type: petition}, effect: {points: -1},
     text: {zh: x, en: x}}
  - {id: r1, version: 1, kind: deduction, on: event, when: {event_type: petition, level: national},
     effect: {points: -5}, displaces: [r0], text: {zh: x, en: x}}
"""
    units = (unit("U0"), unit("U1"), unit("U2", "city"))
    inds = (indicator("A", "60"), indicator("B", "40"))
    s = snapshot(
        categories=(category("county", quant=100), category("city", quant=100)),
        units=units,
        indicators=inds,
        targets=(
            target("U0", "A", "100"),
            target("U0", "B", "100"),
            target("U1", "A", "100", co=(("U2", "0"),)),
            target("U1", "B", "100"),
            target("U2", "A", "100"),
            target("U2", "B", "100"),
        ),
        reports=tuple(
            report(u, i, "2024-12", v)
            for u, i, v in (("U0", "A", "90"), ("U1", "A", "60"), ("U1", "B", "100"), ("U2", "A", "100"))
        ),
        events=(
            event("P1", "U0", "incident", "petition", "national"),
            event("P2", "U0", "incident", "petition"),
        ),
    )
    firings, totals = reference.reference(text, s)
    # county average on A: (90 + 60) / 2 = 75; U1 at 60 is below: −1 split 0.7 / 0.3 (the default)
    assert {f for f in firings if f[0] != "score"} == {
        ("t0", "U1", "T-U1-A", D("-0.7")),
        ("t0", "U2", "T-U1-A", D("-0.3")),
        ("r1", "U0", "P1", D(-5)),
        ("r0", "U0", "P2", D(-1)),
    }
    # U0: A 54 of 60, B not applicable → 100 × 54 / 60 = 90, then −6; U1: 36 + 40 − 0.7
    assert totals == {"U0": D(84), "U1": D("75.3"), "U2": D("59.7")}
    result = evaluate(load_pack(text, "x.yaml"), s)
    assert {sh.unit: sh.total for sh in result.sheets} == totals
