"""Which runs count as published (公示) and so may be read by anonymous visitors.

Publication belongs to the cases workflow (issue 4). Until its model exists no run is published:
anonymous readers see nothing, and logged-in staff see the latest results marked as a preview.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from store import Run


def published_runs(session: Session) -> list[Run]:
    return []


def is_published(session: Session, run: Run) -> bool:
    return any(r.id == run.id for r in published_runs(session))
