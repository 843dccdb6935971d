"""Binding a run's stored results into the ledger with Merkle roots.

A ``run.create`` event carries the Merkle root of the run's firings and of its score sheets, the
run row's immutable fields and its pack's hash. Recomputing them from the stored rows later shows
whether any firing or score sheet was changed, added, removed or moved since the run was recorded.

The tree is RFC 6962's (Certificate Transparency): leaf = SHA-256(0x00 || data), interior node =
SHA-256(0x01 || left || right), the left subtree holding the largest power of two of leaves
smaller than n, the empty tree = SHA-256 of no bytes. Built bottom-up here: pairing left to right
and carrying an unpaired last node up unchanged gives exactly that tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, LargeBinary, cast, func, select
from sqlalchemy.orm import Session

from audit.bundle import CUT_FIELDS
from audit.chain import record
from engine.values.canonical import canonical_json
from store import AuditEvent, Cut, Firing, RulePack, Run, RunSnapshot, ScoreSheet

# The fields each leaf covers, fixed here rather than read from the models: adding a column to a
# model must not silently change the hash of every run already recorded. A test fails when a
# model gains a column that is not listed, so the format is changed deliberately or not at all.
FIRING_FIELDS: tuple[str, ...] = (
    "id", "run_id", "seq", "rule_id", "rule_version", "pack_sha256", "unit_id", "indicator_code",
    "period", "effect", "bucket", "matched_facts", "raw_points", "points", "text_zh", "text_en",
    "detail", "status", "override",
)
SCORE_SHEET_FIELDS: tuple[str, ...] = (
    "id", "run_id", "unit_id", "category_code", "sections", "bonus", "deduction", "vetoes",
    "total", "rank", "grade", "flags", "grade_notes", "credited_events",
)
# The run row itself is updated (its status moves on), so only the fields that never change are bound.
RUN_FIELDS: tuple[str, ...] = (
    "id", "scheme_id", "rule_pack_id", "period", "kind", "snapshot_sha256", "run_hash",
    "supersedes_id", "created_at", "created_by",
)
RUN_MUTABLE_FIELDS: frozenset[str] = frozenset({"status"})
"""Run columns not in RUN_FIELDS: status changes. The snapshot text (table run_snapshot) is bound
through snapshot_sha256."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def merkle_root(leaves: Iterable[bytes]) -> str:
    """Hex RFC 6962 Merkle tree hash over the leaves' data, in the order given."""
    return root_of_leaf_hashes([leaf_hash(data) for data in leaves])


