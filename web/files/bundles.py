"""A run's audit export bundle (docs/audit-format.md §5) as zip bytes, for the API and the audit
page to send: made in a private temporary directory, 404 when the run is missing, 409 when its
binding is."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import abort
from sqlalchemy.orm import Session

from audit.export import ExportError, export_run
from engine import pack_document
from web.security.policy import current


def bundle_bytes(session: Session, run_id: int) -> bytes:
    """The run's export bundle as zip bytes (404 when the run or its binding is missing)."""
    try:
        bundle = export_run(session, run_id, pack_document=pack_document, actor=current().username)
    except ExportError as exc:
        abort(404 if "no run" in str(exc) else 409, description=str(exc))
    with tempfile.TemporaryDirectory(prefix="kaohe-bundle-") as tmp:
        path = Path(tmp) / "bundle.zip"
        bundle.write_zip(path)
        return path.read_bytes()
