"""The machinery that makes a large run fast: which process does what, which bytes travel.

Why it is apart: what a run *means* (:mod:`workflows.runs.create`) does not change with how it is
parallelised, nor the other way round. :class:`RunMachinery` is all the run's rules see of it —
``evaluate`` a snapshot under a pack, ``store`` the run's rows and snapshot, and a ``with`` block
that leaves no child, spool or paused collector behind however the run ends.

Who does what, on a province (5,000 units; 2.4 million reports; 700,000 firings; two cores):

- the run process evaluates (``engine.prepare``), then writes every row and hashes the run's
  canonical parts in seq order, in its own transaction;
- the *snapshot child* (:class:`_SpooledSnapshot`) checks the snapshot and puts it in canonical
  form meanwhile; its verdict comes back as data, its 173 MB through a temporary file, hashed there;
- the engine's match workers (``engine.run.matching``) match facts to rules;
- the *matched-facts child* (:class:`MatchedJson`) makes the matched facts' JSON while the run
  process works out effects and score sheets; it reaches the firing workers through a file;
- the *firing workers* (:func:`batches`) make the rows of :data:`BATCH` firings at a time — COPY
  text or a serialized SQLite database (:mod:`workflows.runs.rows`), their canonical JSON and
  their ledger subtree — a few batches ahead of the run process, which only hands the bytes on
  (so a province's 700,000 rows never exist at once).

Children are forked: they inherit the prepared run and send back bytes, never objects. Memory is
the other half of the speed: the cycle collector is paused while a run makes millions of objects
without cycles; the snapshot is handed to the engine so its reports can go once the facts are
derived; the prepared run is freed while the snapshot streams to PostgreSQL.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import multiprocessing as mp
import tempfile
import threading
from array import array
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.orm import Session

from audit import RunRoots
from audit.merkle import root_of_leaf_hashes
from engine import Cut, Prepared, Progress, RulePack, SnapshotError, check_snapshot, prepare, silent
from engine.facts import Snapshot, forget_canonical
from engine.result import hash_of_parts
from engine.run.derived import DerivedFact
from engine.run.forked import Forked, WorkerError
from engine.run.matching import PARALLEL_MIN, WORKERS
from engine.values.canonical import sha256_hex
from store import Run
from workflows.runs.rows import (
    Batch,
    FiringRows,
    binds_for,
    copy_snapshot,
    firing_table,
    insert_snapshot,
    make_batch,
    matched_fact_json,
    reserve_ids,
    unit_ids,
    write_cuts,
    write_sheets,
    writer,
)

# Firings per batch: big enough that a worker's round trip is cheap, small enough to stream; a
# power of two, so that each batch's ledger leaves are a subtree of the run's Merkle tree.
BATCH = 4_096
# Batches made ahead of the one being written, per worker.
AHEAD = 2


@dataclass(frozen=True)
class StoredRows:
    """What :meth:`RunMachinery.store` wrote: the pack the run was evaluated under, how many
    firings and score sheets, the cuts, and the ledger's roots over the rows as inserted."""

    pack: RulePack
    firings: int
    sheets: int
    cuts: tuple[Cut, ...]
    roots: RunRoots


