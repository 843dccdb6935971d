"""Uploaded import files: type-checked by name, size-limited, imported from a private temp file.

The body size is capped for every request by ``MAX_CONTENT_LENGTH`` (413); here the file's own
size is checked again and its suffix must be .xlsx or .csv (415). The importer refuses a file
whose content is not what its suffix says.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import abort, current_app
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from web.extensions import db
from web.security.policy import current
from workflows.imports import ImportSummary, import_file

UPLOAD_SUFFIXES = (".xlsx", ".csv")


def import_upload(upload: FileStorage, kind: str | None) -> tuple[str, ImportSummary]:
    """Import ``upload`` into the request's transaction and audit it; (safe file name, summary)."""
    original = upload.filename or ""
    suffix = Path(original).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        abort(415, description=f"only {' and '.join(UPLOAD_SUFFIXES)} files can be imported")
    name = secure_filename(original) or f"upload{suffix}"
    session = db.session()
    with tempfile.TemporaryDirectory(prefix="kaohe-upload-") as tmp:
        path = Path(tmp) / f"{Path(name).stem or 'upload'}{suffix}"
        upload.save(path)
        if path.stat().st_size > current_app.config["MAX_CONTENT_LENGTH"]:
            abort(413)
        # import_file records the accepted file in the audit ledger, in this transaction.
        summary = import_file(session, path, kind, actor=current().username)
    return name, summary
