"""A run made and stored: freeze the facts, evaluate the approved pack, store everything at once.

A run is all or nothing (the caller's transaction holds the run row, its firings, score sheets,
cuts and the ``run.create`` audit event) and never changes afterwards; running the same scheme
and period again stores a new run that supersedes the old one. Reading a stored run back is
:mod:`workflows.runs.stored`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import struct
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

import audit
from audit.merkle import SCORE_SHEET_FIELDS, merkle_root, root_of_leaf_hashes
from engine import Cut as EngineCut
from engine import (
    Prepared,
    Progress,
    SnapshotError,
    check_snapshot,
    parse_period,
    prepare,
    silent,
)
from engine import ScoreSheet as EngineSheet
from engine.facts import FiringOverride, PriorResult, Snapshot, forget_canonical
from engine.result import hash_of_parts
from engine.run.forked import Forked
from engine.run.matching import PARALLEL_MIN, WORKERS
from engine.values.canonical import dumps, sha256_hex, to_plain
from store import Cut, Firing, RulePack, Run, Scheme, ScoreSheet, Unit
from store.db import driver_connection, sqlite_write_lock
from workflows.errors import Conflict
from workflows.packs import approved_pack_for, engine_pack, get_pack
from workflows.runs import rows
from workflows.runs.stored import lock_current
from workflows.snapshot import build_snapshot, find_scheme


@dataclass(frozen=True)
class RunSummary:
    """What a stored run came to (its rows hold the rest: :func:`load_result` reads them back)."""

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
    with _without_cycle_collection():
        return _create_run(session, scheme_ref, period_text, actor, pack_ref, overrides, frozen, progress)


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A run makes millions of objects that live until it ends (facts, drafts, firings, rows) and
    hold no reference cycles: reference counting frees them, while the cyclic collector would walk
    them all over and over — a sixth of a province run's time. Cycles made meanwhile are collected
    when the run is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _create_run(
    session: Session,
    scheme_ref: str,
    period_text: str,
    actor: str,
    pack_ref: str | None,
    overrides: Sequence[FiringOverride] | None,
    frozen: Snapshot | None,
    progress: Progress,
) -> RunOutcome:
    scheme = find_scheme(session, scheme_ref)
    period = parse_period(period_text)
    _one_run_at_a_time(session, scheme)
    pack_row = get_pack(session, pack_ref) if pack_ref else approved_pack_for(session, scheme.code)
    if pack_row.scheme_code not in (None, scheme.code):
        raise Conflict(f"rule pack {pack_row.name}@{pack_row.version} is for scheme {pack_row.scheme_code}")
    previous = _current_run(session, scheme, period.text)
    if previous is not None and previous.status == "sealed":
        raise Conflict(f"run {previous.id} of {scheme.code} {period.text} is sealed: it cannot be superseded")
    if previous is not None:
        lock_current(session, previous)  # the committee's seal waits for this run, then refuses
    if overrides is None:
        overrides = _carried_overrides(session, previous)
    progress("snapshot", 0, 1)
    if frozen is not None:
        if (frozen.scheme_code, frozen.period) != (scheme.code, period.text):
            raise Conflict(f"a frozen snapshot of {frozen.scheme_code} {frozen.period} cannot run "
                           f"{scheme.code} {period.text}")
        snapshot = dataclasses.replace(frozen, overrides=tuple(overrides)).normalized()
    else:
        snapshot = dataclasses.replace(
            build_snapshot(session, scheme, period),
            prior_results=_prior_results(session, scheme),
            prior_cutoff_date=_prior_cutoff(session, scheme),
            overrides=tuple(overrides),
        ).normalized()
    # A province's snapshot takes a core for seconds to check and to put in canonical form: a
    # second process does both while this one evaluates (the other core is idle until matching).
    spooled = (
        _SpooledSnapshot(snapshot)
        if len(snapshot.reports) + len(snapshot.targets) >= PARALLEL_MIN and WORKERS > 1
        else None
    )
    # The matched facts' JSON, which the stored firings quote, is made by a third process while
    # this one works out effects and score sheets.
    matched: list[rows.MatchedJson] = []
    # The engine lets the progress reports go once it has derived the facts (the firings quote
    # those). A spooled snapshot's bytes are the child's: the engine is handed the only reference
    # to its objects, and a province's half gigabyte of reports is freed then. A small one is
    # kept, to be put in canonical form here.
    handed, kept = [snapshot], (snapshot if spooled is None else None)
    del snapshot
    try:
        prepared = prepare(
            engine_pack(pack_row), handed.pop(), why_not=False, progress=progress,
            checked_elsewhere=spooled.check if spooled is not None else None,
            after_matching=(lambda facts: matched.append(rows.MatchedJson(facts)))
            if spooled is not None else None,
            release_reports=True,
        )
        # The facts themselves are not needed to store the run: the snapshot's objects go first
        # (the derived facts the firings quote stay, with ``prepared``), its canonical bytes are
        # written after the firings, once ``prepared`` is gone too.
        snapshot_bytes = kept.canonical_bytes() if kept is not None else b""
        del kept
        forget_canonical()
        snapshot_sha = sha256_hex(snapshot_bytes) if spooled is None else spooled.sha256()
        progress("store", 0, 1)
        run = _new_run(session, scheme, pack_row, period.kind, prepared, snapshot_sha, previous, actor)
        roots, summary = _store(
            session, scheme, run, snapshot_sha, prepared, matched[0] if matched else None, progress
        )
        held = [prepared]  # the last reference: _write_snapshot frees the prepared run
        del prepared
        _write_snapshot(session, run.id, snapshot_bytes if spooled is None else spooled, held)
    finally:
        if spooled is not None:
            spooled.cancel()  # gone already when all went well; else the worker and its file
        for made_ahead in matched:
            made_ahead.close()
    audit.record_run(session, run, actor, roots=roots)
    return RunOutcome(run, summary, previous)


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


class _SpooledSnapshot:
    """A snapshot checked (``engine.run.snapshot_check``) and put in canonical form by a forked child (as
    :class:`Forked`): its verdict comes back as data, its bytes are hashed there and handed over
    through a temporary file, read back when wanted in one allocation — through the pipe a
    province's 173 MB would be buffered, copied and unpickled, three copies at once."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._spool = tempfile.TemporaryDirectory(prefix="kaohe-run-")
        path = self._path = Path(self._spool.name) / "bytes"
        self._forked = Forked(lambda: _check_and_spool(snapshot, path))
        self._result: tuple[tuple[str, ...], str] | None = None

    def _wait(self) -> tuple[tuple[str, ...], str]:
        if self._result is None:
            self._result = self._forked.result()
        return self._result

    def check(self) -> None:
        """Wait for the check's verdict: :class:`SnapshotError` if the snapshot cannot be run."""
        problems, _ = self._wait()
        if problems:
            raise SnapshotError(list(problems))

    def sha256(self) -> str:
        """The canonical bytes' SHA-256 (hex), waiting for the child."""
        self.check()
        return self._wait()[1]

    def read(self) -> bytes:
        self.sha256()
        try:
            return self._path.read_bytes()
        finally:
            self._spool.cleanup()

    def size(self) -> int:
        self.sha256()
        return self._path.stat().st_size

    def pieces(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes a piece at a time (the spool removed at the end)."""
        self.sha256()
        try:
            with open(self._path, "rb") as spool:
                while piece := spool.read(size):
                    yield piece
        finally:
            self._spool.cleanup()

    def cancel(self) -> None:
        """Stop the child if it still runs; remove the file."""
        try:
            if self._result is None:
                self._forked.cancel()
        finally:
            self._spool.cleanup()


def _check_and_spool(snapshot: Snapshot, path: Path) -> tuple[tuple[str, ...], str]:
    """(the check's problems, "") for a snapshot that cannot be run; else ((), its bytes' hash)."""
    try:
        check_snapshot(snapshot)
    except SnapshotError as bad:
        return bad.problems, ""
    return (), _spool(snapshot.canonical_bytes(), path)


def _spool(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    return sha256_hex(data)


def _carried_overrides(session: Session, previous: Run | None) -> tuple[FiringOverride, ...]:
    """The overrides the previous run honoured (read from its snapshot only if it had any)."""
    if previous is None:
        return ()
    overridden = session.scalar(
        select(Firing.id).where(Firing.run_id == previous.id, Firing.status != "applied").limit(1)
    )
    return Snapshot.from_json(previous.snapshot).overrides if overridden is not None else ()


def _current_run(session: Session, scheme: Scheme, period: str) -> Run | None:
    return session.scalars(
        select(Run)
        .where(Run.scheme_id == scheme.id, Run.period == period, Run.status.in_(("complete", "sealed")))
        .order_by(Run.id.desc())
    ).first()


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


def _prior_cutoff(session: Session, scheme: Scheme) -> dt.date | None:
    return session.scalars(
        select(Scheme.cutoff_date).where(Scheme.year == scheme.year - 1).order_by(Scheme.id)
    ).first()


def _new_run(
    session: Session,
    scheme: Scheme,
    pack_row: RulePack,
    kind: str,
    prepared: Prepared,
    snapshot_sha256: str,
    previous: Run | None,
    actor: str,
) -> Run:
    run = Run(
        scheme_id=scheme.id,
        rule_pack_id=pack_row.id,
        period=prepared.period,
        kind=kind,
        status="complete",
        snapshot_sha256=snapshot_sha256,
        run_hash="",  # set by _store, in this transaction, once the firings written are hashed
        supersedes_id=previous.id if previous is not None else None,
        created_at=dt.datetime.now(dt.UTC),
        created_by=actor,
    )
    if previous is not None:
        previous.status = "superseded"
    session.add(run)
    session.flush()
    return run


def _store(
    session: Session,
    scheme: Scheme,
    run: Run,
    snapshot_sha256: str,
    prepared: Prepared,
    matched: rows.MatchedJson | None,
    progress: Progress,
) -> tuple[audit.RunRoots, RunSummary]:
    """The run's firings, score sheets and cuts; the run hash set on ``run``; the ledger's roots.
    ``matched``: the matched facts' JSON made ahead, for the firing workers."""
    unit_id = dict(session.execute(select(Unit.code, Unit.id).where(Unit.scheme_id == scheme.id)).all())
    workers = WORKERS if len(prepared) >= PARALLEL_MIN else 1
    if matched is not None and workers > 1:
        matched.wait()  # (before the workers are forked: they read what it made)
    # Ids are given up front, so the ledger leaves (which bind the id) are exactly what reading
    # the rows back gives — tests/test_runs.py verifies the ledger against the stored rows.
    job = rows.FiringRows(
        prepared, _reserve_ids(session, rows.firing_table(), len(prepared)), run.id, unit_id,
        rows.binds_for(session), matched if workers > 1 else None,
    )
    write = rows.writer(session)
    nodes: list[bytes] = []  # each batch's Merkle subtree

    def stored_parts(made: Iterator[rows.Batch]) -> Iterator[bytes]:
        written = 0
        for batch in made:
            write(batch.rows)
            if batch.node is not None:
                nodes.append(batch.node)
            written = min(written + rows.BATCH, len(prepared))
            progress("firings", written, len(prepared))
            if batch.part:
                yield batch.part

    progress("firings", 0, len(prepared))
    with contextlib.closing(rows.batches(job, workers)) as made:  # workers stopped however it ends
        run.run_hash = hash_of_parts(stored_parts(made), prepared.sheets)
    progress("ledger", 0, 1)
    firings_root = root_of_leaf_hashes(nodes)
    sheet_table: Table = ScoreSheet.__table__  # type: ignore[assignment]
    sheet_ids = _reserve_ids(session, sheet_table, len(prepared.sheets))
    sheets = [
        {"id": i, **_sheet_row(run.id, unit_id, s)}
        for i, s in zip(sheet_ids, prepared.sheets, strict=True)
    ]
    rows.write_rows(session, sheet_table, sheets)
    cut_table: Table = Cut.__table__  # type: ignore[assignment]
    cuts = [_cut_row(run.id, unit_id, n, c) for n, c in enumerate(prepared.cuts, 1)]
    rows.write_rows(session, cut_table, cuts)
    sheets.sort(key=lambda row: row["unit_id"])
    sheets_root = merkle_root(_leaf(row, SCORE_SHEET_FIELDS) for row in sheets)
    roots = audit.RunRoots(len(prepared), firings_root, len(sheets), sheets_root)
    pack = prepared.pack
    summary = RunSummary(
        prepared.scheme_code, prepared.period, pack.name, pack.version, pack.sha256,
        snapshot_sha256, len(prepared), len(prepared.sheets), prepared.cuts, run.run_hash,
    )
    return roots, summary


def _write_snapshot(
    session: Session, run_id: int, source: bytes | _SpooledSnapshot, held: list[Any]
) -> None:
    """The frozen snapshot's canonical UTF-8 bytes into ``run_snapshot.body`` (text), converted by
    the database: a province's 173 MB never become a Python str (twice that, for Chinese text).
    ``held`` holds the last reference to the prepared run, freed here: on PostgreSQL while the
    bytes stream from the spool to the server in pieces (the server's seconds overlap the
    seconds of freeing millions of objects); on SQLite first, as the bytes are read whole (the
    two at once would pass the run's peak memory)."""
    if session.get_bind().dialect.name == "postgresql":
        freeing = threading.Thread(target=held.clear, name="kaohe-free-prepared")
        freeing.start()
        try:
            _copy_snapshot(session, run_id, source)
        finally:
            freeing.join()
        return
    held.clear()
    session.execute(
        text("INSERT INTO run_snapshot (run_id, body) VALUES (:run_id, CAST(:body AS TEXT))"),
        {"run_id": run_id, "body": source if isinstance(source, bytes) else source.read()},
    )


def _copy_snapshot(session: Session, run_id: int, source: bytes | _SpooledSnapshot) -> None:
    """``COPY run_snapshot FROM STDIN`` in PostgreSQL's binary format: one row, its body sent in
    pieces as read from the spool (the server checks the UTF-8 as for any text)."""
    raw = driver_connection(session)
    size = len(source) if isinstance(source, bytes) else source.size()
    pieces: Iterator[bytes | memoryview] = (
        iter((memoryview(source),)) if isinstance(source, bytes) else source.pieces()
    )
    statement = "COPY run_snapshot (run_id, body) FROM STDIN (FORMAT binary)"
    with raw.cursor() as cursor, cursor.copy(statement) as out:
        # signature, flags, header extension; a row of two fields: int4 run_id, then the text
        out.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!iihiii", 0, 0, 2, 4, run_id, size))
        for piece in pieces:
            out.write(piece)
        out.write(struct.pack("!h", -1))


def _reserve_ids(session: Session, table: Table, n: int) -> Sequence[int]:
    """``n`` primary keys for rows about to be inserted into ``table``, in ascending order."""
    if n == 0:
        return ()
    if session.get_bind().dialect.name == "postgresql":
        # Taken in one statement, the values are consecutive unless another session took some
        # meanwhile: then (only) they come back one by one. A province's 700,000 ids otherwise
        # cost a round trip of 700,000 rows.
        # The sequence is named once: as an argument of nextval, pg_get_serial_sequence would be
        # looked up in the catalog for every row (3 of a province run's seconds, not 0.4).
        sequence = session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        first, taken = session.execute(
            text(
                "WITH s AS (SELECT nextval(CAST(:s AS regclass)) AS v FROM generate_series(1, :n)) "
                "SELECT min(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL "
                "ELSE array_agg(v ORDER BY v) END FROM s"
            ),
            {"s": sequence, "n": n},
        ).one()
        return range(first, first + n) if taken is None else list(taken)
    # SQLite: this transaction holds the write lock since the run row was flushed.
    top = session.execute(select(func.max(table.c.id))).scalar() or 0
    return range(top + 1, top + 1 + n)


def _leaf(row: dict[str, Any], fields: Sequence[str]) -> bytes:
    """``audit.merkle.row_leaf`` for a row about to be inserted: its JSON columns are already
    plain (``to_plain``), so only its own decimals need converting before the canonical dump."""
    return dumps(
        {name: to_plain(row[name]) if isinstance(row[name], Decimal) else row[name] for name in fields}
    )


def _sheet_row(run_id: int, unit_id: dict[str, int], s: EngineSheet) -> dict[str, Any]:
    return {
        "run_id": run_id, "unit_id": unit_id[s.unit], "category_code": s.category or "",
        "sections": to_plain(s.sections), "bonus": s.bonus, "deduction": s.deduction,
        "vetoes": to_plain(s.vetoes), "total": s.total, "rank": s.rank, "grade": s.grade,
        "flags": list(s.flags), "grade_notes": list(s.grade_notes),
        "credited_events": list(s.credited_events),
    }


def _cut_row(run_id: int, unit_id: dict[str, int], seq: int, c: EngineCut) -> dict[str, Any]:
    return {
        "run_id": run_id, "seq": seq, "unit_id": unit_id[c.unit], "indicator_code": c.indicator,
        "kind": c.kind, "source": c.source, "firing_seqs": list(c.seqs), "before": c.before,
        "after": c.after, "text_zh": c.text_zh, "text_en": c.text_en,
    }
