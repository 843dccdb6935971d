"""Runs bound into the ledger by Merkle roots: stored firings and score sheets can't change unseen."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import audit
from audit.merkle import (
    FIRING_FIELDS,
    LEAF_PREFIX,
    NODE_PREFIX,
    RUN_FIELDS,
    RUN_MUTABLE_FIELDS,
    SCORE_SHEET_FIELDS,
    row_leaf,
)
from store import Firing, Run, ScoreSheet
from tests.audit_support import make_run, record_events, tamper
from tests.conftest import IS_POSTGRES

# Certificate Transparency's published RFC 6962 test vectors: leaves and the root of the first n.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


@pytest.mark.parametrize("size", sorted(CT_ROOTS))
def test_merkle_roots_match_certificate_transparency_vectors(size: int) -> None:
    assert audit.merkle_root(bytes.fromhex(leaf) for leaf in CT_LEAVES[:size]) == CT_ROOTS[size]


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written literally (recursive split at the largest power of two below n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(LEAF_PREFIX + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(NODE_PREFIX + _reference_root(leaves[:k]) + _reference_root(leaves[k:])).digest()


def test_bottom_up_tree_equals_rfc_6962_for_every_size_up_to_70() -> None:
    for n in range(71):
        leaves = [f"leaf {i}".encode() for i in range(n)]
        assert audit.merkle_root(leaves) == _reference_root(leaves).hex(), n


def test_blocks_of_a_power_of_two_reduced_apart_give_the_same_root() -> None:
    """A run's firing workers each reduce their block of leaves (aligned, of a power-of-two size,
    the last one shorter): the root over the blocks' nodes is the root over all the leaves."""
    from audit.merkle import leaf_hash, root_of_leaf_hashes, subtree_root

    for block in (1, 2, 4, 8):
        for n in range(1, 71):
            leaves = [f"leaf {i}".encode() for i in range(n)]
            hashes = [leaf_hash(leaf) for leaf in leaves]
            nodes = [subtree_root(hashes[i : i + block]) for i in range(0, n, block)]
            assert root_of_leaf_hashes(nodes) == _reference_root(leaves).hex()
    with pytest.raises(ValueError, match="no subtree"):
        subtree_root([])


def test_the_documented_merkle_examples() -> None:
    """The checks printed in docs/audit-format.md section 3."""
    row = dict(id=41, run_id=7, seq=1, rule_id="deduct.late_report", rule_version=2, pack_sha256="ab" * 32,
               unit_id=3, indicator_code="GDP", period="2024", effect="deduction", bucket=None,
               matched_facts=[{"fact": "late_report", "count": 1}], raw_points=Decimal("-1.0000"),
               points=Decimal("-1.0000"), text_zh="迟报一次，扣1分", text_en="late report: -1",
               detail={"level": "municipal"}, status="applied", override=None)
    leaf = row_leaf(row, FIRING_FIELDS)
    assert leaf.decode() == (
        '{"bucket":null,"detail":{"level":"municipal"},"effect":"deduction","id":41,"indicator_code":"GDP",'
        '"matched_facts":[{"count":1,"fact":"late_report"}],"override":null,"pack_sha256":"' + "ab" * 32
        + '","period":"2024","points":"-1","raw_points":"-1","rule_id":"deduct.late_report",'
        '"rule_version":2,"run_id":7,"seq":1,"status":"applied","text_en":"late report: -1",'
        '"text_zh":"迟报一次，扣1分","unit_id":3}'
    )
    assert audit.merkle_root([leaf]) == "6532989715564569a3c292510ec5e7bbb8d19aa3577345c863b2d5ad35747329"
    assert audit.merkle_root([b'{"a":1}', b'{"a":2}', b'{"a":3}']) == (
        "a79bd40194b6654d46059e1580a2157b3bf25e7eeb833c8924398c9add3856ea")