class RunMachinery:
    """One run's processes and hand-offs, behind :meth:`evaluate` and :meth:`store`.

    Used as ``with RunMachinery(progress) as machinery:`` around the whole run: the cycle
    collector is paused inside (a run makes millions of objects that live until it ends and hold
    no reference cycles: reference counting frees them, while the collector would walk them all
    over and over — a sixth of a province run's time; cycles made meanwhile are collected when the
    run is over), and any child still running and any spool are gone when the block is left."""

    def __init__(self, progress: Progress = silent) -> None:
        self._progress = progress
        self._collecting = False
        self._spooled: _SpooledSnapshot | None = None
        self._matched: list[MatchedJson] = []  # made ahead, once the facts are matched
        self._held: list[Prepared] = []  # the prepared run's only reference (see store)
        self._snapshot_bytes = b""  # a small snapshot's canonical bytes, made here
        self.snapshot_sha256 = ""

    def __enter__(self) -> RunMachinery:
        self._collecting = gc.isenabled()
        gc.disable()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self._stop()
        finally:
            if self._collecting:
                gc.enable()

    def evaluate(self, snapshot: Snapshot, pack: RulePack) -> None:
        """Evaluate the (normalized) snapshot under ``pack`` up to its firings and learn the
        snapshot's SHA-256 (:attr:`snapshot_sha256`); a snapshot that cannot be run raises the
        check's :class:`SnapshotError`.

        The snapshot is handed over: pass it as the call's argument, keeping no name for it. The
        engine lets its progress reports go once it has derived the facts (the firings quote
        those), and a province's half gigabyte of reports is freed then — unless a reference is
        kept. A large snapshot's canonical bytes are the snapshot child's; a small one's are made
        here, once the facts themselves are no longer needed (the derived facts the firings quote
        stay, with the prepared run; the bytes are written after the firings)."""
        # A province's snapshot takes a core for seconds to check and to put in canonical form: a
        # second process does both while this one evaluates (the other core is idle until matching).
        spooled = self._spooled = (
            _SpooledSnapshot(snapshot)
            if len(snapshot.reports) + len(snapshot.targets) >= PARALLEL_MIN and WORKERS > 1
            else None
        )
        # The matched facts' JSON, which the stored firings quote, is made by a third process while
        # this one works out effects and score sheets.
        matched = self._matched
        made_ahead = (lambda facts: matched.append(MatchedJson(facts))) if spooled is not None else None
        handed, kept = [snapshot], (snapshot if spooled is None else None)
        del snapshot
        self._held.append(prepare(
            pack, handed.pop(), why_not=False, progress=self._progress,
            checked_elsewhere=spooled.check if spooled is not None else None,
            after_matching=made_ahead,
            release_reports=True,
        ))
        self._snapshot_bytes = kept.canonical_bytes() if kept is not None else b""
        del kept
        forget_canonical()
        self.snapshot_sha256 = sha256_hex(self._snapshot_bytes) if spooled is None else spooled.sha256()

    def store(self, session: Session, run: Run) -> StoredRows:
        """The evaluated run's firings, score sheets and cuts, then its frozen snapshot, into the
        session's transaction as rows of ``run``; ``run.run_hash`` is set once the firings written
        are hashed. The prepared run is freed on the way and the children are gone on return."""
        try:
            prepared = self._held[0]
            unit_id = unit_ids(session, run.scheme_id)
            nodes = self._firings(session, run, unit_id, prepared)
            self._progress("ledger", 0, 1)
            firings_root = root_of_leaf_hashes(nodes)
            sheets_root = write_sheets(session, run.id, unit_id, prepared.sheets)
            write_cuts(session, run.id, unit_id, prepared.cuts)
            n, sheets = len(prepared), len(prepared.sheets)
            stored = StoredRows(
                prepared.pack, n, sheets, prepared.cuts, RunRoots(n, firings_root, sheets, sheets_root)
            )
            del prepared  # self._held holds the last reference: _write_snapshot frees the prepared run
            self._write_snapshot(session, run.id)
        finally:
            self._stop()
        return stored

    def _firings(
        self, session: Session, run: Run, unit_id: dict[str, int], prepared: Prepared
    ) -> list[bytes]:
        """The firing rows, made by the firing workers (from :data:`PARALLEL_MIN` firings) or here
        and written here in seq order; ``run.run_hash`` set from their canonical parts; each
        batch's Merkle subtree of ledger leaves."""
        workers = WORKERS if len(prepared) >= PARALLEL_MIN else 1
        matched = self._matched[0] if self._matched else None
        if matched is not None and workers > 1:
            matched.wait()  # (before the workers are forked: they read what it made)
        # Ids are given up front, so the ledger leaves (which bind the id) are exactly what reading
        # the rows back gives — tests/test_runs.py verifies the ledger against the stored rows.
        job = FiringRows(
            prepared, reserve_ids(session, firing_table(), len(prepared)), run.id, unit_id,
            binds_for(session), matched if workers > 1 else None,
        )
        write = writer(session)
        nodes: list[bytes] = []  # each batch's Merkle subtree

        def stored_parts(made: Iterator[Batch]) -> Iterator[bytes]:
            written = 0
            for batch in made:
                write(batch.rows)
                if batch.node is not None:
                    nodes.append(batch.node)
                written = min(written + BATCH, len(prepared))
                self._progress("firings", written, len(prepared))
                if batch.part:
                    yield batch.part

        self._progress("firings", 0, len(prepared))
        with contextlib.closing(batches(job, workers)) as made:  # workers stopped however it ends
            run.run_hash = hash_of_parts(stored_parts(made), prepared.sheets)
        return nodes

    def _write_snapshot(self, session: Session, run_id: int) -> None:
        """The frozen snapshot's canonical bytes into ``run_snapshot`` — from the spool, or as made
        here — while the prepared run is freed: on PostgreSQL while the bytes stream to the server
        in pieces (the server's seconds overlap the seconds of freeing millions of objects); on
        SQLite first, as the bytes are read whole (the two at once would pass the run's peak
        memory)."""
        spooled = self._spooled
        if session.get_bind().dialect.name == "postgresql":
            freeing = threading.Thread(target=self._held.clear, name="kaohe-free-prepared")
            freeing.start()
            kept = self._snapshot_bytes
            try:
                if spooled is None:
                    copy_snapshot(session, run_id, len(kept), (memoryview(kept),))
                else:
                    copy_snapshot(session, run_id, spooled.size(), spooled.pieces())
            finally:
                freeing.join()
            return
        self._held.clear()
        insert_snapshot(session, run_id, self._snapshot_bytes if spooled is None else spooled.read())

    def _stop(self) -> None:
        """Stop the children still running, remove their spools; let the prepared run go."""
        try:
            if self._spooled is not None:
                self._spooled.cancel()  # gone already when all went well; else the worker and its file
        finally:
            self._spooled = None
            for made_ahead in self._matched:
                made_ahead.close()
            self._matched.clear()
            self._held.clear()


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


