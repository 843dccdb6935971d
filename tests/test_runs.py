"""Assessment runs through the database: stored all at once, hashed, replayable, superseded."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import audit
import workflows.runs.create
import workflows.runs.machinery
import workflows.runs.rows
from audit.merkle import FIRING_FIELDS, leaf_hash, row_leaf, subtree_root
from engine import PackError, parse_period, prepare
from engine.result import canonical_parts
from engine.run.forked import WorkerError
from store import AuditEvent, Cut, Firing, RulePack, Run, ScoreSheet
from tests.cli_support import cli_runner
from tests.conftest import IS_POSTGRES
from web.cli.main import main
from web.cli.progress import PhaseBars
from workflows.demo import load_demo
from workflows.errors import Conflict, NotFound
from workflows.packs import approve_pack, approved_pack_for, engine_pack, store_pack
from workflows.runs import create_run, load_result, replay
from workflows.runs import rows as run_rows
from workflows.snapshot import build_snapshot, find_scheme

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "rulepacks" / "demo-city-2024.yaml"


def _demo_with_pack(session: Session, approve: bool = True) -> None:
    load_demo(session, ROOT / "demo" / "city")
    store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor="office.li")
    if approve:
        approve_pack(session, "demo-city-2024@1", approver="director.wang")


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                 for m in (Run, Firing, ScoreSheet, Cut, AuditEvent))


def test_a_year_run_is_stored_whole_and_hashes_back(session: Session) -> None:
    _demo_with_pack(session)
    outcome = create_run(session, "DEMO-2024", "2024", actor="office.li")
    run, result = outcome.run, outcome.result
    assert run.kind == "year" and run.status == "complete" and outcome.superseded is None
    stored = load_result(session, run)  # re-hashes the stored rows: equal to the engine's own
    assert stored.run_hash == result.run_hash == run.run_hash
    assert len(stored.firings) == result.firing_count > 0
    assert len(stored.sheets) == 75 and all(s.grade for s in stored.sheets)
    assert {s.rank for s in stored.sheets if s.category == "county"} == set(range(1, 10))
    assert stored.cuts == result.cuts
    report = audit.verify(session)
    assert report.ok and report.runs_checked == 1
    replayed, _ = replay(session, run)  # the demo year, re-evaluated from its frozen snapshot
    assert replayed.identical and replayed.replayed_hash == run.run_hash


def _small_batches(monkeypatch: pytest.MonkeyPatch, parallel: bool) -> None:
    """The demo run stored as a province run is: by two workers (or inline), in several batches
    of 64 firings (a power of two: each batch's leaves are a subtree of the ledger's Merkle tree),
    the last one short."""
    monkeypatch.setattr(workflows.runs.machinery, "PARALLEL_MIN", 1 if parallel else 10**9)
    monkeypatch.setattr(workflows.runs.machinery, "WORKERS", 2)
    monkeypatch.setattr(workflows.runs.machinery, "BATCH", 64)


@pytest.mark.parametrize("parallel", [True, False], ids=["rows-by-workers", "rows-inline"])
def test_a_run_stores_the_same_rows_and_roots_whichever_process_makes_them(
    session: Session, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """A province run's firings are made by worker processes while this one writes them (from
    20,000 firings); the rows, the run hash and the ledger roots must be those of one process."""
    _small_batches(monkeypatch, parallel)
    _demo_with_pack(session)
    run = create_run(session, "DEMO-2024", "2024", actor="office.li").run
    report = audit.verify(session)
    assert report.ok and report.runs_checked == 1, report
    # the snapshot, put in canonical form by a second process too, is what the run hashed
    assert hashlib.sha256(run.snapshot.encode("utf-8")).hexdigest() == run.snapshot_sha256
    stored = load_result(session, run)  # re-hashes the stored rows
    assert stored.run_hash == run.run_hash and len(stored.firings) > 64 * 3
    assert [f.seq for f in stored.firings] == list(range(1, len(stored.firings) + 1))
    assert replay(session, run)[0].identical
    assert multiprocessing.active_children() == []


def test_a_batch_size_that_would_split_the_ledger_tree_wrongly_is_refused(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch's leaves are reduced to a Merkle subtree by its worker: only a power of two
    lines them up with the run's tree, so any other size fails the run before anything is stored."""
    _small_batches(monkeypatch, parallel=True)
    monkeypatch.setattr(workflows.runs.machinery, "BATCH", 97)
    _demo_with_pack(session)
    _fails_storing_nothing(session, _counts(session), ValueError, "97 firings is not a power of two")