def test_leaves_cover_every_column_so_a_new_one_is_a_deliberate_format_change() -> None:
    assert set(FIRING_FIELDS) == {c.key for c in inspect(Firing).columns}
    assert set(SCORE_SHEET_FIELDS) == {c.key for c in inspect(ScoreSheet).columns}
    assert set(RUN_FIELDS) | RUN_MUTABLE_FIELDS == {c.key for c in inspect(Run).columns}


def test_leaf_data_is_canonical_and_normalises_decimals() -> None:
    a = row_leaf({"points": Decimal("-1.5000"), "unit_id": 3, "text": "扣分"}, ("unit_id", "points", "text"))
    b = row_leaf({"points": Decimal("-1.5"), "unit_id": 3, "text": "扣分"}, ("text", "points", "unit_id"))
    assert a == b == '{"points":"-1.5","text":"扣分","unit_id":3}'.encode()


def test_a_recorded_run_verifies(session: Session) -> None:
    record_events(session, 2)
    run = make_run(session, firings=5, units=3)
    event = audit.record_run(session, run, actor="office")
    record_events(session, 1, start=3)
    payload = json.loads(event.payload)
    assert (event.action, event.subject_type, event.subject_id, event.seq) == ("run.create", "run",
                                                                             str(run.id), 3)
    roots = audit.run_roots(session, run.id)
    assert payload["firings"] == {"count": 5, "merkle_root": roots.firings_root}
    assert payload["score_sheets"] == {"count": 3, "merkle_root": roots.score_sheets_root}
    assert payload["run"]["snapshot_sha256"] == run.snapshot_sha256
    assert payload["pack_sha256"] == run.rule_pack.sha256
    report = audit.verify(session)
    # and the rows.bind event verify records first for the rows this session wrote
    assert report.ok and (report.events_checked, report.runs_checked) == (5, 1)


def test_roots_depend_only_on_stored_values(session: Session) -> None:
    """Decimals read back as NUMERIC(18,4) on PostgreSQL and as text on SQLite hash the same."""
    run = make_run(session)
    before = audit.run_roots(session, run.id)
    session.expire_all()
    assert audit.run_roots(session, run.id) == before


def test_a_run_whose_snapshot_does_not_match_its_hash_is_not_recorded(session: Session) -> None:
    run = make_run(session)
    run.snapshot_sha256 = "0" * 64
    with pytest.raises(ValueError, match="snapshot"):
        audit.record_run(session, run, actor="office")


def _recorded_run(session: Session) -> Run:
    record_events(session, 2)
    run = make_run(session, firings=4, units=2)
    audit.record_run(session, run, actor="office")
    record_events(session, 2, start=3)
    assert audit.verify(session).ok
    return run


@pytest.mark.parametrize(
    ("table", "sql"),
    [
        ("firing", "UPDATE firing SET points = '-0.5000' WHERE run_id = :run AND seq = 2"),
        ("firing", "UPDATE firing SET text_zh = '无' WHERE run_id = :run AND seq = 4"),
        ("firing", "UPDATE firing SET matched_facts = '[]' WHERE run_id = :run AND seq = 1"),
        ("firing", "DELETE FROM firing WHERE run_id = :run AND seq = 3"),
        ("firing", "UPDATE firing SET seq = 9 WHERE run_id = :run AND seq = 4"),
        ("score_sheet", "UPDATE score_sheet SET total = '99.0000' WHERE run_id = :run"),
        ("score_sheet", "UPDATE score_sheet SET grade = 'excellent' WHERE run_id = :run"),
        ("score_sheet", "DELETE FROM score_sheet WHERE run_id = :run"),
    ],
)
def test_a_changed_stored_result_names_the_run(session: Session, table: str, sql: str) -> None:
    run = _recorded_run(session)
    tamper(session, table, sql, run=run.id)
    report = audit.verify(session)
    brk = report.first_break
    assert brk is not None and (brk.seq, brk.kind, brk.run_id) == (3, "run_root_mismatch", run.id)
    assert f"run {run.id}" in brk.detail
    assert (report.events_checked, report.runs_checked) == (2, 0)


