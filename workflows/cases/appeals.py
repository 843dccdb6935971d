"""申诉: a unit contests firings of a published run inside the appeal window; a reviewer who took
no part in the cases decides. A changed outcome (overturned → the firing is voided, adjusted →
new points) is an explicit override ``appeal:<id>`` of a new run that supersedes the current one;
both stay readable. Upheld changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

import audit
from store import Appeal, AppealFiring, Case, Firing, Run, Unit
from workflows.cases.duties import (
    Actor,
    involvement_problem,
    member_problem,
    require,
    resolve_actor,
    role_problem,
)
from workflows.cases.machine import APPEAL, OUTCOME_ACTIONS
from workflows.cases.publication import (
    PENDING_APPEALS,
    appeal_window_problem,
    publication_of,
    stamp,
)
from workflows.cases.review import CASE_EFFECTS, flush_or_conflict, utcnow
from workflows.cases.supersede import current_run, firing_key, override_for, supersede
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.runs import get_run, lock_current


def appeal_payload(appeal: Appeal, **extra: Any) -> dict[str, Any]:
    return {"run": appeal.run_id, "unit": appeal.unit.code, "state": appeal.state,
            "version": appeal.version, "firing_seqs": sorted(af.firing.seq for af in appeal.firings),
            **{k: v for k, v in extra.items() if v is not None}}


def _record(session: Session, appeal: Appeal, action: str, from_state: str | None, actor: str,
            **extra: Any) -> None:
    audit.record(session, actor=actor, action=f"appeal.{action}", subject_type="appeal", subject_id=appeal.id,
                 payload=appeal_payload(appeal, from_state=from_state, **extra))


def file_appeal(
    session: Session,
    run_id: int,
    unit_code: str,
    firing_seqs: Sequence[int],
    *,
    grounds: str,
    actor: str,
    evidence_ref: str | None = None,
    now: dt.datetime | None = None,
) -> Appeal:
    """A unit appeals deduction or veto firings of a published run, inside the appeal window."""
    who = resolve_actor(session, actor)
    run = get_run(session, run_id)
    if run.status != "complete":
        hint = "" if run.status == "sealed" else f"; appeal against run {current_run(session, run).id}"
        raise Conflict(f"run {run.id} is {run.status}{hint}")
    pub = publication_of(session, run)
    at = utcnow(now)
    problem = appeal_window_problem(run, pub, at)
    if problem is not None:
        raise Conflict(problem)
    unit = session.scalars(
        select(Unit).where(Unit.scheme_id == run.scheme_id, Unit.code == unit_code)
    ).one_or_none()
    if unit is None:
        raise NotFound(f"scheme {run.scheme.code} has no unit {unit_code!r}")
    if who.has_account and unit.id not in who.unit_ids and "office" not in who.roles:
        raise Forbidden(f"{who.name} may appeal only for their own units, not {unit.code}")
    text = grounds.strip()
    if not text:
        raise Invalid("an appeal needs its grounds")
    seqs = sorted(set(firing_seqs))
    if not seqs:
        raise Invalid("an appeal cites at least one firing")
    cited = select(Firing).where(Firing.run_id == run.id, Firing.seq.in_(seqs))
    firings = {f.seq: f for f in session.scalars(cited)}
    for seq in seqs:
        f = firings.get(seq)
        if f is None:
            raise NotFound(f"run {run.id} has no firing {seq}")
        if f.unit_id != unit.id:
            raise Invalid(f"firing {seq} of run {run.id} is not about {unit.code}")
        if f.effect not in CASE_EFFECTS:
            raise Invalid(f"firing {seq} of run {run.id} is a {f.effect}, not a deduction or veto")
        if f.status != "applied":
            raise Conflict(f"firing {seq} of run {run.id} was already decided ({f.status} by {f.override})")
    busy = _pending_on(session, run, [firing_key(f) for f in firings.values()])
    if busy:
        raise Conflict(f"an undecided appeal already cites these firings: appeal {', '.join(map(str, busy))}")
    appeal = Appeal(run_id=run.id, unit=unit, state=APPEAL.initial, filed_by=actor, filed_at=at,
                    grounds=text, evidence_ref=(evidence_ref or "").strip() or None,
                    firings=[AppealFiring(firing=firings[s]) for s in seqs])
    session.add(appeal)
    session.flush()
    _record(session, appeal, "file", None, actor, grounds=text, evidence_ref=appeal.evidence_ref,
            appeals_close_at=stamp(pub.appeals_close_at))
    return appeal


def _pending_on(session: Session, run: Run, keys: Sequence[tuple[Any, ...]]) -> list[int]:
    runs = select(Run.id).where(Run.scheme_id == run.scheme_id, Run.period == run.period)
    rows = session.execute(
        select(Appeal.id, Firing).join(AppealFiring, AppealFiring.appeal_id == Appeal.id)
        .join(Firing, Firing.id == AppealFiring.firing_id)
        .where(Appeal.run_id.in_(runs), Appeal.state.in_(PENDING_APPEALS))
    ).all()
    wanted = set(keys)
    return sorted({aid for aid, f in rows if firing_key(f) in wanted})


def get_appeal(session: Session, appeal_id: int) -> Appeal:
    appeal = session.scalars(
        select(Appeal).where(Appeal.id == appeal_id)
        .options(joinedload(Appeal.firings).joinedload(AppealFiring.firing), joinedload(Appeal.unit))
    ).unique().one_or_none()
    if appeal is None:
        raise NotFound(f"no appeal {appeal_id}")
    return appeal


def _participants(session: Session, appeal: Appeal) -> list[tuple[str, str | None]]:
    """Everyone who took part in the cases of the cited firings (through every earlier run)."""
    out: list[tuple[str, str | None]] = [("appellant", appeal.filed_by)]
    for af in appeal.firings:
        cursor = session.scalars(select(Case).where(Case.run_id == appeal.run_id,
                                                    Case.firing_id == af.firing_id)).one_or_none()
        while cursor is not None:
            out += [(f"proposer of case {cursor.id}", cursor.proposer),
                    (f"reviewer of case {cursor.id}", cursor.reviewer),
                    (f"approver of case {cursor.id}", cursor.approver)]
            cursor = cursor.carried_from
    return out


def _guard(session: Session, appeal: Appeal, who: Actor, action: str) -> None:
    require(role_problem(who, f"appeal.{action}"))
    require(involvement_problem(who, _participants(session, appeal)))
    require(member_problem(who, appeal.unit_id, appeal.unit.code))


def take_appeal(session: Session, appeal_id: int, *, actor: str, now: dt.datetime | None = None) -> Appeal:
    """A reviewer not involved in the cases takes the appeal (filed → under_review)."""
    who = resolve_actor(session, actor)
    appeal = get_appeal(session, appeal_id)
    before = appeal.state
    target = APPEAL.next_state(appeal.id, appeal.state, "take")
    _guard(session, appeal, who, "take")
    appeal.state, appeal.reviewer = target, actor
    flush_or_conflict(session, f"appeal {appeal.id}")
    _record(session, appeal, "take", before, actor, at=stamp(utcnow(now)))
    return appeal


@dataclass(frozen=True)
class Decided:
    appeal: Appeal
    superseding: Run | None

    def as_json(self) -> dict[str, Any]:
        return {"appeal": self.appeal.id, "state": self.appeal.state,
                "superseding_run": self.superseding.id if self.superseding else None}


def decide_appeal(
    session: Session,
    appeal_id: int,
    outcome: str,
    *,
    actor: str,
    reason: str,
    points: Mapping[int, Decimal] | None = None,
    now: dt.datetime | None = None,
) -> Decided:
    """Decide upheld, overturned or adjusted (``points``: new points by cited firing seq).

    A filed appeal is taken by the deciding reviewer first (its own transition); an appeal under
    review is decided only by who took it.
    """
    if outcome not in OUTCOME_ACTIONS:
        raise Invalid(f"an appeal is decided {', '.join(OUTCOME_ACTIONS)}, not {outcome!r}")
    action = OUTCOME_ACTIONS[outcome]
    text = reason.strip()
    if not text:
        raise Invalid("an appeal decision needs its reasons")
    who = resolve_actor(session, actor)
    appeal = get_appeal(session, appeal_id)
    if appeal.state == "filed":
        take_appeal(session, appeal_id, actor=actor, now=now)
    elif appeal.state == "under_review" and appeal.reviewer != actor:
        raise Forbidden(f"appeal {appeal.id} is under review by {appeal.reviewer}: only they decide it")
    before = appeal.state
    target = APPEAL.next_state(appeal.id, appeal.state, action)
    _guard(session, appeal, who, action)
    new_points = _check_points(appeal, outcome, points or {})
    at = utcnow(now)
    appeal.state, appeal.decided_at, appeal.decision_reason = target, at, text
    for af in appeal.firings:
        af.new_points = new_points.get(af.firing.seq)
    flush_or_conflict(session, f"appeal {appeal.id}")
    current = None
    if outcome != "upheld":
        current = current_run(session, appeal.run)
        publication_of(session, current)
        # Before the audit chain's lock: a run superseding it meanwhile holds this run's row until
        # its end, when it takes the chain's lock in turn.
        lock_current(session, current)
    _record(session, appeal, action, before, actor, reason=text,
            new_points={str(k): str(v) for k, v in sorted(new_points.items())} or None)
    superseding = None
    if current is not None:
        overrides = [
            override_for(af.firing, "void" if outcome == "overturned" else "adjust", af.new_points,
                         f"appeal:{appeal.id}")
            for af in appeal.firings
        ]
        superseding = supersede(session, current, overrides, actor=actor, at=at)
        appeal.superseding_run_id = superseding.id
        flush_or_conflict(session, f"appeal {appeal.id}")
    return Decided(appeal, superseding)


def _check_points(appeal: Appeal, outcome: str, points: Mapping[int, Decimal]) -> dict[int, Decimal]:
    cited = {af.firing.seq: af.firing for af in appeal.firings}
    if outcome != "adjusted":
        if points:
            raise Invalid(f"an appeal decided {outcome} takes no new points")
        return {}
    if set(points) != set(cited):
        raise Invalid(f"an adjusted appeal gives new points for each cited firing: {sorted(cited)}")
    for seq, value in points.items():
        f = cited[seq]
        if f.effect != "deduction":
            raise Invalid(f"firing {seq} is a {f.effect}: it is upheld or overturned, never adjusted")
        if not f.points < value < 0:
            raise Invalid(f"firing {seq}: adjusted points must lessen the deduction of {f.points} "
                          f"without voiding it (above {f.points}, below 0); {value} is not")
    return dict(points)
