"""A run made and stored: what a run *means*, one named step after another.

A run freezes a scheme's facts for a period, evaluates them under the approved pack and stores
everything at once. It is all or nothing (the caller's transaction holds the run row, its
firings, score sheets, cuts and the ``run.create`` audit event) and never changes afterwards;
running the same scheme and period again stores a new run that supersedes the old one — one run
at a time, never a sealed one, keeping the outcomes of the appeals decided on the old one.

Why it is apart: these rules are read and changed without reading how a province run is made
fast; the processes, spools and hand-offs that do that are :mod:`workflows.runs.machinery`'s,
behind :class:`RunMachinery`. Reading a stored run back is :mod:`workflows.runs.stored`'s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from engine import Cut as EngineCut
from engine import Period, Progress, parse_period, silent
from engine.facts import FiringOverride, PriorResult, Snapshot
from store import Firing, RulePack, Run, Scheme, ScoreSheet, Unit
from store.db import sqlite_write_lock
from workflows.errors import Conflict
from workflows.freeze import refuse_new_in_sealed
from workflows.packs import approved_pack_for, engine_pack, get_pack
from workflows.runs.machinery import RunMachinery, StoredRows
from workflows.runs.stored import lock_current
from workflows.snapshot import build_snapshot, find_scheme


@dataclass(frozen=True)
class RunSummary:
    """What a stored run came to (its rows hold the rest: ``load_result`` reads them back)."""

    scheme_code: str
    period: str
    pack_name: str
    pack_version: int
    pack_sha256: str
    snapshot_sha256: str
    firing_count: int
    sheet_count: int
    cuts: tuple[EngineCut, ...]
    run_hash: str


@dataclass(frozen=True)
class RunOutcome:
    run: Run
    result: RunSummary
    superseded: Run | None


def create_run(
    session: Session,
    scheme_ref: str,
    period_text: str,
    *,
    actor: str,
    pack_ref: str | None = None,
    overrides: Sequence[FiringOverride] | None = None,
    frozen: Snapshot | None = None,
    progress: Progress = silent,
) -> RunOutcome:
    """Run ``period_text`` of a scheme under its approved pack (or ``pack_ref``) and store it.

    ``overrides`` are the decided cases and appeals the run must honour; ``None`` carries over
    those of the run it supersedes, so a plain re-run never drops an appeal's outcome. ``frozen``
    re-evaluates an earlier run's snapshot instead of reading the database again, so a run made
    for a decision changes nothing but the decision. ``progress(phase, done, total)`` hears of
    each phase (snapshot, the engine's, store)."""
    with RunMachinery(progress) as machinery:
        scheme = find_scheme(session, scheme_ref)
        period = parse_period(period_text)
        _one_run_at_a_time(session, scheme)
        pack_row = _pack_to_run(session, scheme, pack_ref)
        previous = _run_to_supersede(session, scheme, period)
        refuse_new_in_sealed(scheme, "run")
        if overrides is None:
            overrides = _carried_overrides(session, previous)
        progress("snapshot", 0, 1)
        # (the snapshot is handed over as it is made: the engine frees its reports when done)
        machinery.evaluate(_snapshot(session, scheme, period, overrides, frozen), engine_pack(pack_row))
        progress("store", 0, 1)
        run = _new_run(session, scheme, pack_row, period, machinery.snapshot_sha256, previous, actor)
        stored = machinery.store(session, run)
        audit.record_run(session, run, actor, roots=stored.roots)
        return RunOutcome(run, _summary(scheme, period, run, stored), previous)


def _one_run_at_a_time(session: Session, scheme: Scheme) -> None:
    """Runs of a scheme one after another: otherwise two runs of a period started together both
    find the same current run, both supersede it and leave two current ones. PostgreSQL: the
    scheme's row locked until this run's transaction ends (FOR NO KEY UPDATE: rows that refer to
    the scheme can still be written); a second run waits here, then finds this one as the run it
    supersedes. SQLite: the database's write lock, now rather than at the first row stored. Then
    the scheme is read again, as it now stands. (The facts are kept still while they are read by
    ``build_snapshot``.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Scheme.id).where(Scheme.id == scheme.id).with_for_update(key_share=True))
    else:
        sqlite_write_lock(session, Scheme.__tablename__)
    session.refresh(scheme)


def _pack_to_run(session: Session, scheme: Scheme, pack_ref: str | None) -> RulePack:
    """The pack named, else the scheme's approved one; never a pack written for another scheme."""
    pack_row = get_pack(session, pack_ref) if pack_ref else approved_pack_for(session, scheme.code)
    if pack_row.scheme_code not in (None, scheme.code):
        raise Conflict(f"rule pack {pack_row.name}@{pack_row.version} is for scheme {pack_row.scheme_code}")
    return pack_row


def _run_to_supersede(session: Session, scheme: Scheme, period: Period) -> Run | None:
    """The period's current run, which the new one supersedes: refused if sealed, else locked —
    the committee's seal waits for this run, then refuses."""
    previous = session.scalars(
        select(Run)
        .where(Run.scheme_id == scheme.id, Run.period == period.text, Run.status.in_(("complete", "sealed")))
        .order_by(Run.id.desc())
    ).first()
    if previous is not None and previous.status == "sealed":
        raise Conflict(f"run {previous.id} of {scheme.code} {period.text} is sealed: it cannot be superseded")
    if previous is not None:
        lock_current(session, previous)
    return previous


def _carried_overrides(session: Session, previous: Run | None) -> tuple[FiringOverride, ...]:
    """The overrides the previous run honoured (read from its snapshot only if it had any)."""
    if previous is None:
        return ()
    overridden = session.scalar(
        select(Firing.id).where(Firing.run_id == previous.id, Firing.status != "applied").limit(1)
    )
    return Snapshot.from_json(previous.snapshot).overrides if overridden is not None else ()


def _snapshot(
    session: Session,
    scheme: Scheme,
    period: Period,
    overrides: Sequence[FiringOverride],
    frozen: Snapshot | None,
) -> Snapshot:
    """The facts the run evaluates, normalized: the frozen snapshot of an earlier run of the same
    scheme and period, or the database's facts now with the earlier years' sealed results; with
    the overrides the run honours either way."""
    if frozen is not None:
        if (frozen.scheme_code, frozen.period) != (scheme.code, period.text):
            raise Conflict(f"a frozen snapshot of {frozen.scheme_code} {frozen.period} cannot run "
                           f"{scheme.code} {period.text}")
        return dataclasses.replace(frozen, overrides=tuple(overrides)).normalized()
    return dataclasses.replace(
        build_snapshot(session, scheme, period),
        prior_results=_prior_results(session, scheme),
        overrides=tuple(overrides),
    ).normalized()


def _prior_results(session: Session, scheme: Scheme) -> tuple[PriorResult, ...]:
    """Grades and credited honours of earlier years' sealed year runs, by unit code."""
    rows = session.execute(
        select(Scheme.year, Unit.code, ScoreSheet.grade, ScoreSheet.credited_events)
        .join(Run, ScoreSheet.run_id == Run.id)
        .join(Scheme, Run.scheme_id == Scheme.id)
        .join(Unit, ScoreSheet.unit_id == Unit.id)
        .where(Scheme.year < scheme.year, Run.kind == "year", Run.status == "sealed")
    ).all()
    return tuple(PriorResult(year, code, grade, tuple(credited)) for year, code, grade, credited in rows)


def _new_run(
    session: Session,
    scheme: Scheme,
    pack_row: RulePack,
    period: Period,
    snapshot_sha256: str,
    previous: Run | None,
    actor: str,
) -> Run:
    """The run's row, current from now on: the one it supersedes is no longer."""
    run = Run(
        scheme_id=scheme.id,
        rule_pack_id=pack_row.id,
        period=period.text,
        kind=period.kind,
        status="complete",
        snapshot_sha256=snapshot_sha256,
        run_hash="",  # set when the rows are stored, in this transaction, once the firings are hashed
        supersedes_id=previous.id if previous is not None else None,
        created_at=dt.datetime.now(dt.UTC),
        created_by=actor,
    )
    if previous is not None:
        previous.status = "superseded"
    session.add(run)
    session.flush()
    return run


def _summary(scheme: Scheme, period: Period, run: Run, stored: StoredRows) -> RunSummary:
    pack = stored.pack
    return RunSummary(
        scheme.code, period.text, pack.name, pack.version, pack.sha256, run.snapshot_sha256,
        stored.firings, stored.sheets, stored.cuts, run.run_hash,
    )
