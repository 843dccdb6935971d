"""Which runs count as published (公示) and so may be read by anonymous visitors.

A run is published when the cases workflow recorded a :class:`store.Publication` for it (issue 4);
a publication whose run was superseded gives way to the publication that continues it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Publication, Run


def publications(session: Session) -> list[Publication]:
    """Current publications, newest first (those of superseded runs left out)."""
    rows = session.scalars(
        select(Publication).join(Run, Run.id == Publication.run_id)
        .where(Run.status != "superseded").order_by(Publication.published_at.desc())
    )
    return list(rows)


def published_runs(session: Session) -> list[Run]:
    return [p.run for p in publications(session)]


def is_published(session: Session, run: Run) -> bool:
    return any(r.id == run.id for r in published_runs(session))
