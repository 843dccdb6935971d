"""A unit's points followed past the firing: case history, approvals, publication, appeals.

``workflow_trail`` reads the rows into plain dataclasses; ``render_trail`` only formats them, so
the text can be tested from hand-made data. ``unit_counterfactuals`` re-evaluates the run's frozen
snapshot with single facts changed (``engine.explain.counterfactual``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import Counterfactual, RunResult, Snapshot, counterfactuals, evaluate
from engine.values.decimals import fmt
from engine.values.vocab import GRADE_NAMES_ZH
from store import Appeal, AppealFiring, Case, CaseEvent, Firing, Publication, Run, Unit
from workflows.errors import Conflict
from workflows.packs import engine_pack


@dataclass(frozen=True)
class Step:
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None
    at: dt.datetime
    audit_seq: int


@dataclass(frozen=True)
class AppealStep:
    appeal_id: int
    state: str
    filed_by: str
    grounds: str
    reviewer: str | None
    decision_reason: str | None
    new_points: Decimal | None
    superseding_run_id: int | None


@dataclass(frozen=True)
class FiringTrail:
    seq: int
    rule_id: str
    effect: str
    points: Decimal
    case_id: int | None
    case_state: str | None
    steps: tuple[Step, ...]  # this case's and the cases it continues, oldest first
    appeals: tuple[AppealStep, ...]


@dataclass(frozen=True)
class Trail:
    run_id: int
    unit: str
    published: tuple[dt.datetime, str, dt.datetime] | None  # at, by, appeals close
    sealed: tuple[dt.datetime, str] | None
    superseded_by: int | None
    firings: tuple[FiringTrail, ...]


def workflow_trail(session: Session, run: Run, unit_code: str) -> Trail:
    """The deduction and veto firings of ``unit_code`` in ``run`` with everything done to them."""
    firings = session.execute(
        select(Firing, Case).join(Unit, Firing.unit_id == Unit.id)
        .outerjoin(Case, Case.firing_id == Firing.id)
        .where(Firing.run_id == run.id, Unit.code == unit_code, Firing.effect.in_(("deduction", "veto")))
        .order_by(Firing.seq)
    ).all()
    out: list[FiringTrail] = []
    for firing, case in firings:
        chain: list[int] = []
        cursor: Case | None = case
        while cursor is not None:
            chain.append(cursor.id)
            cursor = cursor.carried_from
        steps = tuple(
            Step(e.action, e.from_state, e.to_state, e.actor, e.reason, e.at, e.audit_seq)
            for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(chain))
                                     .order_by(CaseEvent.audit_seq))
        )
        appeals = tuple(
            AppealStep(a.id, a.state, a.filed_by, a.grounds, a.reviewer, a.decision_reason,
                       cited.new_points, a.superseding_run_id)
            for a, cited in session.execute(
                select(Appeal, AppealFiring).join(AppealFiring, AppealFiring.appeal_id == Appeal.id)
                .where(AppealFiring.firing_id == firing.id).order_by(Appeal.id))
        )
        out.append(FiringTrail(firing.seq, firing.rule_id, firing.effect, firing.points,
                               case.id if case else None, case.state if case else None, steps, appeals))
    pub = session.scalars(select(Publication).where(Publication.run_id == run.id)).one_or_none()
    later = session.scalars(select(Run.id).where(Run.supersedes_id == run.id).order_by(Run.id)).first()
    return Trail(
        run.id, unit_code,
        (pub.published_at, pub.published_by, pub.appeals_close_at) if pub else None,
        (pub.sealed_at, pub.sealed_by or "") if pub and pub.sealed_at else None,
        later, tuple(out),
    )


def _at(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_trail(trail: Trail, lang: str = "zh") -> str:
    """The workflow part of an explanation as terminal text (zh or en)."""
    zh = lang == "zh"
    out = ["[流程]" if zh else "[Workflow]"]
    for f in trail.firings:
        head = f"  #{f.seq} {f.rule_id} {fmt(f.points)}: "
        if f.case_id is None:
            out.append(head + ("尚未立案" if zh else "no case opened"))
            continue
        out.append(head + f"{'案件' if zh else 'case'} {f.case_id} ({f.case_state})")
        for s in f.steps:
            why = f" — {s.reason}" if s.reason else ""
            out.append(f"      {_at(s.at)} {s.actor} {s.action}: {s.from_state or '∅'} → {s.to_state}"
                       f"{why} [audit #{s.audit_seq}]")
        for a in f.appeals:
            decided = f", {a.reviewer}: {a.decision_reason}" if a.decision_reason else ""
            points = ("" if a.new_points is None else
                      f", {'改为' if zh else 'new points'} {fmt(a.new_points)}")
            new_run = (f", {'新考核' if zh else 'superseded by run'} {a.superseding_run_id}"
                       if a.superseding_run_id else "")
            out.append(f"      {'申诉' if zh else 'appeal'} {a.appeal_id} ({a.state}) {a.filed_by}: "
                       f"{a.grounds}{decided}{points}{new_run}")
    if trail.published:
        at, by, close = trail.published
        out.append(f"  {'公示' if zh else 'published'} {_at(at)} {by}; "
                   f"{'申诉截止' if zh else 'appeals until'} {_at(close)}")
    if trail.sealed:
        out.append(f"  {'定案' if zh else 'sealed'} {_at(trail.sealed[0])} {trail.sealed[1]}")
    if trail.superseded_by:
        out.append(f"  {'已被考核' if zh else 'superseded by run'} {trail.superseded_by}")
    return "\n".join(out) + "\n"


def unit_counterfactuals(run: Run, result: RunResult, unit: str, *, limit: int = 10,
                         max_candidates: int = 30) -> tuple[Counterfactual, ...]:
    """``engine.explain.counterfactual`` over the run's own frozen snapshot and pack version."""
    snapshot = Snapshot.from_json(run.snapshot)
    if snapshot.sha256() != run.snapshot_sha256:
        raise Conflict(f"run {run.id}: the stored snapshot no longer hashes to its snapshot_sha256")
    return counterfactuals(engine_pack(run.rule_pack), snapshot, result, unit, evaluate=evaluate,
                           limit=limit, max_candidates=max_candidates)


def render_counterfactuals(found: tuple[Counterfactual, ...], lang: str = "zh") -> str:
    zh = lang == "zh"
    out = ["[反事实：单项事实改变]" if zh else "[Counterfactuals: one fact changed]"]
    if not found:
        out.append("  无单项改变会影响总分、排名或等次" if zh else
                   "  no single change of fact moves the total, rank or grade")
    for c in found:
        text = c.change.text_zh if zh else c.change.text_en
        sign = "+" if c.delta > 0 else ""
        moves = [f"{sign}{fmt(c.delta)}"]
        if c.old_rank != c.new_rank:
            moves.append(f"{'排名' if zh else 'rank'} {c.old_rank} → {c.new_rank}")
        if c.grade_changed:
            names = GRADE_NAMES_ZH if zh else {}
            old, new = (names.get(g or "", g or "—") for g in (c.old_grade, c.new_grade))
            moves.append(f"{old} → {new}")
        out.append(f"  {text}: {', '.join(moves)}")
    return "\n".join(out) + "\n"
