"""Appeal evidence uploads: size-limited, type-checked by suffix and content, stored by content hash.

A file is accepted when its suffix is one of :data:`EVIDENCE_TYPES` and its first bytes are what
that type starts with (a PDF that is really an HTML page is refused with 415). It is stored under
``<instance>/evidence/<sha256><suffix>``; the appeal's ``evidence_ref`` names it as
``upload:<sha256><suffix>:<original name>``, so the same file uploaded twice is stored once and a
reader can check the bytes against the name.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, current_app, send_file
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

# suffix → (media type, the bytes such a file starts with)
EVIDENCE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}
PREFIX = "upload:"
_STORED = re.compile(r"^upload:([0-9a-f]{64})(\.[a-z]+):(.*)$", re.S)


@dataclass(frozen=True)
class StoredEvidence:
    path: Path
    media_type: str
    download_name: str


def evidence_dir() -> Path:
    return Path(current_app.instance_path) / "evidence"


def save_evidence(upload: FileStorage) -> str:
    """Check and store ``upload``; the ``evidence_ref`` naming it. 413 too large, 415 wrong type."""
    original = upload.filename or ""
    suffix = Path(original).suffix.lower()
    kind = EVIDENCE_TYPES.get(suffix)
    if kind is None:
        abort(415, description=f"evidence must be one of {', '.join(sorted(EVIDENCE_TYPES))}")
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        abort(413)
    if not data:
        abort(422, description="the evidence file is empty")
    if not data.startswith(kind[1]):
        abort(415, description=f"the file named {suffix} is not a {kind[0]} file")
    digest = hashlib.sha256(data).hexdigest()
    folder = evidence_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest}{suffix}"
    if not target.exists():
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)
    name = (secure_filename(original) or f"evidence{suffix}")[:200]
    return f"{PREFIX}{digest}{suffix}:{name}"


def stored_evidence(ref: str | None) -> StoredEvidence | None:
    """The stored file an ``evidence_ref`` names (None for a plain text reference or a lost file)."""
    found = _STORED.match(ref or "")
    if found is None or found.group(2) not in EVIDENCE_TYPES:
        return None
    path = evidence_dir() / f"{found.group(1)}{found.group(2)}"
    if not path.is_file():
        return None
    return StoredEvidence(path, EVIDENCE_TYPES[found.group(2)][0], found.group(3) or path.name)


def evidence_label(ref: str | None) -> str:
    """What to show for an ``evidence_ref``: the original file name of an upload, else the text."""
    found = _STORED.match(ref or "")
    return found.group(3) if found else (ref or "")


def send_evidence(stored: StoredEvidence) -> Response:
    """A stored evidence file as a download under the name it was uploaded with."""
    return send_file(io.BytesIO(stored.path.read_bytes()), mimetype=stored.media_type, as_attachment=True,
                     download_name=stored.download_name)
