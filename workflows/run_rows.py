"""A stored run's firings, from the prepared run to rows in the database, a batch at a time.

Each firing is made once and put in plain form once; from that plain form come the three things
storing it needs: its canonical JSON (a part of the run hash), its row (each value as the driver
takes it) and its ledger leaf's hash. A large run's batches are made by forked worker processes
(they inherit the prepared run) while this process writes the rows and hashes the parts in seq
order; a few batches at most are in flight, so a province's 700,000 rows never exist at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from psycopg import sql as psycopg_sql
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from audit.merkle import FIRING_FIELDS, leaf_hash
from engine.canonical import dumps
from engine.evaluate import Prepared
from engine.result import MatchedFact, plain_firing
from store import Firing
from store.types import ExactDecimal

# Firings per batch: big enough that a worker's round trip is cheap, small enough to stream.
BATCH = 5_000
# Batches made ahead of the one being written, per worker.
AHEAD = 2

Bind = Callable[[Any], Any]


@dataclass(frozen=True)
class Batch:
    """Firings [start, stop) ready to store: ``part`` their canonical JSON without brackets (empty
    for no firings), ``rows`` in :data:`FIRING_FIELDS` order, ``leaves`` each row's leaf hash."""

    part: bytes
    rows: list[tuple[Any, ...]]
    leaves: list[bytes]


@dataclass(frozen=True)
class FiringRows:
    """What making a batch needs: the prepared run, the rows' reserved ids and the run's."""

    prepared: Prepared
    ids: Sequence[int]
    run_id: int
    unit_id: dict[str, int]
    binds: tuple[Bind | None, ...]  # per column of FIRING_FIELDS: to the driver's value, or as is


def firing_table() -> Table:
    table: Table = Firing.__table__  # type: ignore[assignment]
    return table


def make_batch(job: FiringRows, start: int, stop: int) -> Batch:
    """Firings ``start`` to ``stop`` (indexes, seq - 1) as a :class:`Batch`."""
    shared: dict[int, tuple[MatchedFact, dict[str, Any]]] = {}  # a fact's plain form, made once
    plains: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    ids, run_id, unit_id, binds = job.ids, job.run_id, job.unit_id, job.binds
    for n, f in enumerate(job.prepared.firings(start, stop), start=start):
        p = plain_firing(f, shared)
        plains.append(p)
        stored = (
            ids[n], run_id, f.seq, f.rule_id, f.rule_version, f.pack_sha256, unit_id[f.unit],
            f.indicator, f.period, f.effect, f.bucket, p["matched"], f.raw_points, f.points,
            f.text_zh, f.text_en, p["detail"], f.status, f.override,
        )
        # The leaf is the stored row read back: decimals and JSON columns in their plain forms.
        leaf = dict(zip(FIRING_FIELDS, stored, strict=True))
        leaf["raw_points"], leaf["points"] = p["raw_points"], p["points"]
        leaves.append(leaf_hash(dumps(leaf)))
        rows.append(tuple(v if b is None else b(v) for v, b in zip(stored, binds, strict=True)))
    return Batch(dumps(plains)[1:-1] if plains else b"", rows, leaves)


def batches(job: FiringRows, workers: int) -> Generator[Batch, None, None]:
    """Every batch of the run's firings, in seq order: made here (``workers`` ≤ 1) or by
    ``workers`` forked processes, a few batches ahead of the caller. A worker's error is raised
    here; the workers are stopped when the caller stops early or fails."""
    n = len(job.prepared)
    spans = [(start, min(start + BATCH, n)) for start in range(0, n, BATCH)]
    if workers <= 1 or len(spans) <= 1:
        for start, stop in spans:
            yield make_batch(job, start, stop)
        return
    global _JOB
    _JOB = job  # inherited by the forked workers
    try:
        pool = mp.get_context("fork").Pool(workers)
    finally:
        _JOB = None
    try:
        pending: deque[Any] = deque()
        for span in spans:
            pending.append(pool.apply_async(_make, span))
            if len(pending) > workers * AHEAD:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


_JOB: FiringRows | None = None


def _make(start: int, stop: int) -> Batch:
    assert _JOB is not None, "a firing worker runs only in a process forked by batches()"
    return make_batch(_JOB, start, stop)


# -- writing ----------------------------------------------------------------------------------


def binds_for(session: Session) -> tuple[Bind | None, ...]:
    """Per firing column, how a value becomes what the connection's driver is given: JSON as its
    text; exact decimals checked against the column's scale — bound by the column's own
    processor (SQLite) or passed to COPY as they are (PostgreSQL) — once per distinct value."""
    table = firing_table()
    dialect = session.get_bind().dialect
    copy = dialect.name == "postgresql"
    out: list[Bind | None] = []
    for name in FIRING_FIELDS:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            out.append(_json_text)
        elif isinstance(column_type, ExactDecimal):
            out.append(_checked_decimal(column_type) if copy else _remembered(column_type, dialect))
        elif not copy:
            out.append(column_type.bind_processor(dialect))
        else:
            out.append(None)
    return tuple(out)


def writer(session: Session) -> Callable[[list[tuple[Any, ...]]], None]:
    """Writes bound rows of :data:`FIRING_FIELDS` into ``firing`` on the session's own connection,
    in its transaction: SQLite by one ``executemany``, PostgreSQL by ``COPY … FROM STDIN``."""
    table = firing_table()
    dialect = session.get_bind().dialect
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if dialect.name == "postgresql":
        statement = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg_sql.Identifier(table.name),
            psycopg_sql.SQL(", ").join(map(psycopg_sql.Identifier, FIRING_FIELDS)),
        )

        def copy(rows: list[tuple[Any, ...]]) -> None:
            if rows:
                with raw.cursor() as cursor, cursor.copy(statement) as out:
                    for row in rows:
                        out.write_row(row)

        return copy
    quote = dialect.identifier_preparer.quote
    insert = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(table.name), ", ".join(quote(n) for n in FIRING_FIELDS), ", ".join("?" for _ in FIRING_FIELDS)
    )

    def executemany(rows: list[tuple[Any, ...]]) -> None:
        if rows:
            raw.executemany(insert, rows)

    return executemany


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode("utf-8")


def _remembered(column_type: Any, dialect: Any) -> Bind | None:
    """The column type's bind processor, remembered by value (equal decimals bind alike, and a
    run's points take a few hundred distinct values across 700,000 rows)."""
    bind: Bind | None = column_type.bind_processor(dialect)
    if bind is None:
        return None
    known: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        if type(value) is not Decimal or not value.is_finite():
            return bind(value)  # the processor's own errors for floats, NaN …
        bound = known.get(value)
        if bound is None:
            bound = known[value] = bind(value)
        return bound

    return remembered


def _checked_decimal(column_type: ExactDecimal) -> Bind:
    """For COPY: the decimal as it is, refused beyond the column's scale (as ``ExactDecimal``)."""
    quantum = Decimal(1).scaleb(-column_type.scale)
    checked: set[Decimal] = set()

    def check(value: Any) -> Any:
        if value is None or (type(value) is Decimal and value in checked):
            return value
        if not isinstance(value, Decimal) or not value.is_finite() or value.quantize(quantum) != value:
            raise ValueError(f"{value!r} is not an exact decimal within the column's {quantum} places")
        checked.add(value)
        return value

    return check


@contextlib.contextmanager
def closing_batches(job: FiringRows, workers: int) -> Iterator[Iterator[Batch]]:
    """:func:`batches`, its workers stopped when the block ends, however it ends."""
    made = batches(job, workers)
    try:
        yield made
    finally:
        made.close()