def test_a_firing_added_to_a_recorded_run_is_caught(session: Session) -> None:
    run = _recorded_run(session)
    tamper(session, "firing",
           "INSERT INTO firing (run_id, seq, rule_id, rule_version, pack_sha256, unit_id, indicator_code, "
           "period, effect, bucket, matched_facts, raw_points, points, text_zh, text_en) "
           "SELECT run_id, 5, rule_id, rule_version, pack_sha256, unit_id, indicator_code, period, effect, "
           "bucket, matched_facts, raw_points, points, text_zh, text_en FROM firing "
           "WHERE run_id = :run AND seq = 1", run=run.id)
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.kind, brk.run_id) == ("run_root_mismatch", run.id)
    assert "stored firings (5 rows" in brk.detail and "recorded (4 rows" in brk.detail


@pytest.mark.parametrize(
    ("table", "sql", "what"),
    [
        ("run_snapshot", "UPDATE run_snapshot SET body = '{}' WHERE run_id = :run", "snapshot"),
        ("run_snapshot", "DELETE FROM run_snapshot WHERE run_id = :run", "snapshot"),
        ("run", "UPDATE run SET run_hash = :h WHERE id = :run", "run row"),
        ("run", "UPDATE run SET created_by = 'mallory' WHERE id = :run", "run row"),
        ("rule_pack", "UPDATE rule_pack SET sha256 = :h WHERE id = (SELECT rule_pack_id FROM run "
                      "WHERE id = :run)", "pack"),
    ],
)
def test_a_changed_run_row_or_pack_names_the_run(session: Session, table: str, sql: str, what: str) -> None:
    run = _recorded_run(session)
    if table == "run_snapshot":  # append-only on PostgreSQL (migration 0009): as a DBA would
        tamper(session, table, sql, run=run.id)
    else:  # run and pack rows carry no trigger
        session.execute(text(sql), {"run": run.id, "h": "cd" * 32})
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.seq, brk.kind, brk.run_id) == (3, "run_record_mismatch", run.id)
    assert what in brk.detail


def test_a_run_moving_on_to_superseded_or_sealed_still_verifies(session: Session) -> None:
    run = _recorded_run(session)
    run.status = "sealed"
    assert audit.verify(session).ok


def test_a_run_sealed_behind_the_ledgers_back_is_named(session: Session) -> None:
    run = _recorded_run(session)
    audit.rows.settle(session)
    session.execute(text("UPDATE run SET status = 'sealed' WHERE id = :run"), {"run": run.id})
    brk = audit.verify(session).first_break
    assert brk is not None and (brk.kind, brk.table, brk.row) == ("row_changed", "run", str(run.id))


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="the append-only triggers exist on PostgreSQL only")
@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("UPDATE firing SET points = 0", "firing"),
        ("DELETE FROM firing", "firing"),
        ("TRUNCATE firing CASCADE", "firing"),  # CASCADE: past the foreign keys, to the trigger
        ("UPDATE score_sheet SET total = 100", "score_sheet"),
        ("DELETE FROM score_sheet", "score_sheet"),
        ("TRUNCATE score_sheet CASCADE", "score_sheet"),
    ],
)
def test_postgres_refuses_to_change_stored_run_results(session: Session, sql: str, table: str) -> None:
    _recorded_run(session)
    with pytest.raises(DBAPIError, match=f"on table {table} refused: stored run results are immutable"), \
            session.begin_nested():
        session.execute(text(sql))
    assert audit.verify(session).ok


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="the append-only triggers exist on PostgreSQL only")
@pytest.mark.parametrize(
    "sql",
    ["UPDATE run_snapshot SET body = '{}'", "DELETE FROM run_snapshot", "TRUNCATE run_snapshot"],
)
def test_postgres_refuses_to_change_a_frozen_snapshot(session: Session, sql: str) -> None:
    _recorded_run(session)
    refused = "on table run_snapshot refused: a run's frozen snapshot is immutable"
    with pytest.raises(DBAPIError, match=refused), session.begin_nested():
        session.execute(text(sql))
    assert audit.verify(session).ok
