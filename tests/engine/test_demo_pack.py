"""The demo city's pack loads, validates against the demo's own codes, and runs its special cases.

The snapshot is built here straight from demo/city/ (no database): the scheme workbook, the
targets workbook, the GB18030 progress CSV and the events CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import string
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from engine import RulePack, RunResult, evaluate, explain, load_pack, render_explanation, validate_pack
from engine.facts import (
    CategoryFact,
    EventFact,
    IndicatorFact,
    ReportFact,
    SectionFact,
    Snapshot,
    TargetFact,
    UnitFact,
)
from engine.run.derived import Derived
from engine.run.drafts import Draft
from engine.run.render import show, texts
from engine.values.decimals import fmt

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "demo" / "city"
PACK = ROOT / "rulepacks" / "demo-city-2024.yaml"
pytestmark = pytest.mark.skipif(not (CITY / "scheme.xlsx").exists(), reason="demo city not generated")


def _sheet(path: Path, name: str | None = None) -> list[dict[str, Any]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb[name] if name else wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def _dec(v: object) -> D:
    return D(str(v))


def _opt(v: str) -> str | None:
    return v or None


def build_snapshot() -> Snapshot:
    book = CITY / "scheme.xlsx"
    sections: dict[str, list[SectionFact]] = {}
    for s in _sheet(book, "sections"):
        sections.setdefault(s["category"], []).append(
            SectionFact(s["code"], s["name_zh"], s["name_en"], _dec(s["weight"]))
        )
    cats = tuple(
        CategoryFact(c["code"], c["name_zh"], c["name_en"], tuple(sections[c["code"]]))
        for c in _sheet(book, "categories")
    )
    units = tuple(
        UnitFact(u["code"], u["name"], u["level"], u["category"], u["parent"]) for u in _sheet(book, "units")
    )
    inds = tuple(
        IndicatorFact(
            i["code"],
            i["name_zh"],
            i["name_en"],
            i["section"],
            i["measure"],
            i["direction"],
            i["method"],
            _dec(i["points"]),
            json.loads(i["params"] or "{}"),
            i["source_department"],
        )
        for i in _sheet(book, "indicators")
    )
    targets = []
    for t in _sheet(CITY / "targets.xlsx"):
        unit, ind = t["单位代码"], t["指标代码"]
        milestones = tuple(
            (f"2024-{p.split('=')[0]}", _dec(p.split("=")[1])) for p in (t["节点目标"] or "").split(";") if p
        )
        co = tuple(
            (c.split(":")[0], _dec(c.split(":")[1]) if ":" in c else D(0))
            for c in (t["协办单位"] or "").split(";")
            if c
        )
        targets.append(
            TargetFact(
                f"{unit}/{ind}",
                unit,
                ind,
                _dec(t["年度目标值"]),
                t["序时方式"] or "pro_rata",
                milestones,
                t["牵头单位代码"] or unit,
                co,
            )
        )
    reports: dict[tuple[str, str, str], ReportFact] = {}
    with (CITY / "progress.csv").open(encoding="gb18030", newline="") as f:
        for r in csv.DictReader(f):
            key = (r["单位代码"], r["指标代码"], r["报送期"])
            verified = _dec(r["核定值"]) if r["核定值"] else None
            fact = ReportFact(
                "/".join(key),
                *key,
                verified if verified is not None else _dec(r["累计完成值"]),
                _dec(r["累计完成值"]),
                verified,
                r["报送来源"] or key[0],
            )
            if key not in reports or fact.source == "市统计局":  # the statistics bureau is authoritative
                reports[key] = fact
    events = []
    with (CITY / "events.csv").open(encoding="utf-8-sig", newline="") as f:
        for e in csv.DictReader(f):
            events.append(
                EventFact(
                    e["事项编号"],
                    e["单位代码"],
                    e["类型"],
                    e["细类"],
                    _opt(e["级别"]),
                    e["标题"],
                    _opt(e["授予/通报机关"]),
                    _opt(e["文号"]),
                    dt.date.fromisoformat(e["发文日期"]) if e["发文日期"] else None,
                    dt.date.fromisoformat(e["发生日期"]) if e["发生日期"] else None,
                    int(e["工作年度"]),
                    _opt(e["去重键"]),
                    _dec(e["数量"]) if e["数量"] else None,
                    _dec(e["核定数量"]) if e["核定数量"] else None,
                    _opt(e["指标代码"]),
                )
            )
    return Snapshot(
        "DEMO-2024",
        2024,
        "2024",
        dt.date(2024, 12, 31),
        cats,
        units,
        inds,
        tuple(targets),
        tuple(reports.values()),
        tuple(events),
        prior_cutoff_date=dt.date(2023, 12, 31),  # the demo scheme's previous_cutoff_date
    )


@pytest.fixture(scope="module")
def demo() -> tuple[RulePack, Snapshot]:
    return load_pack(PACK.read_text(encoding="utf-8"), PACK.name), build_snapshot()


@pytest.fixture(scope="module")
def year(demo: tuple[RulePack, Snapshot]) -> RunResult:
    return evaluate(*demo)


def test_pack_validates_against_the_demo_codes(demo: tuple[RulePack, Snapshot]) -> None:
    pack, snap = demo
    validate_pack(pack, snap)
    assert len(snap.indicators) == 51 and len(snap.units) == 75


def _firings(r: RunResult, rule_id: str, unit: str | None = None) -> list[Any]:
    return [f for f in r.firings if f.rule_id == rule_id and (unit is None or f.unit == unit)]


def test_demo_special_cases(year: RunResult) -> None:
    assert year.sheet("C07").vetoes[0].rule_id == "veto.safety.major"  # type: ignore[union-attr]
    assert year.sheet("C07").grade != "excellent"  # type: ignore[union-attr]
    assert year.sheet("C08").vetoes[0].rule_id == "veto.environment.serious"  # type: ignore[union-attr]
    # HON-02/HON-03: the same honour counts once, at national level
    assert [f.matched[0].id for f in _firings(year, "bonus.honour", "C04")] == ["HON-03"]
    # HON-04 carried over from 2023; HON-05 has no document; HON-18 is after the cut-off
    assert [f.matched[0].id for f in _firings(year, "bonus.honour", "C06")] == ["HON-04"]
    reasons = {w.fact_ids: w.reason for w in year.why_not if w.rule_id == "bonus.honour"}
    assert reasons[("HON-05",)] == "no_document" and reasons[("HON-18",)] == "timing"
    # C05: 2 + 2 + 1 + 1 = 6, cut to 5 by the honours cap
    assert year.sheet("C05").bonus >= D(5)  # type: ignore[union-attr]
    assert any(c.unit == "C05" and c.text_en == "bonus cut from 6 to 5 by the honours cap" for c in year.cuts)
    # C03 key projects lag at Q1–Q3 and catch up by December: the lag deductions are reset
    assert [f.points for f in _firings(year, "schedule.lag", "C03") if f.indicator == "CK01"] == [D(0)] * 3
    # C07's industrial investment never catches up: lag at Q1–Q3, capped at 1.5
    assert sum(f.points for f in _firings(year, "schedule.lag", "C07") if f.indicator == "CQ04") == D("-1.5")
    # C02: petitions to Beijing −5 and 3 to the province −6, the petitions cap stops them at −10
    assert [f.raw_points for f in _firings(year, "deduction.petition", "C02")] == [D(-5), D(-6)]
    assert sum(f.points for f in _firings(year, "deduction.petition", "C02")) == D(-10)
    # verification: C05/CK02 cut by 17.2
    assert any(
        c.kind == "verification" and c.unit == "C05" and c.before - c.after == D("17.2") for c in year.cuts
    )
    graded = [s for s in year.sheets if s.category == "county"]
    assert sum(1 for s in graded if s.grade == "excellent") <= 3
    assert sorted(s.rank for s in graded) == list(range(1, 10))


def test_c02s_petitions_over_the_control_line_earn_no_bonus_and_read_as_a_failure(year: RunResult) -> None:
    """4 petition batches against a control line of 2 (issue 16): the line is broken, so the
    item scores 0, the facts say 100 % *worse* than the line, and no over-completion bonus
    rewards it (it used to: +2 "超额完成 100%")."""
    mine = [f for f in year.firings if f.unit == "C02" and f.indicator == "CO01"]
    assert not [f for f in mine if f.effect == "bonus"]
    (score,) = [f for f in mine if f.effect == "score"]
    assert score.points == 0 and score.text_zh == "赴省进京越级信访批次：完成 4（目标 2），得 0 分"
    facts = score.matched[0].values
    assert (facts["completion_pct"], facts["over_pct"], facts["shortfall_pct"]) == (D(0), D(0), D(100))
    assert not any("超额" in f.text_zh for f in year.firings if f.indicator in ("CO01", "CQ16", "DC07"))
    # a county within the line is better than it: 1 batch against 2 is 50 % better, +2 (capped)
    (bonus,) = [f for f in year.firings if f.unit == "C01" and f.indicator == "CO01" and f.effect == "bonus"]
    assert (bonus.rule_id, bonus.points) == ("bonus.below_target", D(2))
    assert bonus.text_zh == "赴省进京越级信访批次为 1，低于目标 2，优于目标 50%，加 2 分（封顶 2）"


def test_demo_quarter_and_month_runs(demo: tuple[RulePack, Snapshot]) -> None:
    import dataclasses

    pack, snap = demo
    q2 = evaluate(pack, dataclasses.replace(snap, period="2024-Q2"))
    lag = {(f.unit, f.indicator) for f in q2.firings if f.rule_id == "schedule.lag"}
    assert {("C07", "CQ04"), ("C03", "CK01"), ("D15", "DK01")} <= lag
    assert {
        f.detail.get("notice")
        for f in q2.firings
        if f.unit == "C07" and f.indicator == "CQ04" and f.effect == "warning"
    } == {"supervision"}
    month = evaluate(pack, dataclasses.replace(snap, period="2024-07"))
    assert {f.effect for f in month.firings} <= {"warning", "gap"}


def test_demo_explanation(year: RunResult) -> None:
    text = render_explanation(explain(year, "C07", why_not=True), "zh")
    assert "veto.safety.major" in text and "[未适用的规则]" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_printed_total_is_a_sum_that_adds_up_in_a_year_and_in_a_quarter(
    demo: tuple[RulePack, Snapshot], year: RunResult, lang: str
) -> None:
    """``Total 91.0577 = key_work 39.2252 + … + bonus 6.0174 + deduction -12``: every term joined
    by a plus, none empty (a quarter's run has no sections, only bonus and deduction)."""
    import dataclasses

    quarter = evaluate(demo[0], dataclasses.replace(demo[1], period="2024-Q3"))
    for run in (year, quarter):
        for unit in ("C05", "C07"):
            line = render_explanation(explain(run, unit), lang).splitlines()[1]
            total, terms = line.split(" = ")
            values = [D(term.rsplit(" ", 1)[1]) for term in terms.split(" + ")]
            assert all(term.strip() for term in terms.split(" + ")), line
            assert sum(values, D(0)) == D(total.rsplit(" ", 1)[1]), line
            assert len(values) == (2 if run is quarter else 5), line


def test_demo_printed_totals_add_up_and_a_wrong_one_is_flagged_not_rescaled(
    demo: tuple[RulePack, Snapshot], year: RunResult
) -> None:
    """Every unit's indicator points add up to its sections' weights: no gap.section_total. Print
    DK01 as 10 instead of 12 and each department's key_work is flagged and scored out of 20."""
    import dataclasses

    assert not [f for f in year.firings if f.rule_id.startswith("gap.section")]
    pack, snap = demo
    wrong = dataclasses.replace(
        snap,
        indicators=tuple(
            dataclasses.replace(i, points=D(10)) if i.code == "DK01" else i for i in snap.indicators
        ),
    )
    r = evaluate(pack, wrong)
    flagged = {f.unit: f.text_en for f in r.firings if f.rule_id == "gap.section_total"}
    assert len(flagged) == 48 and flagged["D01"] == "section key_work: indicator points add up to 18, not 20"
    d01 = r.sheet("D01")
    assert d01 is not None
    key_work = next(s for s in d01.sections if s.code == "key_work")
    assert key_work.full == 20 and key_work.score == D(20) * key_work.earned / D(20)


def test_demo_co_units_without_a_share_take_the_packs_default(demo: tuple[RulePack, Snapshot]) -> None:
    """D06/DC07 (deaths; control line 18) names D07, D15, D16 without shares. At 20 deaths the lead
    takes −1 and each co-unit the pack's co_unit_share 0.1 of it — not a 0-point firing."""
    import dataclasses

    pack, snap = demo
    reports = tuple(
        dataclasses.replace(r, value=D(20), reported_value=D(20))
        if (r.unit, r.indicator, r.period) == ("D06", "DC07", "2024-12")
        else r
        for r in snap.reports
    )
    r = evaluate(pack, dataclasses.replace(snap, reports=reports))
    got = {
        f.unit: (f.points, f.detail.get("share"))
        for f in r.firings
        if f.rule_id == "deduction.control_line_shared"
    }
    assert got == {
        "D06": (D(-1), "1"),
        "D07": (D("-0.1"), "0.1"),
        "D15": (D("-0.1"), "0.1"),
        "D16": (D("-0.1"), "0.1"),
    }
    assert any("lead D06, D15 answers for 0.1" in f.text_en for f in r.firings)


def _alone(template: str, dr: Draft, d: Derived, lang: str) -> str:
    """One language's text, rendered on its own, name by name as docs/rulepacks.md reads them."""
    first = dr.facts[0].values if dr.facts else {}
    values = {k: show(v, lang) for k, v in first.items()}
    if "annual" in first:
        values["target"] = show(first["annual"], lang)
    unit = d.units.get(dr.unit)
    values |= {"unit": dr.unit, "unit_name": unit.name if unit else dr.unit, "points": fmt(dr.points),
               "share": dr.detail.get("share", "1"), "period": d.period.text,
               "lead_unit": dr.detail.get("lead_unit", dr.facts[0].unit if dr.facts else dr.unit)}
    if dr.indicator is not None and dr.indicator in d.indicators:
        indicator = d.indicators[dr.indicator]
        values["indicator_name"] = indicator.name_zh if lang == "zh" else indicator.name_en
    return string.Formatter().vformat(template, (), defaultdict(lambda: "—", values))


def test_each_text_reads_as_its_own_language_alone_would_render_it(demo: tuple[RulePack, Snapshot]) -> None:
    """Both texts of a firing are filled from one set of formatted values; each must be what
    formatting for its own language gives (yes/no and indicator names differ)."""
    from engine.run.evaluate import prepare

    pack, snap = demo
    prepared = prepare(pack, snap, why_not=False)
    checked = 0
    for dr in prepared.drafts:
        if dr.texts is not None or dr.rule is None:
            continue
        alone = (_alone(dr.rule.text_zh, dr, prepared.d, "zh"), _alone(dr.rule.text_en, dr, prepared.d, "en"))
        assert texts(dr, prepared.d) == alone, dr.rule_id
        checked += 1
    assert checked > 100
