"""A rule pack's canonical document: the exact bytes its ``sha256`` is taken over.

An export bundle carries these bytes (``pack.json``) beside the YAML, so that a verifier can check
a pack's hash with nothing but SHA-256, without Kaohe's YAML reading.
"""

from __future__ import annotations

from engine.pack.load import _numbers_as_decimals
from engine.pack.source import load_with_marks
from engine.values.canonical import canonical_json


def pack_document(text: str, filename: str) -> bytes:
    """Canonical JSON of the parsed pack, numbers as decimals: what ``load_pack`` hashes."""
    data, issues = load_with_marks(text, filename)
    issues.raise_if_any()
    return canonical_json(_numbers_as_decimals(data))
