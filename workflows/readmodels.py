"""What the web pages and the API read: rankings, heat maps, scorecards, a firing's explanation.

Plain queries over the stored runs (no writes). Visibility (who may see which run) is decided by
the caller; these functions take the run they are given.

A unit's part of a run (its score sheet, firings and cuts, and the JSON bodies made from them) is
read once and kept in a per-process LRU (:func:`unit_part`): a run's firings, sheets and cuts
are written once with the run and never updated (a change makes a new run, with a new id, that
supersedes it; PostgreSQL refuses UPDATE and DELETE on those tables). The key binds the database,
the run's id, its run hash and its creation time, so a recreated database or another run can never
be answered from another's entry. What does change — the run's status, the unit's name, the
scheme's indicators — is always read fresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from engine import Cut as EngineCut
from engine import Firing as EngineFiring
from engine import MatchedFact, RunResult, explain, render_explanation
from store import Category, Cut, Firing, Indicator, RulePack, Run, Scheme, ScoreSheet, Unit
from workflows.errors import NotFound
from workflows.runs import engine_sheet

GRADE_ORDER = ("excellent", "good", "fair", "poor")
T = TypeVar("T")


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
    """The run (its frozen snapshot is in ``run_snapshot``, read only if ``run.snapshot`` is touched)."""
    run = session.get(Run, run_id)
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


@dataclass(frozen=True, slots=True)
class UnitRef:
    """The unit as a run's rows name it (what ``sheet.unit.code`` and ``firing.unit.code`` read)."""

    id: int
    code: str


@dataclass(frozen=True, slots=True)
class FiringView:
    """A stored firing's columns, read once (the same attribute names as :class:`store.Firing`)."""

    seq: int
    rule_id: str
    rule_version: int
    pack_sha256: str
    unit: UnitRef
    unit_id: int
    indicator_code: str | None
    period: str
    effect: str
    bucket: str | None
    matched_facts: list[dict[str, Any]]
    raw_points: Decimal
    points: Decimal
    text_zh: str
    text_en: str
    detail: dict[str, Any]
    status: str
    override: str | None


@dataclass(frozen=True, slots=True)
class SheetView:
    """A stored score sheet's columns (the same attribute names as :class:`store.ScoreSheet`)."""

    unit: UnitRef
    unit_id: int
    category_code: str
    sections: list[dict[str, Any]]
    bonus: Decimal
    deduction: Decimal
    vetoes: list[dict[str, Any]]
    total: Decimal
    rank: int | None
    grade: str | None
    flags: list[str]
    grade_notes: list[str]
    credited_events: list[str]


@dataclass(frozen=True, slots=True)
class CutView:
    """A stored cut's columns (the same attribute names as :class:`store.Cut`)."""

    seq: int
    unit_id: int
    indicator_code: str | None
    kind: str
    source: str
    firing_seqs: list[int]
    before: Decimal
    after: Decimal
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class UnitPart:
    """One unit's rows of one run, as stored: its sheet (if any), its firings and cuts in seq order.

    Shared between requests by the cache: callers read it and never change it (or its lists).
    ``memos`` keeps what is made from these rows alone (an endpoint's serialised body), made on
    first use.
    """

    unit: UnitRef
    sheet: SheetView | None
    firings: tuple[FiringView, ...]
    cuts: tuple[CutView, ...]
    run_header: RunResult  # the run's own fields, with no rows
    memos: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, computed once per key for this unit's part. ``make`` must read only this part
        (and constants): the result is served to every later reader of the same run and unit."""
        try:
            value: T = self.memos[key]
        except KeyError:
            value = self.memos.setdefault(key, make())
        return value

    @property
    def result(self) -> RunResult:
        """The engine's form of this part (made on each call: only the text made from it is kept)."""
        return _engine_result(self.run_header, self.unit, self.firings, self.sheet, self.cuts)

    def explanation_text(self, indicator: str | None, lang: str) -> str:
        """``engine.explain`` of this unit (only ``indicator``'s part, if given) rendered in ``lang``."""
        return render_explanation(explain(self.result, self.unit.code, indicator), lang)


UNIT_CACHE_SIZE = 256
"""Units kept per process. A province unit's part (~140 firings) is ~0.6 MB, ~1 MB with the JSON
bodies of its explanation in both languages: at most ~250 MB per worker."""

_unit_cache: OrderedDict[tuple[str, int, str, dt.datetime, int], UnitPart] = OrderedDict()
_unit_cache_lock = threading.Lock()
cache_stats = {"hits": 0, "misses": 0}


def clear_unit_cache() -> None:
    with _unit_cache_lock:
        _unit_cache.clear()
        cache_stats.update(hits=0, misses=0)


def _database_key(session: Session) -> str:
    bind = session.get_bind()
    engine: Engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


def unit_part(session: Session, run: Run, unit: Unit, *, cached: bool = True) -> UnitPart:
    """``unit``'s sheet, firings and cuts in ``run`` — from the per-process cache when there.

    Keyed by (database, run id, run hash, run creation time, unit id): the rows behind a key never
    change, so an entry is never stale; a superseding run has another id and its own entries.
    """
    key = (_database_key(session), run.id, run.run_hash, run.created_at, unit.id)
    if cached:
        with _unit_cache_lock:
            part = _unit_cache.get(key)
            if part is not None:
                _unit_cache.move_to_end(key)
                cache_stats["hits"] += 1
                return part
    part = _read_unit_part(session, run, unit)
    if cached:
        with _unit_cache_lock:
            cache_stats["misses"] += 1
            _unit_cache[key] = part
            while len(_unit_cache) > UNIT_CACHE_SIZE:
                _unit_cache.popitem(last=False)
    return part


