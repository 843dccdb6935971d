"""A stored run's rows: made from the prepared run, written in bulk — which bytes the database gets.

Each firing is put in plain form once, straight from its draft; from that plain form come the
three things storing it needs: its canonical JSON (a part of the run hash), its row (each value
as the driver takes it; a batch's rows as PostgreSQL's COPY text or a serialized SQLite
database) and its ledger leaf's hash (a batch's leaves reduced to their Merkle subtree). Score
sheets and cuts are written the same way as the firings, the frozen snapshot's canonical bytes by
PostgreSQL's binary COPY (or as one text value on SQLite). Whoever makes a batch — the run process
or a firing worker (:mod:`workflows.runs.machinery`, which also decides who makes what) — makes
the same bytes: this module knows nothing of processes, only of rows and their exact form.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import orjson
from psycopg import sql as psycopg_sql
from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.orm import Session

from audit.merkle import FIRING_FIELDS, SCORE_SHEET_FIELDS, leaf_hash, merkle_root, subtree_root
from engine import Cut as EngineCut
from engine import Prepared
from engine import ScoreSheet as EngineSheet
from engine.run.derived import DerivedFact
from engine.values.canonical import CANONICAL_OPTIONS, decimal_text, dumps, to_plain
from store import Cut, Firing, ScoreSheet, Unit
from store.db import driver_connection
from store.types import ExactDecimal

Bind = Callable[[Any], Any]
# A batch's rows as the writer takes them: PostgreSQL's COPY text, or a serialized SQLite database
# holding them (see :func:`writer`).
Rows = bytes


@dataclass(frozen=True)
class Batch:
    """Firings [start, stop) ready to store: ``part`` their canonical JSON without brackets (empty
    for no firings), ``rows`` in :data:`FIRING_FIELDS` order as the writer takes them (PostgreSQL's
    COPY text, or a serialized SQLite database), ``node`` the Merkle subtree their ledger leaves
    reduce to (``audit.merkle.subtree_root``; ``None`` for no firings)."""

    part: bytes
    rows: Rows
    node: bytes | None


class MadeAhead(Protocol):
    """The matched facts' JSON made ahead (``workflows.runs.machinery.MatchedJson``)."""

    def json_of(self, fact: DerivedFact) -> bytes | None:
        """The fact's canonical JSON (:func:`matched_fact_json`), or None if it was not made."""


@dataclass(frozen=True)
class FiringRows:
    """What making a batch needs: the prepared run, the rows' reserved ids and the run's, and
    the matched facts' JSON if it was made ahead."""

    prepared: Prepared
    ids: Sequence[int]
    run_id: int
    unit_id: dict[str, int]
    binds: Binds
    matched: MadeAhead | None = None


def firing_table() -> Table:
    table: Table = Firing.__table__  # type: ignore[assignment]
    return table


