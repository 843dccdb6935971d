"""Checking the whole ledger: every hash, every link, no gaps, and every run's stored results.

Verification walks the chain in ``seq`` order and stops at the first broken event, because after
a break nothing later can be trusted to mean what it says; the report names that event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from audit.bindings import Bindings, RowProblem, bindings_of, first_row_problem
from audit.chain import GENESIS_HASH, hash_input
from audit.merkle import stored_run
from audit.rows import BINDING_ACTIONS, settle
from engine.values.canonical import canonical_json
from store import AuditEvent

BreakKind = Literal[
    "missing_seq",
    "reordered",
    "broken_link",
    "hash_mismatch",
    "anchor_mismatch",
    "bad_payload",
    "run_missing",
    "run_record_mismatch",
    "run_root_mismatch",
    "row_changed",
    "row_deleted",
    "row_unbound",
    "row_rebound",
]

_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.recorded_at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.subject_type,
    AuditEvent.subject_id,
    AuditEvent.payload,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)

EventRow = Row[int, dt.datetime, str, str, str, str, str, str, str]


@dataclass(frozen=True)
class Break:
    """The first event at which the ledger stops being trustworthy, and why."""

    seq: int
    """For a row's break, the event that bound the row (0 when none ever did)."""
    kind: BreakKind
    detail: str
    run_id: int | None = None
    table: str | None = None
    row: str | None = None
    """A row's break: its table and key (``audit.rows.key_text``)."""


@dataclass(frozen=True)
class VerifyReport:
    events_checked: int
    runs_checked: int
    head_seq: int
    head_hash: str
    """The last verified event: publish or write it down, since only an outside copy of the head
    shows that events were cut off the end of the chain."""
    first_break: Break | None
    rows_checked: int = 0
    """Rows of the covered tables compared with their bindings (``audit.rows``)."""

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _link_break(session: Session, seq: int, prev_hash: str, expected: str) -> Break:
    """Tell a reordering (the event points at one stored after it) from any other broken link."""
    later = session.execute(
        select(AuditEvent.seq).where(AuditEvent.hash == prev_hash, AuditEvent.seq > seq).limit(1)
    ).scalar()
    if later is not None:
        return Break(seq, "reordered", f"event {seq} follows event {later}, which is stored after it")
    return Break(
        seq, "broken_link", f"prev_hash {prev_hash} is not the hash of event {seq - 1} ({expected})"
    )


def _describe(part: Any) -> str:
    if isinstance(part, dict):
        return f"{part.get('count')} rows, Merkle root {part.get('merkle_root')}"
    return "nothing"


def _run_break(session: Session, seq: int, payload: str) -> Break | None:
    """Compare a ``run.create`` payload with what the run's stored rows hash to now."""
    try:
        recorded = json.loads(payload)
        run_id = recorded["run"]["id"]
    except (ValueError, KeyError, TypeError):
        return Break(seq, "bad_payload", "run.create payload has no run id")
    if not isinstance(run_id, int):
        return Break(seq, "bad_payload", "run.create payload has no run id")
    stored = stored_run(session, run_id)
    if stored is None:
        return Break(seq, "run_missing", f"run {run_id} recorded at event {seq} is not stored", run_id)
    binding = stored.as_recorded(recorded)
    for part in ("firings", "score_sheets", "cuts"):
        now, then = binding.get(part), recorded.get(part)
        if now != then:
            return Break(
                seq,
                "run_root_mismatch",
                f"run {run_id}: its stored {part.replace('_', ' ')} ({_describe(now)}) "
                f"differ from those recorded ({_describe(then)})",
                run_id,
            )
    if canonical_json(binding) != canonical_json(recorded):
        return Break(seq, "run_record_mismatch", f"run {run_id}: run row or pack hash changed", run_id)
    if stored.snapshot_text_sha256 != stored.binding["run"]["snapshot_sha256"]:
        return Break(seq, "run_record_mismatch", f"run {run_id}: snapshot text changed", run_id)
    return None


