"""A draft pack version's impact: the latest frozen snapshot under the draft and under the current
approved version, every unit whose score, grade or rank would change, side by side.

Nothing is stored but a ``pack.impact`` audit event saying who looked at which comparison:
approving a new version of a scheme's pack requires that the approver has seen it
(``workflows.packs.approve_pack``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from engine import RunResult, ScoreSheet, Snapshot, evaluate
from store import RulePack, Run
from workflows.errors import Conflict, NotFound
from workflows.packs import IMPACT_ACTION, approved_pack_for, engine_pack, get_pack
from workflows.snapshot import find_scheme


@dataclass(frozen=True)
class UnitChange:
    """One unit whose result differs: old (approved pack) and new (draft) side by side."""

    unit: str
    category: str | None
    old_total: Decimal | None
    new_total: Decimal | None
    old_grade: str | None
    new_grade: str | None
    old_rank: int | None
    new_rank: int | None

    @property
    def delta(self) -> Decimal | None:
        if self.old_total is None or self.new_total is None:
            return None
        return self.new_total - self.old_total


@dataclass(frozen=True)
class ImpactReport:
    scheme: str
    period: str
    run_id: int
    snapshot_sha256: str
    draft: str
    draft_sha256: str
    baseline: str | None  # None: the scheme has no approved version yet
    baseline_sha256: str | None
    units: int
    changes: tuple[UnitChange, ...]

    def audit_payload(self) -> dict[str, Any]:
        """What the ledger keeps: enough to tell which comparison the approver saw."""
        return {"scheme": self.scheme, "period": self.period, "run_id": self.run_id,
                "snapshot_sha256": self.snapshot_sha256, "draft": self.draft,
                "draft_sha256": self.draft_sha256, "baseline": self.baseline,
                "baseline_sha256": self.baseline_sha256, "units": self.units,
                "changed_units": [c.unit for c in self.changes]}


def latest_run(session: Session, scheme_id: int, period: str | None) -> Run:
    """The newest current run (complete or sealed) of the scheme, of ``period`` if given."""
    query = select(Run).where(Run.scheme_id == scheme_id, Run.status.in_(("complete", "sealed")))
    if period is not None:
        query = query.where(Run.period == period)
    run = session.scalars(query.order_by(Run.id.desc())).first()
    if run is None:
        where = f" for period {period}" if period else ""
        raise NotFound(f"no run of the scheme{where} to compare on: run it first (`kaohe run`)")
    return run


def compare_sheets(old: RunResult | None, new: RunResult) -> tuple[UnitChange, ...]:
    """Units whose total, grade or rank differ (or that exist on one side only), by unit code."""
    before = {s.unit: s for s in old.sheets} if old is not None else {}
    after = {s.unit: s for s in new.sheets}
    out = []
    for unit in sorted(before.keys() | after.keys()):
        a: ScoreSheet | None = before.get(unit)
        b: ScoreSheet | None = after.get(unit)
        key_a = (a.total, a.grade, a.rank) if a else None
        key_b = (b.total, b.grade, b.rank) if b else None
        if key_a == key_b:
            continue
        either = b or a
        out.append(UnitChange(
            unit, either.category if either is not None else None,
            a.total if a else None, b.total if b else None, a.grade if a else None,
            b.grade if b else None, a.rank if a else None, b.rank if b else None))
    return tuple(out)


def pack_impact(
    session: Session, scheme_ref: str, draft_ref: str, period: str | None = None, *, actor: str
) -> ImpactReport:
    """Evaluate the scheme's latest run's frozen snapshot under the draft and the approved pack.

    No run is stored; the ``pack.impact`` event records that ``actor`` saw this comparison.
    """
    scheme = find_scheme(session, scheme_ref)
    draft = get_pack(session, draft_ref)
    if draft.scheme_code not in (None, scheme.code):
        raise Conflict(f"rule pack {draft_ref} is for scheme {draft.scheme_code}, not {scheme.code}")
    run = latest_run(session, scheme.id, period)
    snapshot = Snapshot.from_json(run.snapshot)
    baseline: RulePack | None
    try:
        baseline = approved_pack_for(session, scheme.code)
    except NotFound:
        baseline = None
    new = evaluate(engine_pack(draft), snapshot)
    old = evaluate(engine_pack(baseline), snapshot) if baseline is not None else None
    report = ImpactReport(
        scheme=scheme.code, period=run.period, run_id=run.id, snapshot_sha256=run.snapshot_sha256,
        draft=f"{draft.name}@{draft.version}", draft_sha256=draft.sha256,
        baseline=f"{baseline.name}@{baseline.version}" if baseline is not None else None,
        baseline_sha256=baseline.sha256 if baseline is not None else None,
        units=len(new.sheets), changes=compare_sheets(old, new),
    )
    audit.record(session, actor=actor, action=IMPACT_ACTION, subject_type="rule_pack",
                 subject_id=draft.id, payload=report.audit_payload())
    return report
