"""What the web pages and the API read: rankings, heat maps, scorecards, a firing's explanation.

Plain queries over the stored runs (no writes). Visibility (who may see which run) is decided by
the caller; these functions take the run they are given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from engine import Cut as EngineCut
from engine import Firing as EngineFiring
from engine import MatchedFact, RunResult
from store import Category, Cut, Firing, Indicator, RulePack, Run, Scheme, ScoreSheet, Unit
from workflows.errors import NotFound
from workflows.runs import _engine_sheet

GRADE_ORDER = ("excellent", "good", "fair", "poor")


def get_scheme(session: Session, code: str) -> Scheme:
    scheme = session.scalars(select(Scheme).where(Scheme.code == code)).one_or_none()
    if scheme is None:
        raise NotFound(f"no scheme {code}")
    return scheme


def get_unit(session: Session, scheme: Scheme, code: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.scheme_id == scheme.id, Unit.code == code)).one_or_none()
    if unit is None:
        raise NotFound(f"scheme {scheme.code} has no unit {code}")
    return unit


def runs_of(session: Session, scheme: Scheme | None = None) -> list[Run]:
    """Every run, newest first (optionally of one scheme)."""
    query = select(Run).order_by(Run.id.desc())
    if scheme is not None:
        query = query.where(Run.scheme_id == scheme.id)
    return list(session.scalars(query))


def current_runs(session: Session, scheme: Scheme) -> list[Run]:
    """The scheme's runs that no later run superseded, newest first."""
    return [r for r in runs_of(session, scheme) if r.status != "superseded"]


def latest_run(session: Session, scheme: Scheme) -> Run | None:
    runs = current_runs(session, scheme)
    return runs[0] if runs else None


def get_run(session: Session, run_id: int) -> Run:
    """The run without its frozen snapshot (megabytes on a province; loaded only if touched)."""
    run = session.get(Run, run_id, options=[defer(Run.snapshot)])
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def categories(session: Session, scheme: Scheme) -> list[Category]:
    query = select(Category).where(Category.scheme_id == scheme.id).order_by(Category.id)
    return list(session.scalars(query))


def indicators_by_code(session: Session, scheme: Scheme) -> dict[str, Indicator]:
    rows = session.scalars(select(Indicator).where(Indicator.scheme_id == scheme.id))
    return {i.code: i for i in rows}


@dataclass(frozen=True)
class RankRow:
    unit: Unit
    sheet: ScoreSheet


def ranking(session: Session, run: Run, category_code: str) -> list[RankRow]:
    """The category's score sheets in rank order (unranked last, then by unit code)."""
    rows = session.execute(
        select(ScoreSheet, Unit)
        .join(Unit, Unit.id == ScoreSheet.unit_id)
        .where(ScoreSheet.run_id == run.id, ScoreSheet.category_code == category_code)
    )
    out = [RankRow(row[1], row[0]) for row in rows]
    out.sort(key=lambda r: (r.sheet.rank is None, r.sheet.rank or 0, r.unit.code))
    return out


def grade_counts(rows: list[RankRow]) -> dict[str, int]:
    counts = dict.fromkeys(GRADE_ORDER, 0)
    for r in rows:
        if r.sheet.grade in counts:
            counts[r.sheet.grade] += 1
    return counts


@dataclass
class HeatMap:
    """Indicators behind schedule: warnings, gaps and schedule-lag firings per unit × indicator."""

    indicators: list[str]
    units: list[Unit]
    cells: dict[tuple[int, str], int] = field(default_factory=dict)

    def count(self, unit_id: int, indicator: str) -> int:
        return self.cells.get((unit_id, indicator), 0)

    @property
    def peak(self) -> int:
        return max(self.cells.values(), default=0)


def _behind_schedule(f: Firing) -> bool:
    if f.effect in ("warning", "gap"):
        return True
    return f.effect == "deduction" and any(
        m.get("type") == "checkpoint" and m.get("values", {}).get("lagging") is True for m in f.matched_facts
    )


def heat_map(session: Session, run: Run, rows: list[RankRow]) -> HeatMap:
    unit_ids = [r.unit.id for r in rows]
    indicators: list[str] = []
    for r in rows:
        for s in r.sheet.sections:
            for code in s.get("indicators", []):
                if code not in indicators:
                    indicators.append(code)
    hm = HeatMap(indicators, [r.unit for r in rows])
    if not unit_ids:
        return hm
    firings = session.scalars(
        select(Firing).where(Firing.run_id == run.id, Firing.unit_id.in_(unit_ids),
                             Firing.indicator_code.is_not(None),
                             Firing.effect.in_(("warning", "gap", "deduction")))
    )
    for f in firings:
        if f.indicator_code in indicators and _behind_schedule(f):
            key = (f.unit_id, f.indicator_code or "")
            hm.cells[key] = hm.cells.get(key, 0) + 1
    return hm


@dataclass
class IndicatorLine:
    code: str
    name_zh: str
    name_en: str
    points: Decimal  # the score firings' points
    firings: list[Firing]


@dataclass
class SectionCard:
    code: str
    weight: str
    full: str
    earned: str
    score: str
    zeroed_by: str | None
    indicators: list[IndicatorLine]


@dataclass
class Scorecard:
    run: Run
    unit: Unit
    sheet: ScoreSheet | None
    sections: list[SectionCard]
    others: dict[str, list[Firing]]  # effect → firings outside the score lines
    cuts: list[Cut]