def make_batch(job: FiringRows, start: int, stop: int) -> Batch:
    """Firings ``start`` to ``stop`` (indexes, seq - 1) as a :class:`Batch`, made straight from
    the drafts (the fields of ``engine.run.evaluate``'s firings, without their objects).

    A matched fact's canonical JSON is made once (rules share facts) and goes as it is into the
    firing's canonical form, its leaf and its ``matched_facts`` column; the forms are those of
    ``engine.result.plain_firing`` and ``audit.merkle.row_leaf`` (tests compare the hashes). The
    fields that repeat from firing to firing (a rule's effect, bucket and detail; its points; the
    unit and indicator) are put in JSON once per distinct value."""
    fact_json: dict[int, tuple[DerivedFact, bytes]] = {}  # id(fact) → (fact, kept alive; its JSON)
    made_ahead = job.matched.json_of if job.matched is not None else _none
    heads: dict[tuple[Any, ...], tuple[bytes, str]] = {}  # (bucket, effect, detail) → JSON, column
    middles: dict[tuple[Any, ...], bytes] = {}  # (override, raw, points, rule id, version) → JSON
    names: dict[str | None, bytes] = {}  # a unit's or indicator's code → JSON
    parts: list[bytes] = []
    rows: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    ids, run_id, unit_id = job.ids, job.run_id, job.unit_id
    json_text, raw_bind, points_bind = job.binds.json, job.binds.raw_points, job.binds.points
    pack_sha256, period = job.prepared.pack.sha256, job.prepared.d.period.text
    canonical = CANONICAL_OPTIONS
    for n, (dr, text_zh, text_en) in enumerate(job.prepared.drafts_with_texts(start, stop), start=start):
        facts = []
        for m in dr.facts:
            known = fact_json.get(id(m))
            if known is None:
                known = fact_json[id(m)] = (m, made_ahead(m) or matched_fact_json(m))
            facts.append(known[1])
        matched = b"[" + b",".join(facts) + b"]"
        seq, rule_id, rule_version, unit, indicator = (dr.seq, dr.rule_id, dr.rule_version, dr.unit,
                                                       dr.indicator)
        effect, bucket, status, override = dr.effect, dr.bucket, dr.status, dr.override
        fid, uid = ids[n], unit_id[unit]
        try:
            # The canonical form and the leaf share most of their fields, in the same (sorted)
            # order: three runs of them are put in JSON once, for both.
            head_key = _detail_key(bucket, effect, dr.detail)
            head = heads.get(head_key) if head_key is not None else None
            if head is None:
                detail = _plain_detail(dr.detail)
                a = orjson.dumps({"bucket": bucket, "detail": detail, "effect": effect}, option=canonical)
                head = (a[:-1], json_text(dumps(detail)))
                if head_key is not None:
                    heads[head_key] = head
            middle_key = (override, dr.raw, dr.points, rule_id, rule_version)
            middle = middles.get(middle_key)
            if middle is None:
                middle = middles[middle_key] = orjson.dumps({
                    "override": override, "pack_sha256": pack_sha256, "period": period,
                    "points": decimal_text(dr.points), "raw_points": decimal_text(dr.raw),
                    "rule_id": rule_id, "rule_version": rule_version,
                }, option=canonical)[1:-1]
            c = orjson.dumps({"seq": seq, "status": status, "text_en": text_en, "text_zh": text_zh},
                             option=canonical)[1:-1]
            ind = names.get(indicator)
            if ind is None:
                ind = names[indicator] = orjson.dumps(indicator, option=canonical)
            unit_json = names.get(unit)
            if unit_json is None:
                unit_json = names[unit] = orjson.dumps(unit, option=canonical)
            part = b"".join((
                head[0], b',"indicator":', ind, b',"matched":', matched, b",", middle, b",", c,
                b',"unit":', unit_json, b"}",
            ))
            # The leaf is the stored row read back: decimals and JSON columns in their plain forms.
            leaf = b"".join((
                head[0], b',"id":', b"%d" % fid, b',"indicator_code":', ind, b',"matched_facts":', matched,
                b",", middle, b',"run_id":', b"%d" % run_id, b",", c, b',"unit_id":', b"%d" % uid, b"}",
            ))
            detail_text = head[1]
        except TypeError:  # a value orjson does not write as ``dumps`` would: the canonical way
            detail = _plain_detail(dr.detail)
            common = {
                "seq": seq, "rule_id": rule_id, "rule_version": rule_version, "pack_sha256": pack_sha256,
                "period": period, "effect": effect, "bucket": bucket, "raw_points": decimal_text(dr.raw),
                "points": decimal_text(dr.points), "text_zh": text_zh, "text_en": text_en, "detail": detail,
                "status": status, "override": override,
            }
            plain_matched = orjson.loads(matched)
            part = dumps({**common, "unit": unit, "indicator": indicator, "matched": plain_matched})
            leaf = dumps({**common, "id": fid, "run_id": run_id, "unit_id": uid, "indicator_code": indicator,
                          "matched_facts": plain_matched})
            detail_text = json_text(dumps(detail))
        parts.append(part)
        leaves.append(leaf_hash(leaf))
        rows.append((
            fid, run_id, seq, rule_id, rule_version, pack_sha256, uid, indicator, period,
            effect, bucket, json_text(matched), raw_bind(dr.raw), points_bind(dr.points),
            text_zh, text_en, detail_text, status, override,
        ))
    return Batch(b",".join(parts), job.binds.rows(rows), subtree_root(leaves) if leaves else None)