def _columns(view: type[Any]) -> tuple[str, ...]:
    """The stored columns a view carries (all its fields but the unit it belongs to)."""
    return tuple(f.name for f in fields(view) if f.name not in ("unit", "unit_id"))


def _rows(session: Session, model: type[Firing | ScoreSheet | Cut], run: Run,
          unit: Unit) -> list[dict[str, Any]]:
    """``unit``'s rows of ``model`` in ``run``, the view's columns as plain mappings (Core, no ORM rows)."""
    names = _columns({Firing: FiringView, ScoreSheet: SheetView, Cut: CutView}[model])
    table = model.__table__
    query = select(*(table.c[n] for n in names)).where(table.c.run_id == run.id, table.c.unit_id == unit.id)
    if "seq" in names:
        query = query.order_by(table.c.seq)
    return [dict(row) for row in session.execute(query).mappings()]


def _read_unit_part(session: Session, run: Run, unit: Unit) -> UnitPart:
    ref = UnitRef(unit.id, unit.code)
    firings = tuple(FiringView(unit=ref, unit_id=unit.id, **r) for r in _rows(session, Firing, run, unit))
    sheets = [SheetView(unit=ref, unit_id=unit.id, **r) for r in _rows(session, ScoreSheet, run, unit)]
    cuts = tuple(CutView(unit_id=unit.id, **r) for r in _rows(session, Cut, run, unit))
    sheet = sheets[0] if sheets else None
    pack = run.rule_pack
    header = RunResult(
        scheme_code=run.scheme.code, period=run.period, pack_name=pack.name,
        pack_version=int(pack.version) if pack.version.isdigit() else 0, pack_sha256=pack.sha256,
        snapshot_sha256=run.snapshot_sha256, firings=(), sheets=(), cuts=(), why_not=(),
        run_hash=run.run_hash,
    )
    return UnitPart(ref, sheet, firings, cuts, header)


def _engine_result(header: RunResult, unit: UnitRef, firings: tuple[FiringView, ...], sheet: SheetView | None,
                   cuts: tuple[CutView, ...]) -> RunResult:
    engine_firings = tuple(
        EngineFiring(
            seq=f.seq, rule_id=f.rule_id, rule_version=f.rule_version, pack_sha256=f.pack_sha256,
            unit=unit.code, indicator=f.indicator_code, period=f.period, effect=f.effect, bucket=f.bucket,
            matched=tuple(MatchedFact(m["id"], m["type"], m["values"]) for m in f.matched_facts),
            raw_points=f.raw_points, points=f.points, text_zh=f.text_zh, text_en=f.text_en,
            detail=dict(f.detail), status=f.status, override=f.override,
        )
        for f in firings
    )
    sheets = (engine_sheet(sheet, unit.code),) if sheet is not None else ()  # type: ignore[arg-type]
    engine_cuts = tuple(
        EngineCut(unit=unit.code, indicator=c.indicator_code, kind=c.kind, source=c.source,
                  seqs=tuple(c.firing_seqs), before=c.before, after=c.after, text_zh=c.text_zh,
                  text_en=c.text_en)
        for c in cuts
    )
    return dataclasses.replace(header, firings=engine_firings, sheets=sheets, cuts=engine_cuts)


@dataclass
class IndicatorLine:
    code: str
    name_zh: str
    name_en: str
    points: Decimal  # the score firings' points
    firings: list[FiringView]


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
    sheet: SheetView | None
    sections: list[SectionCard]
    others: dict[str, list[FiringView]]  # effect → firings outside the score lines
    cuts: list[CutView]
    part: UnitPart


def scorecard(session: Session, run: Run, unit: Unit, *, cached: bool = True) -> Scorecard:
    part = unit_part(session, run, unit, cached=cached)
    sheet = part.sheet
    by_indicator: dict[str, list[FiringView]] = defaultdict(list)
    others: dict[str, list[FiringView]] = defaultdict(list)
    for f in part.firings:
        if f.effect == "score" and f.indicator_code:
            by_indicator[f.indicator_code].append(f)
        else:
            others[f.effect].append(f)
    names = indicators_by_code(session, run.scheme) if sheet is not None and sheet.sections else {}
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
    order = ("bonus", "deduction", "veto", "warning", "flag", "gap", "score")
    return Scorecard(run, unit, sheet, sections,
                     {k: others[k] for k in order if others.get(k)}, list(part.cuts), part)


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


def unit_result(session: Session, run: Run, unit: Unit, *, cached: bool = True) -> RunResult:
    """The stored run as the engine's result, restricted to ``unit``'s firings, sheet and cuts.

    What ``engine.explain`` needs for one unit, read with three indexed queries instead of the whole
    run (``workflows.runs.load_result`` reads every row and re-hashes the run: that integrity
    check belongs to ``kaohe audit verify``, not to every page view of a province's run).
    """
    return unit_part(session, run, unit, cached=cached).result
