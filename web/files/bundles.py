"""A run's audit export bundle (docs/audit-format.md §5) sent as a zip file, from the API and from
the audit page alike: made in a private temporary directory, 404 when the run is missing, 409 when
its binding is. The bundle carries a checkpoint signed with the app's key (a new one is stored
when the ledger has grown since the last)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Response, abort, send_file
from sqlalchemy.orm import Session

from audit.checkpoint import bound_signer
from audit.export import ExportError, export_run
from engine import pack_document
from web.security.policy import current


def bundle_bytes(session: Session, run_id: int) -> bytes:
    """The run's export bundle as zip bytes (404 when the run or its binding is missing)."""
    signer = bound_signer(session)
    assert signer is not None, "the app binds its signing key to every session (web.anchoring)"
    try:
        bundle = export_run(session, run_id, pack_document=pack_document, actor=current().username,
                            signer=signer)
    except ExportError as exc:
        abort(404 if "no run" in str(exc) else 409, description=str(exc))
    with tempfile.TemporaryDirectory(prefix="kaohe-bundle-") as tmp:
        path = Path(tmp) / "bundle.zip"
        bundle.write_zip(path)
        return path.read_bytes()


def send_bundle(session: Session, run_id: int) -> Response:
    """The run's bundle as the download ``run-<id>.kaohe.zip``."""
    data = bundle_bytes(session, run_id)
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"run-{run_id}.kaohe.zip")