def _detail_key(bucket: str | None, effect: str, detail: Any) -> tuple[Any, ...] | None:
    """What a firing's effect, bucket and detail are remembered by: only a detail of str keys and
    values (nearly all), whose equal values have equal JSON (1, True and Decimal(1) are equal keys
    but not equal JSON)."""
    if type(detail) is not dict:
        return None
    key: list[Any] = [bucket, effect]
    for k, v in detail.items():
        if type(k) is not str or type(v) is not str:
            return None
        key.append(k)
        key.append(v)
    return tuple(key)


def matched_fact_json(fact: DerivedFact) -> bytes:
    """A matched fact's canonical JSON, as ``engine.result.MatchedFact``'s plain form."""
    return dumps({"id": fact.id, "type": fact.type, "values": _plain_values(fact.values)})


def _none(_fact: DerivedFact) -> None:
    return None


def _plain_values(values: Any) -> Any:
    """``to_plain`` of a matched fact's values (str keys; str, bool and Decimal values), faster."""
    if type(values) is not dict:
        return to_plain(dict(values))
    out = {}
    for k, v in values.items():
        kind = type(v)
        if type(k) is not str:
            return to_plain(values)
        if kind is str or kind is bool:
            out[k] = v
        elif kind is Decimal:
            out[k] = decimal_text(v)
        else:
            return to_plain(values)
    return out


def _plain_detail(detail: Any) -> Any:
    """A firing's detail in plain form: as it is when every key and value is a str (nearly all)."""
    if type(detail) is dict and all(type(k) is str and type(v) is str for k, v in detail.items()):
        return detail
    return to_plain(detail)


# -- score sheets and cuts ---------------------------------------------------------------------


def unit_ids(session: Session, scheme_id: int) -> dict[str, int]:
    """The scheme's units' row ids by code: the rows name a unit by its id."""
    return dict(session.execute(select(Unit.code, Unit.id).where(Unit.scheme_id == scheme_id)).all())


def write_sheets(
    session: Session, run_id: int, unit_id: dict[str, int], sheets: Sequence[EngineSheet]
) -> str:
    """The run's score sheets as rows (their ids reserved, as the firings'); the Merkle root of
    their ledger leaves, in unit order (``audit.merkle``'s, over the rows as inserted)."""
    table: Table = ScoreSheet.__table__  # type: ignore[assignment]
    ids = reserve_ids(session, table, len(sheets))
    rows = [{"id": i, **_sheet_row(run_id, unit_id, s)} for i, s in zip(ids, sheets, strict=True)]
    write_rows(session, table, rows)
    rows.sort(key=lambda row: row["unit_id"])
    return merkle_root(_leaf(row, SCORE_SHEET_FIELDS) for row in rows)


def write_cuts(session: Session, run_id: int, unit_id: dict[str, int], cuts: Sequence[EngineCut]) -> None:
    """The run's cuts as rows, numbered from 1 in the engine's order."""
    table: Table = Cut.__table__  # type: ignore[assignment]
    write_rows(session, table, [_cut_row(run_id, unit_id, n, c) for n, c in enumerate(cuts, 1)])


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


# -- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Binds:
    """How the values of the firing columns that need it become what the driver is given, and
    a batch's rows what the writer takes."""

    json: Bind  # canonical JSON bytes → the column's text
    raw_points: Bind
    points: Bind
    rows: Callable[[list[tuple[Any, ...]]], Rows]


def binds_for(session: Session) -> Binds:
    """JSON as its text; exact decimals checked against the column's scale — bound by the
    column's own processor (SQLite) or written as COPY text (PostgreSQL) — once per distinct
    value. Every other firing column takes its value as it is (checked here: a column type that
    binds otherwise must be added to the rows deliberately). PostgreSQL's rows are COPY text made
    by whoever makes the batch (a worker): this process only hands the bytes on."""
    table = firing_table()
    dialect = session.get_bind().dialect
    copy = dialect.name == "postgresql"
    decimals: dict[str, Bind] = {}
    for name in FIRING_FIELDS:
        column_type = table.c[name].type
        if isinstance(column_type, ExactDecimal):
            decimals[name] = _checked_decimal(column_type) if copy else _remembered(column_type, dialect)
        elif not copy and not isinstance(column_type, JSON) and _bind_processor(column_type, dialect):
            raise TypeError(f"firing.{name}: {column_type!r} binds its values; make_batch does not")
    if set(decimals) != {"raw_points", "points"}:
        raise TypeError(f"firing's exact decimal columns are {sorted(decimals)}, not raw_points and points")
    return Binds(_json_text, decimals["raw_points"], decimals["points"],
                 copy_text if copy else serialized(FIRING_FIELDS))


