"""Cases from firings: open them, review, approve or reject — one case or hundreds at once.

Every action is a batch: either every named case moves or none does, and a refusal lists each
case's problem. Each transition is one audit event plus one ``case_event`` row in the caller's
transaction. Two people acting on the same case at once: the version column lets exactly one
win; the other gets :class:`Conflict`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

import audit
from store import Case, CaseEvent, Firing
from workflows.cases.duties import (
    Actor,
    involvement_problem,
    member_problem,
    require,
    resolve_actor,
    role_problem,
)
from workflows.cases.machine import CASE
from workflows.errors import BatchRefused, Conflict, DomainError, Invalid, NotFound
from workflows.runs import get_run

CASE_EFFECTS = ("deduction", "veto")
"""Firing effects that open a case: every one, whatever its points (a firing a cap cut to 0 may
count again when an appeal voids another, so the set of cases never depends on points)."""


def utcnow(now: dt.datetime | None = None) -> dt.datetime:
    """``now`` if the caller injects a clock reading (tests, replays), else the current UTC time."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def flush_or_conflict(session: Session, what: str) -> None:
    """Flush; a version that moved since it was read (someone acted first) becomes a Conflict."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(f"{what} was changed by someone else at the same time: reload and try again") from exc


def case_payload(case: Case, **extra: Any) -> dict[str, Any]:
    firing = case.firing
    return {
        "run": case.run_id, "firing_seq": firing.seq, "rule_id": firing.rule_id,
        "unit": case.unit.code, "kind": case.kind, "state": case.state, "version": case.version,
        **{k: v for k, v in extra.items() if v is not None},
    }


def record_case_event(
    session: Session,
    case: Case,
    action: str,
    from_state: str | None,
    *,
    actor: str,
    reason: str | None,
    at: dt.datetime,
    **extra: Any,
) -> None:
    """The audit event and the queryable history row of one transition (same transaction)."""
    event = audit.record(
        session, actor=actor, action=f"case.{action}", subject_type="case", subject_id=case.id,
        payload=case_payload(case, from_state=from_state, reason=reason, **extra),
    )
    session.add(CaseEvent(case_id=case.id, action=action, from_state=from_state, to_state=case.state,
                          actor=actor, reason=reason, at=at, audit_seq=event.seq))


@dataclass(frozen=True)
class Opened:
    run_id: int
    opened: tuple[Case, ...]
    existing: int

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "opened": [c.id for c in self.opened], "existing": self.existing}


def open_cases(session: Session, run_id: int, *, actor: str, now: dt.datetime | None = None) -> Opened:
    """Open a case (proposed, proposer = who made the run) for each deduction and veto firing.

    Idempotent: firings that already have a case are skipped.
    """
    who = resolve_actor(session, actor)
    require(role_problem(who, "case.open"))
    run = get_run(session, run_id)
    if run.status != "complete":
        raise Conflict(f"run {run.id} is {run.status}: cases are opened only on a current run")
    at = utcnow(now)
    have = set(session.scalars(select(Case.firing_id).where(Case.run_id == run.id)))
    firings = session.scalars(
        select(Firing).where(Firing.run_id == run.id, Firing.effect.in_(CASE_EFFECTS))
        .options(joinedload(Firing.unit)).order_by(Firing.seq)
    ).all()
    opened = [
        Case(run_id=run.id, firing=f, unit=f.unit, kind=f.effect, state=CASE.initial,
             proposer=run.created_by, created_at=at, updated_at=at)
        for f in firings if f.id not in have
    ]
    session.add_all(opened)
    session.flush()
    for case in opened:
        record_case_event(session, case, "open", None, actor=actor, reason=None, at=at,
                          points=str(case.firing.points))
    return Opened(run.id, tuple(opened), len(have))


@dataclass(frozen=True)
class Acted:
    action: str
    cases: tuple[Case, ...]

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action,
                "cases": [{"id": c.id, "state": c.state, "version": c.version} for c in self.cases]}


Check = Callable[[Case, Actor], str | None]


def _act(
    session: Session,
    case_ids: Iterable[int],
    action: str,
    actor: str,
    check: Check,
    apply: Callable[[Case], None],
    *,
    reason: str | None,
    now: dt.datetime | None,
    extra: Callable[[Case], dict[str, Any]] = lambda _c: {},
) -> Acted:
    who = resolve_actor(session, actor)
    ids = sorted(set(case_ids))
    if not ids:
        raise Invalid(f"case {action}: no case ids given")
    found = {
        c.id: c
        for c in session.scalars(
            select(Case).where(Case.id.in_(ids)).options(joinedload(Case.firing), joinedload(Case.unit))
        )
    }
    errors: list[tuple[int, DomainError]] = []
    targets: dict[int, str] = {}
    for cid in ids:
        case = found.get(cid)
        try:
            if case is None:
                raise NotFound(f"no case {cid}")
            targets[cid] = CASE.next_state(cid, case.state, action)
            require(role_problem(who, f"case.{action}"))
            require(check(case, who))
        except DomainError as exc:
            errors.append((cid, exc))
    if errors:
        if len(ids) == 1:
            raise errors[0][1]
        raise BatchRefused(f"case {action}", [(cid, str(exc)) for cid, exc in errors])
    at = utcnow(now)
    cases = [found[cid] for cid in ids]
    for case in cases:  # in id order, so concurrent batches lock rows in the same order
        case.state = targets[case.id]
        case.updated_at = at
        apply(case)
    flush_or_conflict(session, f"case {ids[0]}" if len(ids) == 1 else f"one of cases {ids[0]}…{ids[-1]}")
    for case in cases:
        before = CASE_BEFORE[action]
        record_case_event(session, case, action, before, actor=actor, reason=reason, at=at, **extra(case))
    return Acted(action, tuple(cases))


CASE_BEFORE = {action: state for (state, action) in CASE.table if action != "publish"}
"""The one state each review action starts from (publish starts from two, and records its own)."""


def _reason(reason: str | None, needed: bool, what: str) -> str | None:
    text = (reason or "").strip() or None
    if needed and text is None:
        raise Invalid(f"{what} needs a reason")
    return text


def review_cases(
    session: Session,
    case_ids: Sequence[int],
    *,
    actor: str,
    reason: str | None = None,
    adjusted_points: Decimal | None = None,
    now: dt.datetime | None = None,
) -> Acted:
    """An auditor confirms the proposed deductions, or proposes ``adjusted_points`` with a reason.

    An adjustment may only lessen a deduction (between its points and 0); a veto is confirmed or
    rejected by the office, never adjusted.
    """
    text = _reason(reason, adjusted_points is not None, "an adjustment")

    def check(case: Case, who: Actor) -> str | None:
        problem = involvement_problem(who, [("proposer", case.proposer)]) or member_problem(
            who, case.unit_id, case.unit.code
        )
        if problem or adjusted_points is None:
            return problem
        if case.kind != "deduction":
            return f"case {case.id} is a veto: it is confirmed (or rejected by the office), never adjusted"
        if not case.firing.points < adjusted_points <= 0:
            return (f"case {case.id}: an adjustment must lessen the deduction of {case.firing.points}: "
                    f"{adjusted_points} is not above it and at most 0")
        return None

    def apply(case: Case) -> None:
        case.reviewer, case.review_reason, case.adjusted_points = actor, text, adjusted_points

    shown = None if adjusted_points is None else str(adjusted_points)
    return _act(session, case_ids, "review", actor, check, apply, reason=text, now=now,
                extra=lambda _c: {"adjusted_points": shown})


def _decide(session: Session, case_ids: Sequence[int], action: str, actor: str, text: str | None,
            now: dt.datetime | None) -> Acted:
    def check(case: Case, who: Actor) -> str | None:
        return involvement_problem(who, [("proposer", case.proposer), ("reviewer", case.reviewer)]) or (
            member_problem(who, case.unit_id, case.unit.code)
        )

    def apply(case: Case) -> None:
        case.approver, case.decision, case.decision_reason = actor, CASE.table[("reviewed", action)], text

    return _act(session, case_ids, action, actor, check, apply, reason=text, now=now)


def approve_cases(session: Session, case_ids: Sequence[int], *, actor: str, reason: str | None = None,
                  now: dt.datetime | None = None) -> Acted:
    """The office approves reviewed cases (four eyes: neither the proposer nor the reviewer)."""
    return _decide(session, case_ids, "approve", actor, _reason(reason, False, "approval"), now)


def reject_cases(session: Session, case_ids: Sequence[int], *, actor: str, reason: str,
                 now: dt.datetime | None = None) -> Acted:
    """The office rejects reviewed cases: the deduction will be voided when the run is published."""
    return _decide(session, case_ids, "reject", actor, _reason(reason, True, "a rejection"), now)


def list_cases(session: Session, run_id: int, *, state: str | None = None) -> list[Case]:
    get_run(session, run_id)
    query = select(Case).where(Case.run_id == run_id).options(joinedload(Case.firing), joinedload(Case.unit))
    if state is not None:
        query = query.where(Case.state == state)
    return list(session.scalars(query.order_by(Case.id)))


def case_history(session: Session, case_id: int) -> list[CaseEvent]:
    """Every transition of the case and of the cases it continues (earlier runs), oldest first."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    chain = []
    cursor: Case | None = case
    while cursor is not None:
        chain.append(cursor.id)
        cursor = cursor.carried_from
    return list(session.scalars(
        select(CaseEvent).where(CaseEvent.case_id.in_(chain)).order_by(CaseEvent.audit_seq)
    ))
