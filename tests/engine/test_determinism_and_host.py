"""Same snapshot + pack → same bytes whatever the order; the durable_rules wrapper's guards hold."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal as D

import pytest

from engine import PackError, RunResult, evaluate, explain, render_explanation
from engine.facts import CategoryFact, Snapshot
from engine.run.durable_host import MAX_LIVE_SIDS, ActionError, DurableError, RuleSpec, host
from engine.run.matching import compile_rules, match_facts
from tests.engine.builders import category, event, indicator, pack, report, snapshot, target, unit
from tests.engine.test_rules import HONOURS, INCIDENTS, SCHEDULE, SCORE

BODY = (
    HONOURS.replace("rules:", "rules:" + SCORE)
    + INCIDENTS.split("rules:", 1)[1]
    + SCHEDULE.split("rules:", 1)[1]
)
BODY = BODY.replace(
    "buckets:\n  honours", "buckets:\n  incidents: {}\n  schedule: {cap: 1, per: indicator}\n  honours"
)


def city() -> Snapshot:
    units = tuple(unit(f"U{i:02d}") for i in range(8))
    inds = (indicator("Q", "60"), indicator("K", "40", method="step"))
    rng = random.Random(7)
    reports = tuple(
        report(u.code, i.code, f"2024-{m:02d}", str(rng.randint(10, 40) * m // 3))
        for u in units
        for i in inds
        for m in (3, 6, 9, 12)
    )
    events = tuple(
        event(f"E{n}", units[n % 8].code, *kind)
        for n, kind in enumerate(
            [
                ("honour", "honour", "national"),
                ("honour", "honour", "provincial"),
                ("incident", "criticism", "county"),
                ("incident", "petition", "municipal"),
            ]
            * 5
        )
    )
    events = tuple(dataclasses.replace(e, quantity=D(2)) if e.event_type == "petition" else e for e in events)
    return snapshot(
        categories=(category("county", quant=100),),
        units=units,
        indicators=inds,
        targets=tuple(target(u.code, i.code, "100") for u in units for i in inds),
        reports=reports,
        events=events,
    )


def shuffled(s: Snapshot, seed: int) -> Snapshot:
    rng = random.Random(seed)

    def mix(items: tuple[object, ...]) -> tuple[object, ...]:
        out = list(items)
        rng.shuffle(out)
        return tuple(out)

    cats = tuple(
        CategoryFact(c.code, c.name_zh, c.name_en, mix(c.sections), c.grade_rules)  # type: ignore[arg-type]
        for c in s.categories
    )
    return dataclasses.replace(
        s,
        categories=mix(cats),
        units=mix(s.units),
        indicators=mix(s.indicators),
        targets=mix(s.targets),
        reports=mix(s.reports),
        events=mix(s.events),
    )


def test_shuffled_snapshots_give_identical_bytes() -> None:
    p = pack(BODY)
    first = evaluate(p, city())
    assert len(first.firings) > 30
    for seed in range(3):
        again = evaluate(p, shuffled(city(), seed))
        assert again.run_hash == first.run_hash
        assert again.canonical_bytes() == first.canonical_bytes()
    assert [f.seq for f in first.firings] == list(range(1, len(first.firings) + 1))


def test_explanation_is_deterministic_and_complete() -> None:
    r: RunResult = evaluate(pack(BODY), city())
    e = explain(r, "U00", why_not=True)
    text = render_explanation(e, "en")
    assert text == render_explanation(
        explain(evaluate(pack(BODY), shuffled(city(), 9)), "U00", why_not=True), "en"
    )
    assert "Total" in text and "[Rules that did not apply]" in text
    assert "等次" in render_explanation(e, "zh")
    only_q = explain(r, "U00", indicator="Q")
    assert all(f.indicator == "Q" for _, fs in only_q.groups for f in fs)


def test_action_exception_propagates_to_the_caller() -> None:
    h = host()
    h.ensure_ruleset("t.boom@1", [RuleSpec("r0", "any", 1, "x", {"t": "s:e"})])

    def boom(_: object) -> None:
        raise ValueError("inside the action")

    with pytest.raises(ActionError, match="inside the action"):
        h.run_session("t.boom@1", [("f1", {"t": "s:e"})], boom)
    assert h.live_sids("t.boom@1") == 0
    assert h.run_session("t.boom@1", [("f1", {"t": "s:e"})])[0].fact_id == "f1"  # the ruleset still works


def test_loose_equality_does_not_mismatch() -> None:
    """durable_rules' "1" == 1 == true must not make a level '1', the number 1 and true match each other."""
    p = pack("""
rules:
  - {id: num, version: 1, kind: warning, on: event, when: {quantity: 1}, effect: {}, text: {zh: n, en: n}}
  - {id: txt, version: 1, kind: warning, on: event, when: {event_type: "1"}, effect: {}, text: {zh: s, en: s}}
  - {id: "yes", version: 1, kind: warning, on: event, when: {documented: true}, effect: {},
     text: {zh: b, en: b}}
""")
    evs = [
        event("N", "A", "incident", "x", quantity="1", document_no=None),
        event("S", "A", "incident", "1", document_no=None),
        event("B", "A", "incident", "true"),
    ]
    from engine.run.derive import derive
    from engine.values.periods import parse_period

    d = derive(snapshot(units=(unit("A"),), events=tuple(evs)), parse_period("2024"), p)
    got = sorted((r.id, f.id) for r, f in match_facts(p, "event", d.facts["event"]))
    assert got == [("num", "N"), ("txt", "S"), ("yes", "B")]
    with pytest.raises(PackError, match="an id is text, not True"):
        pack(
            "rules:\n  - {id: yes, version: 1, kind: warning, on: event, effect: {}, text: {zh: x, en: x}}\n"
        )


