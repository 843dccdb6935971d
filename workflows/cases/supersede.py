"""A changed outcome never edits a run: a new run is computed with the decision as an explicit
override, supersedes the current one, and continues its cases and publication.

The new run carries every override of the run it supersedes plus the new ones, so decisions
accumulate. Its deduction and veto firings must be the same firings (by rule, unit, indicator
and matched facts) as the old run's: if the facts changed in between, the new run would mix the
decision with unrelated changes, and it is refused.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import FiringOverride, Snapshot
from store import Case, Firing, Publication, Run
from workflows.cases.review import CASE_EFFECTS, record_case_event
from workflows.errors import Conflict
from workflows.runs import create_run

FiringKey = tuple[str, int, str | None, tuple[str, ...]]


def firing_key(f: Firing) -> FiringKey:
    """What identifies a firing across runs of the same facts (the engine's override match)."""
    return (f.rule_id, f.unit_id, f.indicator_code, tuple(sorted(m["id"] for m in f.matched_facts)))


def override_for(f: Firing, action: str, points: Decimal | None, reference: str) -> FiringOverride:
    """The engine input that voids (``void``) or re-points (``adjust``) firing ``f`` in a new run."""
    return FiringOverride(
        rule_id=f.rule_id, unit=f.unit.code, indicator=f.indicator_code,
        fact_ids=tuple(m["id"] for m in f.matched_facts), action=action, points=points,
        reference=reference,
    )


def current_run(session: Session, run: Run) -> Run:
    """The run of record for ``run``'s scheme and period (``run`` itself unless superseded)."""
    current = session.scalars(
        select(Run).where(Run.scheme_id == run.scheme_id, Run.period == run.period,
                          Run.status.in_(("complete", "sealed"))).order_by(Run.id.desc())
    ).first()
    if current is None:
        raise Conflict(f"run {run.id}: no current run of {run.scheme.code} {run.period}")
    return current


def _by_key(firings: Sequence[Firing]) -> dict[FiringKey, list[Firing]]:
    out: dict[FiringKey, list[Firing]] = defaultdict(list)
    for f in sorted(firings, key=lambda f: f.seq):
        out[firing_key(f)].append(f)
    return out


def _case_firings(session: Session, run_id: int) -> list[Firing]:
    query = select(Firing).where(Firing.run_id == run_id, Firing.effect.in_(CASE_EFFECTS))
    return list(session.scalars(query))


def supersede(
    session: Session, run: Run, overrides: Sequence[FiringOverride], *, actor: str, at: dt.datetime
) -> Run:
    """Run ``run``'s scheme and period again under its own pack with ``overrides`` added."""
    if run.status != "complete":
        raise Conflict(f"run {run.id} is {run.status}: only the current, unsealed run can be superseded")
    frozen = Snapshot.from_json(run.snapshot)
    pack = run.rule_pack
    outcome = create_run(session, run.scheme.code, run.period, actor=actor,
                         pack_ref=f"{pack.name}@{pack.version}",
                         overrides=(*frozen.overrides, *overrides), frozen=frozen)
    new = outcome.run
    if outcome.superseded is None or outcome.superseded.id != run.id:
        raise Conflict(f"run {run.id} is not the current run of {run.scheme.code} {run.period}")
    old_firings = _by_key(_case_firings(session, run.id))
    new_firings = _by_key(_case_firings(session, new.id))
    if {k: len(v) for k, v in old_firings.items()} != {k: len(v) for k, v in new_firings.items()}:
        raise Conflict(
            f"the facts of {run.scheme.code} {run.period} changed since run {run.id} was made: "
            "a superseding run would change more than the decision; run the period again and take "
            "its cases through review instead"
        )
    _carry_cases(session, run, new, old_firings, new_firings, actor=actor, at=at)
    _carry_publication(session, run, new)
    return new


def _carry_cases(
    session: Session,
    old: Run,
    new: Run,
    old_firings: dict[FiringKey, list[Firing]],
    new_firings: dict[FiringKey, list[Firing]],
    *,
    actor: str,
    at: dt.datetime,
) -> None:
    """Each case continues on the new run's same firing, in the same state, linked to the old."""
    match = {o.id: n for key, olds in old_firings.items()
             for o, n in zip(olds, new_firings[key], strict=True)}
    carried = []
    for case in session.scalars(select(Case).where(Case.run_id == old.id).order_by(Case.id)):
        firing = match[case.firing_id]
        carried.append(Case(
            run_id=new.id, firing=firing, unit_id=case.unit_id, kind=case.kind, state=case.state,
            proposer=case.proposer, reviewer=case.reviewer, approver=case.approver,
            review_reason=case.review_reason, adjusted_points=case.adjusted_points,
            decision=case.decision, decision_reason=case.decision_reason, carried_from_id=case.id,
            created_at=at, updated_at=at,
        ))
    session.add_all(carried)
    session.flush()
    for case in carried:
        record_case_event(session, case, "carry", None, actor=actor,
                          reason=f"run {new.id} supersedes run {old.id}", at=at,
                          carried_from=case.carried_from_id, firing_status=case.firing.status)


def _carry_publication(session: Session, old: Run, new: Run) -> None:
    """A published run's successor stays published in the same window (appeals never extend it)."""
    pub = session.scalars(select(Publication).where(Publication.run_id == old.id)).one_or_none()
    if pub is not None:
        session.add(Publication(
            run_id=new.id, published_at=pub.published_at, published_by=pub.published_by,
            window_ends_at=pub.window_ends_at, appeals_close_at=pub.appeals_close_at, continues_id=pub.id,
        ))
        session.flush()
