"""Loading the demo city (江澄市, scheme DEMO-2024) through the importer, as a user's files would be.

The files are made by ``demo/generate.py`` and committed under ``demo/city/``; see demo/README.md.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Scheme
from workflows.imports import ImportSummary, import_file

DEMO_SCHEME_CODE = "DEMO-2024"

# Import order: each file's references resolve against what the earlier ones wrote. The kind is
# named for the CSV files (a workbook's sheets name their kinds).
DEMO_FILES: tuple[tuple[str, str | None], ...] = (
    ("scheme.xlsx", None),
    ("targets.xlsx", None),
    ("progress.csv", "progress"),
    ("events.csv", "events"),
)


def demo_loaded(session: Session) -> bool:
    """Whether the demo scheme is already in the database."""
    found = session.scalar(select(Scheme.id).where(Scheme.code == DEMO_SCHEME_CODE))
    return found is not None


def load_demo(session: Session, directory: Path) -> list[ImportSummary]:
    """Import the demo city's files from ``directory`` in order; flush, never commit.

    Raises ``FileNotFoundError`` if a file is missing and ``ImportRejected`` if the importer
    refuses one (nothing of that file is written; the caller rolls the transaction back).
    """
    paths = [(Path(directory) / name, kind) for name, kind in DEMO_FILES]
    missing = [str(p) for p, _ in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"demo files missing: {', '.join(missing)}")
    return [import_file(session, path, kind, actor="demo:import") for path, kind in paths]
