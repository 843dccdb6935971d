"""Refusing to publish or seal a state the ledger does not prove.

Publication and the seal act on what the tables say: a case's decision, the run's status, its
appeals. A row changed in the database behind the ledger's back (a case set to approved with no
approval event) would otherwise be published or sealed as if decided. So before acting, every
row the decision rests on is compared with the digest the ledger bound for it
(:func:`audit.unproven`), and the first that differs is named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import Appeal, AppealFiring, Case, CaseEvent, Publication, Run
from workflows.errors import Conflict


def require_proven(session: Session, run: Run, doing: str) -> None:
    """Raise :class:`Conflict` naming the first row of ``run``'s decision the ledger does not bind:
    the run row, its cases and their history, its appeals and the firings they cite, its
    publication."""
    cases = list(session.scalars(select(Case.id).where(Case.run_id == run.id)))
    appeals = list(session.scalars(select(Appeal.id).where(Appeal.run_id == run.id)))
    rows: dict[str, list[tuple[Any, ...]]] = {
        "run": [(run.id,)],
        "run_case": [(c,) for c in cases],
        "case_event": [(e,) for e in session.scalars(
            select(CaseEvent.id).where(CaseEvent.case_id.in_(cases)))] if cases else [],
        "appeal": [(a,) for a in appeals],
        "appeal_firing": [tuple(r) for r in session.execute(
            select(AppealFiring.appeal_id, AppealFiring.firing_id)
            .where(AppealFiring.appeal_id.in_(appeals)))] if appeals else [],
        "publication": [(p,) for p in session.scalars(
            select(Publication.id).where(Publication.run_id == run.id))],
    }
    problem = audit.unproven(session, rows)
    if problem is not None:
        raise Conflict(f"run {run.id} cannot be {doing}: {problem.detail}. The ledger does not "
                       "prove this state: run `kaohe audit verify` and restore the row from the "
                       "ledger's events before trying again")