def test_ruleset_names_are_never_registered_twice_with_other_rules() -> None:
    h = host()
    h.ensure_ruleset("t.same@1", [RuleSpec("r0", "a", 1, "x", {"t": "s:e"})])
    h.ensure_ruleset("t.same@1", [RuleSpec("r0", "a", 1, "x", {"t": "s:e"})])  # cached: fine
    with pytest.raises(DurableError, match="already registered with other rules"):
        h.ensure_ruleset("t.same@1", [RuleSpec("r0", "a", 2, "x", {"t": "s:e"})])


def test_many_units_stay_under_the_live_sid_limit() -> None:
    p = pack("""
rules:
  - {id: any, version: 1, kind: warning, on: event, when: {kind: incident}, effect: {}, text: {zh: x, en: x}}
""")
    n = MAX_LIVE_SIDS + 300
    s = snapshot(
        units=tuple(unit(f"U{i:04d}", None) for i in range(n)),
        events=tuple(event(f"E{i}", f"U{i:04d}", "incident", "x") for i in range(n)),
    )
    r = evaluate(p, s, why_not_detail=False)
    assert sum(1 for f in r.firings if f.rule_id == "any") == n
    assert all(host().live_sids(rs.name) == 0 for rs in compile_rules(p, "event"))


def test_float_and_exponent_inputs_are_refused() -> None:
    from engine.run.snapshot_check import SnapshotError

    bad = snapshot(units=(unit("A"),), indicators=(indicator("Q", params={"ceiling": 1.2}),))
    with pytest.raises(SnapshotError, match="binary float"):
        evaluate(pack("rules: []\n"), bad)
    tiny = snapshot(units=(unit("A"),), indicators=(indicator("Q", "1E-7"),))
    with pytest.raises(SnapshotError, match="more than four decimal places"):
        evaluate(pack("rules: []\n"), tiny)


def test_every_report_number_is_checked_however_many_there_are() -> None:
    """Reports are checked record by record in a fast loop: a bad number anywhere is still found,
    named by its report, and trailing zeros beyond four places are accepted as before."""
    from engine.run.snapshot_check import SnapshotError, check_snapshot

    units = tuple(unit(f"U{n}") for n in range(30))
    reports = [report(f"U{n}", "Q", "2024-12", f"{n}.5") for n in range(30)]
    fine = snapshot(units=units, indicators=(indicator("Q"),), reports=tuple(reports))
    check_snapshot(dataclasses.replace(fine, reports=(*reports[:-1], dataclasses.replace(
        reports[-1], value=D("1.500000")))))  # more places, all zeros: exact, accepted
    cases = {
        "binary float": dataclasses.replace(reports[7], value=1.5),
        "more than four decimal places": dataclasses.replace(reports[12], reported_value=D("0.00001")),
        "too large": dataclasses.replace(reports[20], verified_value=D("1E+15")),
        "not a finite number": dataclasses.replace(reports[29], value=D("NaN")),
    }
    for message, bad in cases.items():
        swapped = tuple(bad if r.id == bad.id else r for r in reports)
        with pytest.raises(SnapshotError, match=message) as raised:
            check_snapshot(dataclasses.replace(fine, reports=swapped))
        assert bad.id in str(raised.value)