# COPY's text format: tab between columns, newline after each row, \\N for NULL; a backslash,
# tab, newline or carriage return inside a value is written with a backslash.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """``rows`` (of str, int and None values: decimals come as their text, see
    :func:`_checked_decimal`) in COPY's text format, UTF-8.

    A row is joined as it is and searched once: only a row with a value holding a tab, newline,
    carriage return or backslash (rare) has its values escaped one by one."""
    lines = []
    for row in rows:
        fields = [
            value if type(value) is str else "\\N" if value is None else str(value) if type(value) is int
            else _not_for_copy(value)
            for value in row
        ]
        line = "\t".join(fields)
        if (
            line.count("\t") != len(fields) - 1
            or line.count("\\") != row.count(None)  # each NULL's \\N has one
            or "\n" in line
            or "\r" in line
        ):
            line = "\t".join(field.translate(_COPY_ESCAPES) if type(value) is str else field
                             for value, field in zip(row, fields, strict=True))
        lines.append(line)
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def _not_for_copy(value: Any) -> str:
    raise TypeError(f"a row holds a {type(value).__name__}, which COPY text is not made for")


def write_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows of plain values (what an ORM insert would be given: decimals, JSON-ready values),
    every row with the same keys, into ``table`` at once — as :func:`writer` writes the firings,
    each value bound as its column binds it, but without the ORM's per-row work (a province run
    stores 30,000 cuts)."""
    if not rows:
        return
    fields = tuple(rows[0])
    dialect = session.get_bind().dialect
    copy = dialect.name == "postgresql"
    binds: list[Bind] = []
    for name in fields:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            binds.append(_json_column)
        elif isinstance(column_type, ExactDecimal):
            binds.append(_checked_decimal(column_type) if copy else _remembered(column_type, dialect))
        else:
            processor = None if copy else _bind_processor(column_type, dialect)
            binds.append(processor if processor is not None else _as_it_is)
    bound = [tuple(bind(row[name]) for bind, name in zip(binds, fields, strict=True)) for row in rows]
    writer(session, table, fields)(copy_text(bound) if copy else serialized(fields)(bound))


def _json_column(value: Any) -> str:
    return dumps(to_plain(value)).decode("utf-8")


def _as_it_is(value: Any) -> Any:
    """A value the driver takes as it is."""
    return value


def serialized(fields: Sequence[str]) -> Callable[[list[tuple[Any, ...]]], bytes]:
    """For SQLite: rows of ``fields`` (values as the driver takes them) → a serialized in-memory
    database holding them in a table ``rows`` whose columns have no type (so no value is
    converted on the way: the destination column's affinity applies when :func:`writer` copies
    them, as when they are bound). Made by whoever makes the batch — a worker — it reaches the run
    process as one bytes object, and SQLite itself copies the rows across: unpickling 700,000
    tuples and binding them one by one cost the run process three times as much."""
    create = "CREATE TABLE rows ({})".format(", ".join(_quoted(name) for name in fields))
    insert = "INSERT INTO rows VALUES ({})".format(", ".join("?" for _ in fields))

    def serialize(rows: list[tuple[Any, ...]]) -> bytes:
        db = sqlite3.connect(":memory:", isolation_level=None)
        try:
            db.execute("BEGIN")
            db.execute(create)
            db.executemany(insert, rows)
            db.execute("COMMIT")
            return db.serialize()
        finally:
            db.close()

    return serialize


def _quoted(name: str) -> str:
    return '"{}"'.format(name.replace('"', '""'))


# The schema name under which the run process's connection holds the batch being copied.
BATCH_SCHEMA = "kaohe_batch"


