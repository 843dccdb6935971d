"""公示 and the committee's seal.

Publishing needs every case of the run decided. Rejected cases and approved adjustments are not
real until a run says so: they become explicit overrides (``case:<id>``) of a superseding run,
and that run is the one published. The window: results stay public for the scheme's
``publication_days``; appeals are accepted for ``appeal_days`` (never beyond the publication
window), both counted from the moment of publication, half-open — the closing instant itself is
refused. The committee seals a run once its window has ended and no appeal is pending; a sealed
run can never be superseded.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

import audit
from store import Appeal, Case, Firing, Publication, Run
from workflows.cases.duties import require, resolve_actor, role_problem
from workflows.cases.machine import CASE
from workflows.cases.proven import require_proven
from workflows.cases.review import CASE_EFFECTS, flush_or_conflict, record_case_event, utcnow
from workflows.cases.supersede import current_run, override_for, supersede
from workflows.checkpoints import milestone
from workflows.errors import Conflict
from workflows.freeze import in_force_at_publication, seal_year
from workflows.runs import get_run, lock_current

DECIDED = ("approved", "rejected")


def stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Published:
    publication: Publication
    run: Run
    superseded: Run | None

    def as_json(self) -> dict[str, Any]:
        p = self.publication
        return {"run": self.run.id, "superseded": self.superseded.id if self.superseded else None,
                "published_at": stamp(p.published_at), "window_ends_at": stamp(p.window_ends_at),
                "appeals_close_at": stamp(p.appeals_close_at)}


def publish(session: Session, run_id: int, *, actor: str, now: dt.datetime | None = None) -> Published:
    """Publish a run whose cases are all approved or rejected, opening the publication window."""
    who = resolve_actor(session, actor)
    require(role_problem(who, "case.publish"))
    run = get_run(session, run_id)
    require_proven(session, run, "published")
    existing = session.scalars(select(Publication).where(Publication.run_id == run.id)).one_or_none()
    if existing is not None:
        raise Conflict(f"run {run.id} was already published at {stamp(existing.published_at)} "
                       f"by {existing.published_by}")
    if run.status != "complete":
        raise Conflict(f"run {run.id} is {run.status}: publish the current run "
                       f"({current_run(session, run).id})")
    lock_current(session, run)
    at = utcnow(now)
    cases = list(session.scalars(select(Case).where(Case.run_id == run.id)
                                 .options(joinedload(Case.firing).joinedload(Firing.unit)).order_by(Case.id)))
    cased = select(Case.firing_id).where(Case.run_id == run.id)
    uncased = session.scalar(select(Firing.id).where(
        Firing.run_id == run.id, Firing.effect.in_(CASE_EFFECTS), Firing.id.not_in(cased)).limit(1))
    if uncased is not None:
        raise Conflict(f"run {run.id} has deduction or veto firings without a case: open them first "
                       f"(`kaohe case open {run.id}`)")
    pending = [c for c in cases if c.state not in DECIDED]
    if pending:
        states = ", ".join(f"{n} {s}" for s, n in sorted(Counter(c.state for c in pending).items()))
        sample = ", ".join(str(c.id) for c in pending[:10])
        raise Conflict(f"run {run.id} cannot be published: {len(pending)} case(s) not yet approved or "
                       f"rejected ({states}; e.g. case {sample})")
    overrides = [
        override_for(c.firing, "void", None, f"case:{c.id}") if c.decision == "rejected"
        else override_for(c.firing, "adjust", c.adjusted_points, f"case:{c.id}")
        for c in cases if c.decision == "rejected" or c.adjusted_points is not None
    ]
    published, superseded = run, None
    if overrides:
        published, superseded = supersede(session, run, overrides, actor=actor, at=at), run
        cases = list(session.scalars(select(Case).where(Case.run_id == published.id).order_by(Case.id)))
    scheme = run.scheme
    pub = Publication(
        run_id=published.id, published_at=at, published_by=actor,
        window_ends_at=at + dt.timedelta(days=scheme.publication_days),
        appeals_close_at=at + dt.timedelta(days=min(scheme.appeal_days, scheme.publication_days)),
    )
    session.add(pub)
    befores = {}
    for case in cases:
        befores[case.id] = case.state
        case.state = CASE.next_state(case.id, case.state, "publish")
        case.updated_at = at
    try:
        flush_or_conflict(session, f"a case of run {published.id}")
    except IntegrityError as exc:
        raise Conflict(f"run {published.id} was published by someone else at the same time") from exc
    for case in cases:
        record_case_event(session, case, "publish", befores[case.id], actor=actor, reason=None, at=at,
                          decision=case.decision)
    in_force_at_publication(session, published, actor=actor, at=at)
    audit.record(session, actor=actor, action="run.publish", subject_type="run", subject_id=published.id,
                 payload={"cases": len(cases),
                          "overrides": [o.reference for o in overrides],
                          **Published(pub, published, superseded).as_json()})
    milestone(session, reason="publish", actor=actor, run_id=published.id, now=at)  # covers run.publish
    return Published(pub, published, superseded)


def publication_of(session: Session, run: Run) -> Publication:
    pub = session.scalars(select(Publication).where(Publication.run_id == run.id)).one_or_none()
    if pub is None:
        raise Conflict(f"run {run.id} is not published")
    return pub


def appeal_window_problem(run: Run, pub: Publication, at: dt.datetime) -> str | None:
    if pub.published_at <= at < pub.appeals_close_at:
        return None
    return (f"appeals against run {run.id} are accepted from {stamp(pub.published_at)} until "
            f"{stamp(pub.appeals_close_at)} (that instant excluded); it is now {stamp(at)}")


PENDING_APPEALS = ("filed", "under_review")


def pending_appeals(session: Session, run: Run) -> list[int]:
    """Undecided appeals against any run of ``run``'s scheme and period."""
    runs = select(Run.id).where(Run.scheme_id == run.scheme_id, Run.period == run.period)
    return list(session.scalars(select(Appeal.id).where(Appeal.run_id.in_(runs),
                                                        Appeal.state.in_(PENDING_APPEALS)).order_by(Appeal.id)))


