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

from audit.bundle import (
    BUNDLE_FORMAT,
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
    file_entry,
    jsonl,
)
from audit.chain import FORMAT, format_time, head
from audit.merkle import FIRING_FIELDS, SCORE_SHEET_FIELDS, stored_leaves, stored_run
from engine.values.canonical import canonical_json
from store import AuditEvent, Category, Cut, Firing, RulePack, Run, ScoreSheet, Unit

PackDocument = Callable[[str, str], bytes]
"""Pack YAML text and a file name → the canonical JSON document its ``sha256`` is taken over."""


class ExportError(Exception):
    """The run cannot be exported as it stands (missing, or not bound into the ledger)."""


def _mentions_run(payload: str, run_id: int) -> bool:
    """Whether a payload names the run: a ``run_id`` member at any depth equal to its id."""
    def walk(value: Any) -> bool:
        if isinstance(value, dict):
            return value.get("run_id") == run_id or any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return walk(json.loads(payload))


def run_event_seqs(session: Session, run_id: int) -> list[int]:
    """The events about the run: subject ``run``/id, or a payload naming it by ``run_id``.

    The SQL ``LIKE`` only narrows the scan (canonical JSON writes ``"run_id":12`` followed by ``,``
    or ``}``); each candidate's payload is then read to confirm it.
    """
    about = or_(
        and_(AuditEvent.subject_type == "run", AuditEvent.subject_id == str(run_id)),
        AuditEvent.payload.like(f'%"run_id":{run_id},%'),
        AuditEvent.payload.like(f'%"run_id":{run_id}}}%'),
    )
    rows = session.execute(select(AuditEvent.seq, AuditEvent.subject_type, AuditEvent.subject_id,
                                  AuditEvent.payload).where(about).order_by(AuditEvent.seq))
    return [seq for seq, kind, ident, payload in rows
            if (kind, ident) == ("run", str(run_id)) or _mentions_run(payload, run_id)]


def _event_row(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "recorded_at": format_time(e.recorded_at), "actor": e.actor,
            "action": e.action, "subject_type": e.subject_type, "subject_id": e.subject_id,
            "payload": e.payload, "prev_hash": e.prev_hash, "hash": e.hash}


def export_run(
    session: Session, run_id: int, *, pack_document: PackDocument, actor: str,
    now: dt.datetime | None = None,
) -> BundleFiles:
    """Build run ``run_id``'s bundle from the stored rows; read-only.

    The run must verify as stored (its rows hash to what ``run.create`` recorded): a bundle of
    rows that no longer match the ledger would only fail elsewhere, later, with less to go on.
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
    events = session.scalars(select(AuditEvent).where(AuditEvent.seq.between(seqs[0], seqs[-1]))
                             .order_by(AuditEvent.seq)).all()
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
    }
    head_seq, head_hash = head(session)
    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "audit_format": FORMAT,
        **binding,
        "pack": {"name": pack.name, "version": pack.version},
        "chain": {"first_seq": seqs[0], "last_seq": seqs[-1], "prev_hash": events[0].prev_hash,
                  "run_create_seq": create.seq, "run_event_seqs": seqs},
        "ledger_head": {"seq": head_seq, "hash": head_hash},
        "exported_at": (now or dt.datetime.now(dt.UTC)),
        "exported_by": actor,
        "files": {name: file_entry(files[name]) for name in FILES},
    }
    return BundleFiles({MANIFEST: canonical_json(manifest), **files})