def _event_break(session: Session, row: EventRow, seq: int, prev: str) -> Break | None:
    if row.seq != seq:
        return Break(seq, "missing_seq", f"event {seq} is missing; the next stored event is {row.seq}")
    if row.prev_hash != prev:
        return _link_break(session, seq, row.prev_hash, prev)
    data = hash_input(
        seq=row.seq,
        recorded_at=row.recorded_at,
        actor=row.actor,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        payload=row.payload,
        prev_hash=row.prev_hash,
    )
    if hashlib.sha256(data).hexdigest() != row.hash:
        return Break(seq, "hash_mismatch", f"event {seq} ({row.action}) does not hash to its stored hash")
    return None


def verify(
    session: Session, *, anchors: Mapping[int, str] | None = None, batch_size: int = 5000
) -> VerifyReport:
    """Check the whole chain from event 1, every recorded run, then every bound row; read-only
    but for the session's own unbound writes, which are bound first as its commit would.

    ``anchors`` maps seq → hash for heads recorded outside the database (a printed report, a
    partner's copy): the chain must still reach them with the same hashes, which catches events
    cut off the end or a chain rebuilt from scratch, that no check inside the database can.
    """
    settle(session)
    anchors = dict(anchors or {})
    bindings = Bindings()
    expected_seq, prev_hash, runs = 1, GENESIS_HASH, 0
    while True:
        query = select(*_COLUMNS).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq)
        rows = session.execute(query.limit(batch_size)).all()
        if not rows:
            break
        for row in rows:
            broken = _event_break(session, row, expected_seq, prev_hash)
            if broken is None and anchors.get(row.seq, row.hash) != row.hash:
                broken = Break(row.seq, "anchor_mismatch",
                               f"event {row.seq} hashes to {row.hash}, not the anchored {anchors[row.seq]}")
            is_run = broken is None and row.action == "run.create"
            if is_run:
                broken = _run_break(session, expected_seq, row.payload)
            if broken is None and row.action in BINDING_ACTIONS:
                bad = bindings.add(row.seq, row.payload)
                if bad is not None:
                    broken = Break(row.seq, "bad_payload", f"event {row.seq} ({row.action}): {bad}")
            if broken is not None:
                return VerifyReport(expected_seq - 1, runs, expected_seq - 1, prev_hash, broken)
            expected_seq, prev_hash, runs = expected_seq + 1, row.hash, runs + is_run
    beyond = [seq for seq in anchors if seq >= expected_seq]
    if beyond:
        broken = Break(expected_seq, "missing_seq",
                       f"the chain ends at event {expected_seq - 1} but event {min(beyond)} is anchored")
        return VerifyReport(expected_seq - 1, runs, expected_seq - 1, prev_hash, broken)
    broken, checked = check_rows(session, bindings)
    return VerifyReport(expected_seq - 1, runs, expected_seq - 1, prev_hash, broken, checked)


def check_rows(session: Session, bindings: Bindings | None = None) -> tuple[Break | None, int]:
    """The row check of :func:`verify` (rule 5 of ``docs/audit-format.md`` §7): the first row
    whose binding history or stored state the ledger does not prove, and the rows checked.

    ``verify`` runs it last, with the bindings it replayed along the verified chain. Alone, the
    bindings are read from their events (each event's own hash re-checked, not the chain's links):
    the same comparison for a caller that needs only the rows, without the chain's cost.
    """
    if bindings is None:
        settle(session)
        bindings = bindings_of(session)
    problem, checked = first_row_problem(session, bindings)
    return (None if problem is None else row_break(problem)), checked


def row_break(problem: RowProblem) -> Break:
    """A row that parts from its binding, as the ledger's first break."""
    return Break(problem.seq, problem.kind, problem.detail, table=problem.table, row=problem.row)