def _raise(start: int, stop: int) -> None:
    raise RuntimeError(f"no rows for firings {start}-{stop}")


def _die(start: int, stop: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # the out-of-memory killer, an operator


@pytest.mark.parametrize(
    ("fail", "error", "match"),
    [
        (_raise, RuntimeError, "no rows for firings 128-192"),
        (_die, WorkerError, "a firing worker died without its batch"),
    ],
    ids=["raises", "is-killed"],
)
def test_a_failing_firing_worker_fails_the_run_and_stores_nothing(
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    fail: Callable[[int, int], None],
    error: type[Exception],
    match: str,
) -> None:
    """A worker's error, or its death, fails the run with a message saying so (a dead worker's
    batch is not waited for for ever), and nothing is stored."""
    _small_batches(monkeypatch, parallel=True)
    _demo_with_pack(session)
    before = _counts(session)
    made = workflows.runs.machinery.make_batch

    def broken(job: workflows.runs.rows.FiringRows, start: int, stop: int) -> workflows.runs.rows.Batch:
        if start >= 64 * 2:
            fail(start, stop)
        return made(job, start, stop)

    monkeypatch.setattr(workflows.runs.machinery, "make_batch", broken)
    _fails_storing_nothing(session, before, error, match)


def _fails_storing_nothing(
    session: Session, before: tuple[int, ...], error: type[Exception], match: str
) -> None:
    """The run raises ``error``; rolled back to before it, nothing is stored and no process is left."""
    savepoint = session.begin_nested()
    with pytest.raises(error, match=match):
        create_run(session, "DEMO-2024", "2024", actor="office.li")
    savepoint.rollback()
    assert _counts(session) == before
    assert multiprocessing.active_children() == []


def test_a_failing_matched_facts_child_fails_the_run_and_stores_nothing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matched facts' JSON is made ahead by a child while effects and score sheets are worked
    out; if it fails, the run fails (no firing quotes a fact it lacks) and nothing is stored."""
    _small_batches(monkeypatch, parallel=True)
    _demo_with_pack(session)
    before = _counts(session)

    def broken(facts: object, path: Path) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(workflows.runs.machinery, "_write_matched_json", broken)
    _fails_storing_nothing(session, before, WorkerError, "OSError: disk full")


@pytest.mark.parametrize(
    "detail", [{"note": "plain"}, {"big": 2**70, "note": "x"}], ids=["orjson-runs", "canonical-way"]
)
def test_a_batch_holds_its_firings_canonical_forms_and_leaves(
    session: Session, detail: dict[str, Any]
) -> None:
    """A batch writes each firing's canonical form and ledger leaf from runs of fields put in JSON
    once for both; a value orjson would not write as ``dumps`` does (an int beyond 64 bits) takes
    the canonical way. Either way the bytes are engine.result's and audit.merkle's."""
    _demo_with_pack(session)
    snapshot = build_snapshot(session, find_scheme(session, "DEMO-2024"), parse_period("2024"))
    prepared = prepare(engine_pack(approved_pack_for(session, "DEMO-2024")), snapshot.normalized(),
                       why_not=False)
    for dr in prepared.drafts[:5]:
        dr.detail = dict(detail)
    unit_id = {code: n for n, code in enumerate(sorted(prepared.d.units), start=1)}
    job = run_rows.FiringRows(prepared, range(1001, 1001 + len(prepared)), 7, unit_id,
                              run_rows.binds_for(session))
    batch = run_rows.make_batch(job, 0, 5)
    firings = list(prepared.firings(0, 5))
    assert batch.part == b"".join(canonical_parts(firings))
    leaves = []
    for n, f in enumerate(firings):
        row = {
            "id": 1001 + n, "run_id": 7, "seq": f.seq, "rule_id": f.rule_id, "rule_version": f.rule_version,
            "pack_sha256": f.pack_sha256, "unit_id": unit_id[f.unit], "indicator_code": f.indicator,
            "period": f.period, "effect": f.effect, "bucket": f.bucket,
            "matched_facts": [{"id": m.id, "type": m.type, "values": m.values} for m in f.matched],
            "raw_points": f.raw_points, "points": f.points, "text_zh": f.text_zh, "text_en": f.text_en,
            "detail": f.detail, "status": f.status, "override": f.override,
        }
        leaves.append(leaf_hash(row_leaf(row, FIRING_FIELDS)))
    assert batch.node == subtree_root(leaves)


def test_rows_reach_the_database_as_the_values_they_were_made_of(session: Session) -> None:
    """A run's rows reach the database in bulk — PostgreSQL as COPY text, SQLite as a serialized
    database copied across (a firing's made by a worker): every value must come back as it was,
    whatever characters a rule text or a fact holds, and a value the column refuses is refused."""
    from decimal import Decimal

    from sqlalchemy import JSON, Column, Integer, MetaData, Table, Text

    from store.types import ExactDecimal

    decimal_column = "numeric(18, 4)" if IS_POSTGRES else "varchar(20)"  # (ExactDecimal's own)
    session.execute(text(f"CREATE TEMPORARY TABLE copied (n int, t text, d {decimal_column}, j json)"))
    table = Table(
        "copied", MetaData(), Column("n", Integer), Column("t", Text), Column("d", ExactDecimal(18, 4)),
        Column("j", JSON),
    )
    rows = [
        {"n": 1, "t": "tab\there, new\nline, cr\rreturn, back\\slash \\N, 考核 😀", "d": Decimal("-0.5000"),
         "j": None},
        {"n": 2, "t": "", "d": Decimal("12345678.1234"), "j": {"k": "v\\n\t", "n": [1, 2]}},
        {"n": 3, "t": "\\.", "d": Decimal(0), "j": "end"},
        {"n": 4, "t": None, "d": None, "j": []},
        {"n": 5, "t": "18 digits, exactly", "d": Decimal("12345678901234.1234"), "j": {}},
    ]
    workflows.runs.rows.write_rows(session, table, rows)
    workflows.runs.rows.write_rows(session, table, [{**rows[1], "n": 6}])  # a second batch
    back = session.execute(select(table).order_by(table.c.n)).mappings().all()
    assert [dict(r) for r in back] == [*rows, {**rows[1], "n": 6}]
    assert [str(r.d) for r in back][4] == "12345678901234.1234"  # (no binary float on the way)
    with pytest.raises(ValueError, match=r"0\.0001|4 decimal places"):
        workflows.runs.rows.write_rows(session, table, [{"n": 7, "t": "", "d": Decimal("0.00001"), "j": 1}])
    if IS_POSTGRES:
        for unfit in (1.5, Decimal(1), True):
            with pytest.raises(TypeError, match="COPY text is not made for"):
                workflows.runs.rows.copy_text([(unfit,)])


def test_bulk_written_firings_meet_every_constraint(session: Session) -> None:
    """Firings written in bulk (not through the ORM) are still checked by the database: a row with
    an unknown unit, or a status the check refuses, fails the write and stores none of its batch."""
    _demo_with_pack(session)
    create_run(session, "DEMO-2024", "2024", actor="office")
    stored = session.execute(select(Firing)).scalars().first()
    assert stored is not None
    columns = workflows.runs.rows.firing_table().c
    good = {c.name: getattr(stored, c.name) for c in columns}
    top = session.scalar(select(func.max(Firing.id)))
    before = session.scalar(select(func.count()).select_from(Firing))
    for bad in ({"unit_id": 999_999}, {"status": "deleted"}, {"seq": stored.seq}):
        with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), session.begin_nested():
            workflows.runs.rows.write_rows(
                session, workflows.runs.rows.firing_table(),
                [{**good, "id": top + 1, "seq": 10**6}, {**good, "id": top + 2, **bad}],
            )
    assert session.scalar(select(func.count()).select_from(Firing)) == before


@pytest.mark.parametrize("evaluation", ["goes on", "fails"])
def test_a_snapshot_checked_by_the_worker_is_refused_as_when_checked_in_process(
    session: Session, monkeypatch: pytest.MonkeyPatch, evaluation: str
) -> None:
    """A large run's snapshot is checked by a second process while this one evaluates: a snapshot
    that cannot be run must still stop it with the check's own error (before whatever the
    evaluation ran into meanwhile), store nothing and leave no worker or spool behind."""
    import dataclasses
    import importlib

    from engine.run.snapshot_check import SnapshotError, check_snapshot
    from workflows.snapshot import build_snapshot, find_scheme

    _demo_with_pack(session)
    scheme = find_scheme(session, "DEMO-2024")
    good = build_snapshot(session, scheme, parse_period("2024"))
    bad = dataclasses.replace(good, targets=(*good.targets, good.targets[0]))
    with pytest.raises(SnapshotError) as inline:
        check_snapshot(bad.normalized())
    monkeypatch.setattr(workflows.runs.machinery, "PARALLEL_MIN", 1)
    monkeypatch.setattr(workflows.runs.machinery, "WORKERS", 2)
    if evaluation == "fails":
        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("derive fell over the duplicate")

        monkeypatch.setattr(importlib.import_module("engine.run.evaluate"), "derive", broken)
    before = _counts(session)
    with pytest.raises(SnapshotError) as elsewhere:
        create_run(session, "DEMO-2024", "2024", actor="office.li", frozen=bad)
    assert elsewhere.value.problems == inline.value.problems
    assert "duplicate target ids" in str(elsewhere.value)
    assert _counts(session) == before
    assert multiprocessing.active_children() == []
    assert not list(Path(tempfile.gettempdir()).glob("kaohe-run-*"))


def test_a_run_pauses_the_cycle_collector_only_while_it_runs(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _demo_with_pack(session)
    seen: list[bool] = []
    real = workflows.runs.machinery.prepare

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workflows.runs.machinery, "prepare", watched)
    create_run(session, "DEMO-2024", "2024", actor="office.li")
    assert seen == [False] and gc.isenabled()


def test_replay_is_identical_and_a_rerun_supersedes(session: Session) -> None:
    _demo_with_pack(session)
    first = create_run(session, "2024", "2024-Q3", actor="office.li").run
    again = create_run(session, "2024", "2024-Q3", actor="office.li")
    assert again.superseded is not None and again.superseded.id == first.id
    assert first.status == "superseded" and again.run.supersedes_id == first.id
    assert again.run.run_hash == first.run_hash  # same facts, same pack: same bytes
    report, _ = replay(session, again.run)
    assert report.identical and report.differences == ()


def test_no_run_without_an_approved_pack_and_four_eyes(session: Session) -> None:
    _demo_with_pack(session, approve=False)
    with pytest.raises(NotFound, match="scheme DEMO-2024 has no approved rule pack"):
        create_run(session, "DEMO-2024", "2024", actor="office.li")
    with pytest.raises(Conflict, match="a second person must approve it"):
        approve_pack(session, "demo-city-2024@1", approver="office.li")
    assert _counts(session)[0] == 0


def test_a_stored_pack_version_never_changes(session: Session) -> None:
    _demo_with_pack(session)
    changed = PACK.read_text(encoding="utf-8").replace("honours: {cap: 5", "honours: {cap: 6", 1)
    with pytest.raises(Conflict, match="already stored with different content"):
        store_pack(session, changed, PACK.name, actor="office.li")
    same = store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor="office.zhao")
    assert not same.created
    with pytest.raises(PackError):
        store_pack(session, "pack: x\nversion: 1\nbogus: 1\nrules: []\n", "bad.yaml", actor="office.li")
    assert session.scalar(select(func.count()).select_from(RulePack)) == 1


def test_a_failing_run_stores_nothing(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _demo_with_pack(session)
    before = _counts(session)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(workflows.runs.create.audit, "record_run", broken)
    savepoint = session.begin_nested()
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        create_run(session, "DEMO-2024", "2024", actor="office.li")
    savepoint.rollback()
    assert _counts(session) == before


@pytest.mark.skipif(IS_POSTGRES, reason="PostgreSQL's triggers refuse the tampering itself")
def test_a_changed_firing_is_refused_when_loading(session: Session) -> None:
    _demo_with_pack(session)
    run = create_run(session, "DEMO-2024", "2024", actor="office.li").run
    session.execute(text("UPDATE firing SET points = '9.0000' WHERE run_id = :r AND seq = 1"), {"r": run.id})
    session.expire_all()
    with pytest.raises(Conflict, match="not the recorded run hash"):
        load_result(session, run)


def test_cli_run_explain_replay(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0
        # The demo approved version 1; a second version needs a second person too.
        v2 = tmp_path / "demo-city-2024-v2.yaml"
        v2.write_text(PACK.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 2\n", 1),
                      encoding="utf-8")
        loaded = runner.invoke(main, ["pack", "load", str(v2)], env={"KAOHE_ACTOR": "office.li"})
        assert loaded.exit_code == 0, loaded.output
        approve = ["pack", "approve", "demo-city-2024@2"]
        refused = runner.invoke(main, approve, env={"KAOHE_ACTOR": "office.li"})
        assert refused.exit_code == 1 and "second person" in refused.output
        unseen = runner.invoke(main, approve, env={"KAOHE_ACTOR": "director.wang"})
        assert unseen.exit_code == 1 and "must first see its impact" in unseen.output
        impact = ["pack", "impact", "demo-city-2024@2"]
        seen = runner.invoke(main, impact, env={"KAOHE_ACTOR": "director.wang"})
        assert seen.exit_code == 0 and "0 of 75 units change" in seen.output, seen.output
        ok = runner.invoke(main, approve, env={"KAOHE_ACTOR": "director.wang"})
        assert ok.exit_code == 0, ok.output
        listed = runner.invoke(main, ["pack", "list"]).output
        assert "demo-city-2024@1\tDEMO-2024\tapproved" in listed
        assert "demo-city-2024@2\tDEMO-2024\tapproved" in listed
        ran = runner.invoke(main, ["run", "DEMO-2024", "2024", "--json"])
        assert ran.exit_code == 0, ran.output
        summary = json.loads(ran.output)
        assert summary["score_sheets"] == 75 and len(summary["run_hash"]) == 64
        run_id = str(summary["run_id"])
        why = runner.invoke(main, ["explain", run_id, "C05", "--lang", "en"])
        assert why.exit_code == 0, why.output
        assert "C05" in why.output and "honours" in why.output  # the honours cap cut is explained
        data = json.loads(runner.invoke(main, ["explain", run_id, "C05", "--json"]).output)
        assert data["unit"] == "C05" and data["sheet"]["unit"] == "C05"
        unknown = runner.invoke(main, ["explain", run_id, "NOPE"])
        assert unknown.exit_code == 1 and "no unit 'NOPE'" in unknown.output
        again = runner.invoke(main, ["replay", run_id])
        assert again.exit_code == 0 and "replays identically" in again.output
        bad = runner.invoke(main, ["run", "DEMO-2024", "2024-13"])
        assert bad.exit_code == 1 and "2024-13" in bad.output


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_run_on_a_terminal_shows_a_bar_for_each_phase_to_its_end(session: Session) -> None:
    _demo_with_pack(session)
    screen = _Terminal()
    bars = PhaseBars(screen)
    create_run(session, "DEMO-2024", "2024", actor="office.li", progress=bars)
    bars.close()
    drawn = click.unstyle(screen.getvalue()).replace("\r", "\n")  # without the cursor's escapes
    lines = [line.strip() for line in drawn.splitlines() if line.strip()]
    phases = ["snapshot", "check", "derive", "match target", "match checkpoint", "match event", "effects",
              "sheets", "store", "firings", "ledger"]
    shown = [p for p in phases if any(line.startswith(p + " ") for line in lines)]
    assert shown == phases
    for phase in phases:  # each bar ends full
        assert any(line.startswith(phase + " ") and "100%" in line for line in lines), phase
    quiet = io.StringIO()  # not a terminal: nothing drawn unless asked
    PhaseBars(quiet)("snapshot", 0, 1)
    assert quiet.getvalue() == ""


def test_cli_run_draws_its_bars_on_stderr_only(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_runner(fresh_url, tmp_path, monkeypatch) as runner:
        assert runner.invoke(main, ["demo", "--no-serve"]).exit_code == 0
        ran = runner.invoke(main, ["run", "DEMO-2024", "2024-Q3", "--json", "--progress"])
        assert ran.exit_code == 0, ran.output
        assert json.loads(ran.stdout)["period"] == "2024-Q3"  # stdout stays JSON
        assert "derive" in ran.stderr and "firings" in ran.stderr
        plain = runner.invoke(main, ["run", "DEMO-2024", "2024-Q3", "--json"])  # stderr no terminal
        assert plain.exit_code == 0 and plain.stderr == ""


def _shuffled_copy(source: Path, target: Path, seed: int) -> None:
    """The demo files with their data rows in another order (same encodings, same content)."""
    import csv
    import random
    import shutil

    import openpyxl

    rng = random.Random(seed)
    target.mkdir()
    shutil.copyfile(source / "scheme.xlsx", target / "scheme.xlsx")
    for name, encoding in (("progress.csv", "gb18030"), ("events.csv", "utf-8-sig")):
        with (source / name).open(encoding=encoding, newline="") as fh:
            header, *rows = list(csv.reader(fh))
        rng.shuffle(rows)
        with (target / name).open("w", encoding=encoding, newline="") as fh:
            csv.writer(fh).writerows([header, *rows])
    book = openpyxl.load_workbook(source / "targets.xlsx")
    for sheet in book.worksheets:
        header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        rng.shuffle(rows)
        sheet.delete_rows(1, sheet.max_row)
        for row in [header, *rows]:
            sheet.append(row)
    book.save(target / "targets.xlsx")


def test_the_run_hash_does_not_depend_on_the_load_order(session: Session, tmp_path: Path) -> None:
    hashes = []
    for seed, city in ((None, ROOT / "demo" / "city"), (7, tmp_path / "a"), (8, tmp_path / "b")):
        if seed is not None:
            _shuffled_copy(ROOT / "demo" / "city", city, seed)
        savepoint = session.begin_nested()
        load_demo(session, city)
        store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor="office.li")
        approve_pack(session, "demo-city-2024@1", approver="director.wang")
        outcome = create_run(session, "DEMO-2024", "2024", actor="office.li")
        hashes.append((outcome.run.snapshot_sha256, outcome.run.run_hash))
        savepoint.rollback()
        session.expunge_all()  # SQLite hands the rolled-back ids out again
    assert hashes[0] == hashes[1] == hashes[2]
