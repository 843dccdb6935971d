"""Exporting one run as a self-contained bundle that can be checked without the database.

The bundle holds the run's ledger events with the whole chain segment between them (so every link
can be checked), its firings and score sheets exactly as their Merkle leaves, its cuts, the frozen
snapshot, the pack text and its canonical document, and a manifest hashing every file. The format
is ``docs/audit-format.md`` section 5.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from audit import tlog
from audit.bundle import (
    BUNDLE_FORMAT,
    CHECKPOINT,
    CUT_FIELDS,
    CUTS,
    EVENTS,
    FILES,
    FIRINGS,
    MANIFEST,
    PACK_JSON,
    PACK_YAML,
    SCORE_SHEETS,
    SNAPSHOT,
    UNITS,
    BundleFiles,
    about_run,
    file_entry,
    jsonl,
)
from audit.chain import FORMAT, format_time
from audit.checkpoint import CheckpointError, signed_tree
from audit.merkle import FIRING_FIELDS, SCORE_SHEET_FIELDS, stored_leaves, stored_run
from audit.note import SignerKey
from engine.values.canonical import canonical_json
from store import AuditEvent, Category, Cut, Firing, LedgerCheckpoint, RulePack, Run, ScoreSheet, Unit

PackDocument = Callable[[str, str], bytes]
"""Pack YAML text and a file name → the canonical JSON document its ``sha256`` is taken over."""


class ExportError(Exception):
    """The run cannot be exported as it stands (missing, or not bound into the ledger)."""


RUN_MEMBERS = ("run_id", "run", "supersedes_id", "superseded")
"""The payload members that can name a run (:func:`audit.bundle.about_run`)."""


def run_event_seqs(session: Session, run_id: int) -> list[int]:
    """The events about the run (:func:`audit.bundle.about_run`), in seq order.

    The SQL ``LIKE`` only narrows the scan (canonical JSON writes ``"run":12`` followed by ``,``
    or ``}``); each candidate's payload is then read to confirm it.
    """
    about = or_(
        and_(AuditEvent.subject_type == "run", AuditEvent.subject_id == str(run_id)),
        *(AuditEvent.payload.like(f'%"{member}":{run_id}{end}%')
          for member in RUN_MEMBERS for end in (",", "}")),
    )
    rows = session.execute(select(AuditEvent.seq, AuditEvent.action, AuditEvent.subject_type,
                                  AuditEvent.subject_id, AuditEvent.payload)
                           .where(about).order_by(AuditEvent.seq))
    return [seq for seq, action, kind, ident, payload in rows
            if about_run(action, kind, ident, json.loads(payload), run_id)]


def _event_row(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "recorded_at": format_time(e.recorded_at), "actor": e.actor,
            "action": e.action, "subject_type": e.subject_type, "subject_id": e.subject_id,
            "payload": e.payload, "prev_hash": e.prev_hash, "hash": e.hash}


def _anchoring(session: Session, tree: tlog.Tree) -> dict[str, Any]:
    """The proofs a reader needs to tie the bundle to checkpoints: the last event's inclusion in
    the bundle's checkpoint, and the bundle's tree extending every earlier checkpoint signed."""
    sizes = session.scalars(select(LedgerCheckpoint.tree_size).distinct()
                            .where(LedgerCheckpoint.tree_size.between(1, tree.size - 1))
                            .order_by(LedgerCheckpoint.tree_size)).all()
    return {
        "tree_size": tree.size,
        "inclusion_proof": [h.hex() for h in tree.inclusion_proof(tree.size - 1)],
        "consistency": [{"tree_size": m, "proof": [h.hex() for h in tree.consistency_proof(m)]}
                        for m in sizes],
    }


def export_run(
    session: Session, run_id: int, *, pack_document: PackDocument, actor: str, signer: SignerKey,
    now: dt.datetime | None = None,
) -> BundleFiles:
    """Build run ``run_id``'s bundle from the stored rows, with a checkpoint of the ledger signed
    by ``signer`` (the last one stored when nothing was recorded since; else a new one, stored).

    The run must verify as stored (its rows hash to what ``run.create`` recorded): a bundle of
    rows that no longer match the ledger would only fail elsewhere, later, with less to go on.
    The events run from the run's first to the ledger's head, which the checkpoint signs.
    """
    stored = stored_run(session, run_id)
    if stored is None:
        raise ExportError(f"no run {run_id}")
    create = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "run.create", AuditEvent.subject_type == "run",
        AuditEvent.subject_id == str(run_id))).first()
    if create is None:
        raise ExportError(f"run {run_id} has no run.create event in the ledger: nothing binds it")
    binding = stored.as_recorded(json.loads(create.payload))
    if canonical_json(binding) != create.payload.encode("utf-8"):
        raise ExportError(f"run {run_id}'s stored rows differ from its run.create event "
                          f"{create.seq}: run `kaohe audit verify` first")
    run = session.get(Run, run_id)
    pack = session.get(RulePack, stored.binding["run"]["rule_pack_id"])
    assert run is not None and pack is not None  # stored_run found both
    document = pack_document(pack.yaml_text, f"{pack.name}@{pack.version}")
    seqs = run_event_seqs(session, run_id)
    try:
        checkpoint, tree = signed_tree(session, signer, reason="export", actor=actor, run_id=run_id)
    except CheckpointError as exc:
        raise ExportError(f"run {run_id} not exported: {exc}") from exc
    # The segment ends where the checkpoint does, should the ledger have grown since it was read.
    seqs = [seq for seq in seqs if seq <= checkpoint.tree_size]
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.seq.between(seqs[0], checkpoint.tree_size)).order_by(AuditEvent.seq)).all()
    cut_rows = session.execute(select(Cut.__table__).where(Cut.run_id == run_id)
                               .order_by(Cut.seq)).mappings()
    unit_rows = session.execute(
        select(Unit.id, Unit.code, Unit.name, Category.code.label("category_code"))
        .outerjoin(Category, Unit.category_id == Category.id)
        .where(Unit.scheme_id == run.scheme_id).order_by(Unit.id)).mappings()
    files: dict[str, bytes] = {
        EVENTS: jsonl(_event_row(e) for e in events),
        FIRINGS: b"".join(leaf + b"\n" for leaf in stored_leaves(
            session, Firing.__table__, run_id, "seq", FIRING_FIELDS)),
        SCORE_SHEETS: b"".join(leaf + b"\n" for leaf in stored_leaves(
            session, ScoreSheet.__table__, run_id, "unit_id", SCORE_SHEET_FIELDS)),
        CUTS: jsonl({name: row[name] for name in CUT_FIELDS} for row in cut_rows),
        UNITS: jsonl(dict(row) for row in unit_rows),
        SNAPSHOT: run.snapshot.encode("utf-8"),
        PACK_YAML: pack.yaml_text.encode("utf-8"),
        PACK_JSON: document,
        CHECKPOINT: checkpoint.note.encode("utf-8"),
    }
    head_seq, head_hash = events[-1].seq, events[-1].hash
    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "audit_format": FORMAT,
        **binding,
        "pack": {"name": pack.name, "version": pack.version},
        "chain": {"first_seq": seqs[0], "last_seq": head_seq, "prev_hash": events[0].prev_hash,
                  "run_create_seq": create.seq, "run_event_seqs": seqs},
        "ledger_head": {"seq": head_seq, "hash": head_hash},
        "checkpoint": _anchoring(session, tree),
        "exported_at": (now or dt.datetime.now(dt.UTC)),
        "exported_by": actor,
        "files": {name: file_entry(files[name]) for name in FILES},
    }
    return BundleFiles({MANIFEST: canonical_json(manifest), **files})