class MatchedJson:
    """The matched facts' canonical JSON, made ahead by a forked child while this process works
    out effects and score sheets (the second core is idle until the firings are made: a province
    has half a million matched facts, 5 CPU seconds) and handed to the firing workers through a
    temporary file: the JSON one after another, and two arrays — the facts' addresses and where
    each one's JSON ends. A worker finds a fact's JSON by its address: it and the child are both
    forked from this process while the derived facts are alive (the prepared run holds them), so
    an address names the same fact in both. A fact it does not find (one matched later: a score
    sheet's, a gap's) has its JSON made where it is needed."""

    def __init__(self, facts: Iterable[DerivedFact]) -> None:
        self._spool = tempfile.TemporaryDirectory(prefix="kaohe-facts-")
        path = self._path = Path(self._spool.name)
        self._forked = Forked(lambda: _write_matched_json(facts, path))
        self._index: dict[int, int] | None = None
        self._ends = array("Q")
        self._json: mmap.mmap | None = None

    def wait(self) -> None:
        """Wait for the child (raising its error); before the firing workers are forked."""
        self._forked.result()

    def json_of(self, fact: DerivedFact) -> bytes | None:
        """The fact's JSON if the child made it (the file is read at a process's first call)."""
        if self._index is None:
            self._load()
        assert self._index is not None
        i = self._index.get(id(fact))
        if i is None:
            return None
        assert self._json is not None
        return self._json[self._ends[i - 1] if i else 0 : self._ends[i]]

    def _load(self) -> None:
        addresses = array("Q")
        addresses.frombytes((self._path / "addresses").read_bytes())
        self._ends.frombytes((self._path / "ends").read_bytes())
        self._index = dict(zip(addresses, range(len(addresses)), strict=True))
        with open(self._path / "json", "rb") as file:
            self._json = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if self._ends else None

    def close(self) -> None:
        """Stop the child if it still runs; remove the file."""
        try:
            self._forked.cancel()
        finally:
            self._spool.cleanup()


def _write_matched_json(facts: Iterable[DerivedFact], path: Path) -> int:
    """In the child: each distinct fact's JSON into ``path``/json, addresses and ends beside it."""
    seen: set[int] = set()
    addresses, ends = array("Q"), array("Q")
    end = 0
    with open(path / "json", "wb") as out:
        for fact in facts:
            address = id(fact)
            if address in seen:
                continue
            seen.add(address)
            data = matched_fact_json(fact)
            out.write(data)
            end += len(data)
            addresses.append(address)
            ends.append(end)
    (path / "addresses").write_bytes(addresses.tobytes())
    (path / "ends").write_bytes(ends.tobytes())
    return len(addresses)


def batches(job: FiringRows, workers: int) -> Generator[Batch, None, None]:
    """Every batch of the run's firings, in seq order: made here (``workers`` ≤ 1) or by
    ``workers`` forked processes, a few batches ahead of the caller. A worker's error is raised
    here, as is a worker's death (:class:`BrokenProcessPool`: killed, out of memory); when the
    caller stops early or fails, the batches not begun are cancelled and those in hand finished.

    ``concurrent.futures``, not ``multiprocessing.Pool``: a Pool terminated while its workers
    still send results now and then hangs for good (about one try in 800 on this machine; CPython
    issues 78178 and 96995), and it waits for ever for the batch of a worker that died."""
    if BATCH < 1 or BATCH & (BATCH - 1):
        raise ValueError(f"a batch of {BATCH} firings is not a power of two: its leaves are no subtree")
    n = len(job.prepared)
    spans = [(start, min(start + BATCH, n)) for start in range(0, n, BATCH)]
    if workers <= 1 or len(spans) <= 1:
        for start, stop in spans:
            yield make_batch(job, start, stop)
        return
    executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
    pending: deque[Future[Batch]] = deque()
    global _JOB
    try:
        _JOB = job  # inherited by the workers, all forked at the first submit
        try:
            pending.append(executor.submit(_make, *spans[0]))
        finally:
            _JOB = None
        for span in spans[1:]:
            pending.append(executor.submit(_make, *span))
            if len(pending) > workers * AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:
        raise WorkerError(f"a firing worker died without its batch (killed? out of memory?): {exc}") from exc
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


_JOB: FiringRows | None = None


def _make(start: int, stop: int) -> Batch:
    assert _JOB is not None, "a firing worker runs only in a process forked by batches()"
    return make_batch(_JOB, start, stop)