def scorecard(session: Session, run: Run, unit: Unit) -> Scorecard:
    sheet = session.scalars(
        select(ScoreSheet).where(ScoreSheet.run_id == run.id, ScoreSheet.unit_id == unit.id)
    ).one_or_none()
    firings = list(session.scalars(
        select(Firing).where(Firing.run_id == run.id, Firing.unit_id == unit.id).order_by(Firing.seq)
    ))
    by_indicator: dict[str, list[Firing]] = defaultdict(list)
    others: dict[str, list[Firing]] = defaultdict(list)
    for f in firings:
        if f.effect == "score" and f.indicator_code:
            by_indicator[f.indicator_code].append(f)
        else:
            others[f.effect].append(f)
    names = indicators_by_code(session, run.scheme)
    sections = []
    for s in sheet.sections if sheet else []:
        lines = []
        for code in s.get("indicators", []):
            ind = names.get(code)
            fs = by_indicator.get(code, [])
            lines.append(IndicatorLine(code, ind.name_zh if ind else code, ind.name_en if ind else code,
                                       sum((f.points for f in fs), Decimal(0)), fs))
        sections.append(SectionCard(s["code"], s["weight"], s["full"], s["earned"], s["score"],
                                    s.get("zeroed_by"), lines))
    cuts = list(session.scalars(
        select(Cut).where(Cut.run_id == run.id, Cut.unit_id == unit.id).order_by(Cut.seq)
    ))
    order = ("bonus", "deduction", "veto", "warning", "flag", "gap", "score")
    return Scorecard(run, unit, sheet, sections,
                     {k: others[k] for k in order if others.get(k)}, cuts)


def get_firing(session: Session, run: Run, seq: int) -> Firing:
    firing = session.scalars(select(Firing).where(Firing.run_id == run.id, Firing.seq == seq)).one_or_none()
    if firing is None:
        raise NotFound(f"run {run.id} has no firing #{seq}")
    return firing


def firings_of(session: Session, run: Run, *, unit_ids: set[int] | None = None,
               effect: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[Firing], int]:
    query = select(Firing).where(Firing.run_id == run.id)
    if unit_ids is not None:
        query = query.where(Firing.unit_id.in_(unit_ids))
    if effect:
        query = query.where(Firing.effect == effect)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Firing.seq).offset(offset).limit(limit)))
    return rows, total


def rule_source(pack: RulePack, rule_id: str) -> str:
    """The rule's own lines of the pack's YAML text, as the office wrote them."""
    lines = pack.yaml_text.splitlines()
    start = None
    indent = 0
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("- id:") and stripped[5:].strip().strip("'\"") == rule_id:
            start, indent = i, len(line) - len(stripped)
            break
    if start is None:
        return ""
    out = [lines[start]]
    for line in lines[start + 1:]:
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if stripped and (depth < indent or (depth == indent and stripped.startswith("-"))):
            break
        if stripped.startswith("#") and depth <= indent:
            break
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


@dataclass(frozen=True)
class FiringExplanation:
    firing: Firing
    rule_text: str
    cuts: list[Cut]
    indicator: Indicator | None
    history: list[dict[str, Any]]


def explain_firing(session: Session, run: Run, seq: int) -> FiringExplanation:
    f = get_firing(session, run, seq)
    cuts = [c for c in session.scalars(
        select(Cut).where(Cut.run_id == run.id, Cut.unit_id == f.unit_id).order_by(Cut.seq)
    ) if seq in (c.firing_seqs or [])]
    indicator = indicators_by_code(session, run.scheme).get(f.indicator_code or "")
    return FiringExplanation(f, rule_source(run.rule_pack, f.rule_id), cuts, indicator, [])


def unit_result(session: Session, run: Run, unit: Unit) -> RunResult:
    """The stored run as the engine's result, restricted to ``unit``'s firings, sheet and cuts.

    What ``engine.explain`` needs for one unit, read with three indexed queries instead of the whole
    run (``workflows.runs.load_result`` reads every row and re-hashes the run: that integrity
    check belongs to ``kaohe audit verify``, not to every page view of a province's run).
    """
    firings = tuple(
        EngineFiring(
            seq=f.seq, rule_id=f.rule_id, rule_version=f.rule_version, pack_sha256=f.pack_sha256,
            unit=unit.code, indicator=f.indicator_code, period=f.period, effect=f.effect, bucket=f.bucket,
            matched=tuple(MatchedFact(m["id"], m["type"], m["values"]) for m in f.matched_facts),
            raw_points=f.raw_points, points=f.points, text_zh=f.text_zh, text_en=f.text_en,
            detail=dict(f.detail), status=f.status, override=f.override,
        )
        for f in session.scalars(select(Firing).where(Firing.run_id == run.id, Firing.unit_id == unit.id)
                                 .order_by(Firing.seq))
    )
    sheets = tuple(_engine_sheet(s, unit.code) for s in session.scalars(
        select(ScoreSheet).where(ScoreSheet.run_id == run.id, ScoreSheet.unit_id == unit.id)))
    cuts = tuple(
        EngineCut(unit=unit.code, indicator=c.indicator_code, kind=c.kind, source=c.source,
                  seqs=tuple(c.firing_seqs), before=c.before, after=c.after, text_zh=c.text_zh,
                  text_en=c.text_en)
        for c in session.scalars(select(Cut).where(Cut.run_id == run.id, Cut.unit_id == unit.id)
                                 .order_by(Cut.seq))
    )
    pack = run.rule_pack
    return RunResult(
        scheme_code=run.scheme.code, period=run.period, pack_name=pack.name,
        pack_version=int(pack.version) if pack.version.isdigit() else 0, pack_sha256=pack.sha256,
        snapshot_sha256=run.snapshot_sha256, firings=firings, sheets=sheets, cuts=cuts, why_not=(),
        run_hash=run.run_hash,
    )