def seal(session: Session, run_id: int, *, actor: str, now: dt.datetime | None = None) -> Run:
    """The committee's final approval: the run becomes ``sealed`` and can never be superseded."""
    who = resolve_actor(session, actor)
    require(role_problem(who, "run.seal"))
    run = get_run(session, run_id)
    require_proven(session, run, "sealed")
    if run.status != "complete":
        raise Conflict(f"run {run.id} is {run.status}: only the current run can be sealed"
                       + ("" if run.status == "sealed" else f" ({current_run(session, run).id})"))
    pub = publication_of(session, run)
    at = utcnow(now)
    if at < pub.window_ends_at:
        raise Conflict(f"run {run.id} is published until {stamp(pub.window_ends_at)}; it is now "
                       f"{stamp(at)}: the committee seals after the publication window")
    waiting = pending_appeals(session, run)
    if waiting:
        raise Conflict(f"run {run.id} has undecided appeals: {', '.join(map(str, waiting))}")
    lock_current(session, run)
    done = session.execute(update(Run).where(Run.id == run.id, Run.status == "complete")
                           .values(status="sealed").execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"run {run.id} changed while it was being sealed")
    session.refresh(run)
    pub.sealed_at, pub.sealed_by = at, actor
    session.flush()
    seal_year(session, run, actor=actor, at=at)
    audit.record(session, actor=actor, action="run.seal", subject_type="run", subject_id=run.id,
                 payload={"publication": pub.id, "sealed_at": stamp(at), "run_hash": run.run_hash})
    milestone(session, reason="seal", actor=actor, run_id=run.id, now=at)  # covers run.seal
    return run