def leaf_hash(data: bytes) -> bytes:
    """A leaf's hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def root_of_leaf_hashes(level: list[bytes]) -> str:
    """:func:`merkle_root` from the leaves' hashes (made elsewhere, by a worker process say) — or
    from the roots of consecutive blocks of them (:func:`subtree_root`)."""
    return subtree_root(level).hex() if level else EMPTY_ROOT


def subtree_root(level: list[bytes]) -> bytes:
    """The node a run of leaf hashes reduces to, as the tree over them alone. Blocks of one
    power-of-two size (the last one may be shorter), taken in order, are subtrees of the tree
    over all their leaves, so a worker can reduce its block and :func:`root_of_leaf_hashes` of
    the blocks' nodes is the root over every leaf (tested)."""
    if not level:
        raise ValueError("an empty run of leaves has no subtree")
    while len(level) > 1:
        paired = [
            hashlib.sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def row_leaf(row: Mapping[Any, Any], fields: Sequence[str]) -> bytes:
    """A stored row's leaf data: canonical JSON of exactly ``fields`` (decimals normalised)."""
    return canonical_json({name: row[name] for name in fields})


@dataclass(frozen=True)
class RunRoots:
    firing_count: int
    firings_root: str
    score_sheet_count: int
    score_sheets_root: str

    def as_payload(self) -> dict[str, dict[str, Any]]:
        return {
            "firings": {"count": self.firing_count, "merkle_root": self.firings_root},
            "score_sheets": {"count": self.score_sheet_count, "merkle_root": self.score_sheets_root},
        }


def stored_leaves(
    session: Session, table: FromClause, run_id: int, order: str, fields: Sequence[str]
) -> list[bytes]:
    # Core rows straight from the database, never the identity map: what is stored is what counts.
    rows = session.execute(
        select(table).where(table.c.run_id == run_id).order_by(table.c[order])
    ).mappings()
    return [row_leaf(row, fields) for row in rows]


def run_roots(session: Session, run_id: int) -> RunRoots:
    """Merkle roots of a run's stored firings (by seq) and score sheets (by unit_id)."""
    firings = stored_leaves(session, Firing.__table__, run_id, "seq", FIRING_FIELDS)
    sheets = stored_leaves(session, ScoreSheet.__table__, run_id, "unit_id", SCORE_SHEET_FIELDS)
    return RunRoots(len(firings), merkle_root(firings), len(sheets), merkle_root(sheets))


@dataclass(frozen=True)
class StoredRun:
    """A stored run as the ledger sees it: what ``run.create`` binds, and its snapshot's real hash."""

    binding: dict[str, Any]
    snapshot_text_sha256: str

    def as_recorded(self, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """The binding in the shape of a recorded payload: one recorded before ``run.create``
        bound cuts (a cut's leaf is the bundle's ``cuts.jsonl`` line) has no ``cuts`` member."""
        return self.binding if "cuts" in recorded else {
            k: v for k, v in self.binding.items() if k != "cuts"}


def stored_run(session: Session, run_id: int, roots: RunRoots | None = None) -> StoredRun | None:
    """Compute from the stored rows what a ``run.create`` event records; ``None`` if the run is gone.
    ``roots``: already computed over the run's rows (by ``record_run``'s caller), else read here."""
    run_table, pack_table = Run.__table__, RulePack.__table__
    row = session.execute(
        select(run_table, pack_table.c.sha256.label("pack_sha256"))
        .join(pack_table, pack_table.c.id == run_table.c.rule_pack_id)
        .where(run_table.c.id == run_id)
    ).mappings().first()
    if row is None:
        return None
    cuts = stored_leaves(session, Cut.__table__, run_id, "seq", CUT_FIELDS)
    binding = {
        "run": {name: row[name] for name in RUN_FIELDS},
        "pack_sha256": row["pack_sha256"],
        **(roots if roots is not None else run_roots(session, run_id)).as_payload(),
        "cuts": {"count": len(cuts), "merkle_root": merkle_root(cuts)},
    }
    return StoredRun(binding, snapshot_text_sha256(session, run_id))


def snapshot_text_sha256(session: Session, run_id: int) -> str:
    """SHA-256 of the run's stored snapshot text in UTF-8 (a lost snapshot hashes as empty), taken
    without making the text a Python str: a province's is 173 MB. PostgreSQL hashes it in place;
    SQLite hands over its UTF-8 bytes."""
    body = RunSnapshot.__table__.c.body
    where = RunSnapshot.__table__.c.run_id == run_id
    if session.get_bind().dialect.name == "postgresql":
        digest = session.execute(
            select(func.encode(func.sha256(func.convert_to(body, "UTF8")), "hex")).where(where)
        ).scalar()
        return digest if digest is not None else hashlib.sha256(b"").hexdigest()
    data = session.execute(select(cast(body, LargeBinary)).where(where)).scalar()
    return hashlib.sha256(data or b"").hexdigest()


def record_run(session: Session, run: Run, actor: str, *, roots: RunRoots | None = None) -> AuditEvent:
    """Record ``run.create`` for a run whose firings and score sheets are all stored.

    Call it after the last firing and score sheet is added, in the same transaction: the roots are
    computed from the rows as the database stores them, so a later verify compares like with like.
    A caller that has just inserted hundreds of thousands of rows may pass ``roots`` computed with
    :func:`row_leaf` over exactly the values it inserted (ids included) instead of reading them back.
    """
    session.flush()
    stored = stored_run(session, run.id, roots)
    if stored is None:  # flushed above, so only a caller passing a deleted run gets here
        raise ValueError(f"run {run.id} is not stored")
    if stored.snapshot_text_sha256 != run.snapshot_sha256:
        raise ValueError(f"run {run.id}: its snapshot does not hash to its snapshot_sha256")
    return record(
        session,
        actor=actor,
        action="run.create",
        subject_type="run",
        subject_id=run.id,
        payload=stored.binding,
        with_auth=False,
    )
