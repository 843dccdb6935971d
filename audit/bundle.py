"""The export bundle's byte format (``kaohe-bundle-1``), shared by the exporter and the verifier.

A bundle is a set of named files (a zip archive, or the same files in a directory) whose
``manifest.json`` lists every other file's size and SHA-256. Everything is canonical JSON (one
object per line in ``.jsonl`` files), so a third party can check a bundle with nothing but
``docs/audit-format.md`` section 5; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.values.canonical import canonical_json

BUNDLE_FORMAT = "kaohe-bundle-2"
"""2: the segment runs to the ledger's head, with a signed checkpoint of it (``checkpoint.txt``)
and the run's events chosen by :func:`about_run`; 1 had neither."""
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
FIRINGS = "firings.jsonl"
SCORE_SHEETS = "score_sheets.jsonl"
CUTS = "cuts.jsonl"
UNITS = "units.jsonl"
SNAPSHOT = "snapshot.json"
PACK_YAML = "pack.yaml"
PACK_JSON = "pack.json"
CHECKPOINT = "checkpoint.txt"
FILES: tuple[str, ...] = (EVENTS, FIRINGS, SCORE_SHEETS, CUTS, UNITS, SNAPSHOT, PACK_YAML, PACK_JSON,
                          CHECKPOINT)
"""Every file a bundle holds besides the manifest, in the order they are written."""

EVENT_FIELDS: tuple[str, ...] = (
    "seq", "recorded_at", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash", "hash",
)
CUT_FIELDS: tuple[str, ...] = (
    "id", "run_id", "seq", "unit_id", "indicator_code", "kind", "source", "firing_seqs", "before",
    "after", "text_zh", "text_en",
)
UNIT_FIELDS: tuple[str, ...] = ("id", "code", "name", "category_code")

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every archive member's timestamp: exporting the same content twice gives the same bytes."""


def _is_run(value: Any, run_id: int) -> bool:
    return type(value) is int and value == run_id


def _names_run_id(value: Any, run_id: int) -> bool:
    if isinstance(value, dict):
        return _is_run(value.get("run_id"), run_id) or any(_names_run_id(v, run_id) for v in value.values())
    if isinstance(value, list):
        return any(_names_run_id(v, run_id) for v in value)
    return False


def about_run(action: str, subject_type: str, subject_id: str, payload: Mapping[str, Any],
              run_id: int) -> bool:
    """Whether an event is about run ``run_id`` (docs/audit-format.md §5.3): its subject is the run;
    it is an event of one of the run's cases or appeals (their payloads name the run as ``run``);
    it made the run that supersedes this one (``run.create`` naming it as ``supersedes_id``,
    ``run.publish`` as ``superseded``); or its payload has a member ``run_id`` equal to the run's
    id at any depth."""
    if (subject_type, subject_id) == ("run", str(run_id)):
        return True
    if subject_type in ("case", "appeal") and _is_run(payload.get("run"), run_id):
        return True
    run = payload.get("run")
    if action == "run.create" and isinstance(run, dict) and _is_run(run.get("supersedes_id"), run_id):
        return True
    if action == "run.publish" and _is_run(payload.get("superseded"), run_id):
        return True
    return _names_run_id(payload, run_id)


def jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Canonical JSON per row, each followed by one LF (canonical JSON never holds a raw LF)."""
    return b"".join(canonical_json(dict(row)) + b"\n" for row in rows)


def jsonl_lines(data: bytes) -> list[bytes]:
    """The lines of a ``.jsonl`` file without their LF; a file not ending in LF keeps its tail."""
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def file_entry(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def parse_time(text: str) -> dt.datetime:
    """``recorded_at`` as the chain hashes it (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) back to a time."""
    if len(text) != 27 or not text.endswith("Z"):
        raise ValueError(f"recorded_at {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return dt.datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)


def engine_firing(leaf: Mapping[str, Any], unit_code: Mapping[int, str]) -> dict[str, Any]:
    """A firing leaf in the engine's plain form, which the run hash is taken over."""
    rest = {k: v for k, v in leaf.items()
            if k not in ("id", "run_id", "unit_id", "indicator_code", "matched_facts")}
    return {**rest, "unit": unit_code[leaf["unit_id"]], "indicator": leaf["indicator_code"],
            "matched": leaf["matched_facts"]}


def engine_sheet(leaf: Mapping[str, Any], unit_code: Mapping[int, str]) -> dict[str, Any]:
    """A score-sheet leaf in the engine's plain form (an empty category code is no category)."""
    rest = {k: v for k, v in leaf.items() if k not in ("id", "run_id", "unit_id", "category_code")}
    return {**rest, "unit": unit_code[leaf["unit_id"]], "category": leaf["category_code"] or None}


def engine_cut(row: Mapping[str, Any], unit_code: Mapping[int, str]) -> dict[str, Any]:
    """A cut row in the engine's plain form (cuts are not in the run hash; replay compares them)."""
    rest = {k: v for k, v in row.items()
            if k not in ("id", "run_id", "seq", "unit_id", "indicator_code", "firing_seqs")}
    return {**rest, "unit": unit_code[row["unit_id"]], "indicator": row["indicator_code"],
            "seqs": row["firing_seqs"]}


def plain_run_hash(firings: Sequence[Mapping[str, Any]], sheets: Sequence[Mapping[str, Any]]) -> str:
    """The run hash over engine-plain firings (by seq) and sheets (by unit code): the engine's bytes."""
    ordered_f = sorted(firings, key=lambda f: f["seq"])
    ordered_s = sorted(sheets, key=lambda s: s["unit"])
    return hashlib.sha256(canonical_json({"firings": ordered_f, "sheets": ordered_s})).hexdigest()


@dataclass(frozen=True)
class BundleFiles:
    """A bundle's files by name, as bytes; what is written and what is read back."""

    files: Mapping[str, bytes]

    def write_zip(self, path: Path) -> None:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in (MANIFEST, *FILES):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, self.files[name])

    def write_dir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (path / name).write_bytes(data)

    @classmethod
    def read(cls, path: Path) -> BundleFiles:
        """Read a bundle zip or directory; raises ``ValueError`` if it is neither."""
        if path.is_dir():
            return cls({p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()})
        try:
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
                names = [i.filename for i in archive.infolist() if not i.is_dir()]
                if len(set(names)) != len(names):
                    raise ValueError(f"{path}: the archive names a file twice")
                return cls({name: archive.read(name) for name in names})
        except (zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"{path} is neither a bundle directory nor a zip archive: {exc}") from exc


def loads_object(data: bytes, what: str) -> dict[str, Any]:
    """One canonical JSON object, or ``ValueError`` naming ``what`` is wrong with it."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    try:
        canonical = canonical_json(value)
    except (TypeError, ValueError) as exc:  # a binary float, say: no canonical form
        raise ValueError(f"{what} is not canonical JSON: {exc}") from exc
    if canonical != data:
        raise ValueError(f"{what} is not in canonical form")
    return value