def writer(
    session: Session, table: Table | None = None, fields: Sequence[str] = FIRING_FIELDS
) -> Callable[[Rows], None]:
    """Writes rows of ``fields`` (default: the firings') into ``table`` (``firing``) on the
    session's own connection, in its transaction: PostgreSQL by ``COPY … FROM STDIN`` (its rows as
    COPY text); SQLite by loading the batch's database (:func:`serialized`) into an in-memory
    database attached to the connection as :data:`BATCH_SCHEMA` (attached once: a database cannot
    be detached inside a transaction) and ``INSERT … SELECT`` from it — every constraint, check
    and foreign key applies as to any insert."""
    table = firing_table() if table is None else table
    dialect = session.get_bind().dialect
    raw = driver_connection(session)
    if dialect.name == "postgresql":
        statement = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg_sql.Identifier(table.name),
            psycopg_sql.SQL(", ").join(map(psycopg_sql.Identifier, fields)),
        )

        def copy(rows: Rows) -> None:
            if rows:
                assert isinstance(rows, bytes), "PostgreSQL's rows come as COPY text (binds_for)"
                with raw.cursor() as cursor, cursor.copy(statement) as out:
                    out.write(rows)

        return copy
    if not any(name == BATCH_SCHEMA for _, name, _ in raw.execute("PRAGMA database_list")):
        raw.execute(f"ATTACH DATABASE ':memory:' AS {BATCH_SCHEMA}")
    columns = ", ".join(_quoted(name) for name in fields)
    insert = f"INSERT INTO {_quoted(table.name)} ({columns}) SELECT {columns} FROM {BATCH_SCHEMA}.rows"

    def copy_across(rows: Rows) -> None:
        if rows:
            raw.deserialize(rows, name=BATCH_SCHEMA)
            raw.execute(insert)

    return copy_across


def _bind_processor(column_type: Any, dialect: Any) -> Bind | None:
    """The column's bind processor as a statement on ``dialect`` binds it: the type's dialect
    implementation's. (A TypeDecorator's own ``bind_processor`` ends in its generic ``impl``'s —
    Numeric's float conversion on SQLite, which rounded an ExactDecimal beyond 15 digits.)"""
    processor: Bind | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _json_text(canonical: bytes) -> str:
    return canonical.decode("utf-8")


def _remembered(column_type: Any, dialect: Any) -> Bind:
    """The column type's bind processor, remembered by value (equal decimals bind alike, and a
    run's points take a few hundred distinct values across 700,000 rows)."""
    bind: Bind | None = _bind_processor(column_type, dialect)
    if bind is None:
        return lambda value: value
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
    """For COPY: the decimal's canonical text, refused beyond the column's scale (as
    ``ExactDecimal``) — remembered by value, as :func:`_remembered`."""
    quantum = Decimal(1).scaleb(-column_type.scale)
    known: dict[Decimal, str] = {}

    def check(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is Decimal and value.is_finite():
            text = known.get(value)
            if text is not None:
                return text
        if not isinstance(value, Decimal) or not value.is_finite() or value.quantize(quantum) != value:
            raise ValueError(f"{value!r} is not an exact decimal within the column's {quantum} places")
        text = known[value] = decimal_text(value)
        return text

    return check


def reserve_ids(session: Session, table: Table, n: int) -> Sequence[int]:
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


# -- the frozen snapshot ----------------------------------------------------------------------
# Its canonical UTF-8 bytes go into ``run_snapshot.body`` (text), converted by the database: a
# province's 173 MB never become a Python str (twice that, for Chinese text).


def copy_snapshot(session: Session, run_id: int, size: int, pieces: Iterable[bytes | memoryview]) -> None:
    """PostgreSQL: ``COPY run_snapshot FROM STDIN`` in the binary format — one row, its ``size``
    bytes of body sent in ``pieces`` as they come (the server checks the UTF-8 as for any text)."""
    raw = driver_connection(session)
    statement = "COPY run_snapshot (run_id, body) FROM STDIN (FORMAT binary)"
    with raw.cursor() as cursor, cursor.copy(statement) as out:
        # signature, flags, header extension; a row of two fields: int4 run_id, then the text
        out.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!iihiii", 0, 0, 2, 4, run_id, size))
        for piece in pieces:
            out.write(piece)
        out.write(struct.pack("!h", -1))


def insert_snapshot(session: Session, run_id: int, body: bytes) -> None:
    """SQLite: the body as one value, cast to text by the database."""
    session.execute(
        text("INSERT INTO run_snapshot (run_id, body) VALUES (:run_id, CAST(:body AS TEXT))"),
        {"run_id": run_id, "body": body},
    )
