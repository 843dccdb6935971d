"""A stored run: found, locked while it changes hands, read back, replayed.

A run never changes once stored; what other code does with it afterwards (decide a case on it,
seal it, show it, check it) starts here. Reading it back re-hashes its rows, so rows changed
behind the ledger's back are refused, and a replay re-evaluates its frozen snapshot under its own
pack version. Kept apart from making a run (:mod:`workflows.runs.create`): a reader of the stored
rows needs none of the run's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import Cut as EngineCut
from engine import Firing as EngineFiring
from engine import RunResult, evaluate
from engine import ScoreSheet as EngineSheet
from engine.facts import Snapshot
from engine.result import MatchedFact, SectionScore, VetoNote, run_hash
from engine.values.canonical import to_plain
from store import Cut, Firing, Run, ScoreSheet, Unit
from workflows.errors import Conflict, NotFound
from workflows.packs import engine_pack


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def lock_current(session: Session, run: Run) -> None:
    """Take the run row's write lock and make sure it is still current (not superseded or sealed
    by a transaction that committed since we read it)."""
    done = session.execute(
        update(Run).where(Run.id == run.id, Run.status == "complete").values(status="complete")
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(run)
        raise Conflict(f"run {run.id} is {run.status}: only the current, unsealed run can change")


def load_result(session: Session, run: Run) -> RunResult:
    """The stored run as the engine's result (without why-nots, which only a replay recomputes).

    The firings and score sheets are re-hashed: rows changed behind the ledger's back are refused.
    """
    units = select(Unit.id, Unit.code).where(Unit.scheme_id == run.scheme_id)
    code_of = dict(session.execute(units).all())
    firings = tuple(
        EngineFiring(
            seq=f.seq, rule_id=f.rule_id, rule_version=f.rule_version, pack_sha256=f.pack_sha256,
            unit=code_of[f.unit_id], indicator=f.indicator_code, period=f.period, effect=f.effect,
            bucket=f.bucket,
            matched=tuple(MatchedFact(m["id"], m["type"], m["values"]) for m in f.matched_facts),
            raw_points=f.raw_points, points=f.points, text_zh=f.text_zh, text_en=f.text_en,
            detail=dict(f.detail), status=f.status, override=f.override,
        )
        for f in session.scalars(select(Firing).where(Firing.run_id == run.id).order_by(Firing.seq))
    )
    sheets = tuple(
        sorted(
            (engine_sheet(s, code_of[s.unit_id])
             for s in session.scalars(select(ScoreSheet).where(ScoreSheet.run_id == run.id))),
            key=lambda s: s.unit,
        )
    )
    cuts = tuple(
        EngineCut(
            unit=code_of[c.unit_id], indicator=c.indicator_code, kind=c.kind, source=c.source,
            seqs=tuple(c.firing_seqs), before=c.before, after=c.after, text_zh=c.text_zh, text_en=c.text_en,
        )
        for c in session.scalars(select(Cut).where(Cut.run_id == run.id).order_by(Cut.seq))
    )
    stored_hash = run_hash(firings, sheets)
    if stored_hash != run.run_hash:
        raise Conflict(
            f"run {run.id}: its stored firings and score sheets hash to {stored_hash[:12]}…, "
            f"not the recorded run hash {run.run_hash[:12]}… — run `kaohe audit verify`"
        )
    pack = run.rule_pack
    return RunResult(
        scheme_code=run.scheme.code, period=run.period, pack_name=pack.name,
        pack_version=int(pack.version) if pack.version.isdigit() else 0, pack_sha256=pack.sha256,
        snapshot_sha256=run.snapshot_sha256, firings=firings, sheets=sheets, cuts=cuts, why_not=(),
        run_hash=run.run_hash,
    )


def engine_sheet(s: ScoreSheet, unit: str) -> EngineSheet:
    """A stored score sheet as the engine's (the read models show one unit's this way too)."""
    return EngineSheet(
        unit=unit,
        category=s.category_code or None,
        sections=tuple(
            SectionScore(
                code=x["code"], weight=Decimal(x["weight"]), full=Decimal(x["full"]),
                earned=Decimal(x["earned"]), score=Decimal(x["score"]),
                indicators=tuple(x["indicators"]), zeroed_by=x["zeroed_by"],
            )
            for x in s.sections
        ),
        bonus=s.bonus,
        deduction=s.deduction,
        vetoes=tuple(
            VetoNote(v["rule_id"], v["consequence"], v["grade"], v["section"], tuple(v["fact_ids"]), v["seq"])
            for v in s.vetoes
        ),
        total=s.total,
        rank=s.rank,
        grade=s.grade,
        flags=tuple(s.flags),
        grade_notes=tuple(s.grade_notes),
        credited_events=tuple(s.credited_events),
    )


@dataclass(frozen=True)
class ReplayReport:
    run_id: int
    stored_hash: str
    replayed_hash: str
    differences: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return self.stored_hash == self.replayed_hash and not self.differences


def replay(session: Session, run: Run) -> tuple[ReplayReport, RunResult]:
    """Re-evaluate the run's frozen snapshot under its own pack version and compare everything
    the run stored: firings, score sheets and cuts."""
    snapshot = Snapshot.from_json(run.snapshot)
    if snapshot.sha256() != run.snapshot_sha256:
        raise Conflict(f"run {run.id}: the stored snapshot no longer hashes to its snapshot_sha256")
    replayed = evaluate(engine_pack(run.rule_pack), snapshot)
    stored = load_result(session, run)
    return ReplayReport(run.id, run.run_hash, replayed.run_hash, _differences(stored, replayed)), replayed


def _differences(stored: RunResult, replayed: RunResult) -> tuple[str, ...]:
    out: list[str] = []
    old_f = {f.seq: f for f in stored.firings}
    new_f = {f.seq: f for f in replayed.firings}
    for seq in sorted(old_f.keys() | new_f.keys()):
        a, b = old_f.get(seq), new_f.get(seq)
        if a is None or b is None:
            out.append(f"firing {seq}: {'only in the replay' if a is None else 'missing from the replay'}")
        elif to_plain(a) != to_plain(b):
            out.append(f"firing {seq} ({a.rule_id}, {a.unit}): stored {a.points} / replayed {b.points}")
    old_s = {s.unit: s for s in stored.sheets}
    new_s = {s.unit: s for s in replayed.sheets}
    for unit in sorted(old_s.keys() | new_s.keys()):
        x, y = old_s.get(unit), new_s.get(unit)
        if x is None or y is None:
            where = "only in the replay" if x is None else "missing from the replay"
            out.append(f"score sheet {unit}: {where}")
        elif to_plain(x) != to_plain(y):
            out.append(
                f"score sheet {unit}: stored total {x.total} rank {x.rank} grade {x.grade} / "
                f"replayed total {y.total} rank {y.rank} grade {y.grade}"
            )
    return tuple(out + _cut_differences(stored.cuts, replayed.cuts))


def _cut_differences(stored: tuple[EngineCut, ...], replayed: tuple[EngineCut, ...]) -> list[str]:
    """Cuts are not in the run hash, so a replay compares them one by one, in order."""
    out = []
    for n in range(max(len(stored), len(replayed))):
        a = stored[n] if n < len(stored) else None
        b = replayed[n] if n < len(replayed) else None
        if a is None or b is None:
            out.append(f"cut {n + 1}: {'only in the replay' if a is None else 'missing from the replay'}")
        elif to_plain(a) != to_plain(b):
            out.append(f"cut {n + 1} ({a.kind} {a.source}, {a.unit}): stored {a.before} → {a.after} / "
                       f"replayed {b.before} → {b.after}")
    return out
