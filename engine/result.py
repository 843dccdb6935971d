"""What a run produces: firings, score sheets, cuts, why-nots, and the run hash over them.

All plain frozen dataclasses with Decimals, so ``canonical_json`` gives the one byte form that is
stored, hashed and compared in replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.values.canonical import canonical_json, dumps, to_plain


@dataclass(frozen=True, slots=True)
class MatchedFact:
    """A fact a firing matched: its id, type and the field values the rule could read."""

    id: str
    type: str
    values: Mapping[str, str | Decimal | bool]


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule applied to one fact (or one explicit gap).

    ``effect`` is the rule kind (score, veto, deduction, bonus, warning, flag) or ``gap``;
    ``detail`` holds the effect's specifics (method, consequence, notice, flag, share …);
    ``status`` is ``applied``, ``voided`` or ``adjusted`` (by an appeal override: ``override``).
    """

    seq: int
    rule_id: str
    rule_version: int
    pack_sha256: str
    unit: str
    indicator: str | None
    period: str
    effect: str
    bucket: str | None
    matched: tuple[MatchedFact, ...]
    raw_points: Decimal
    points: Decimal
    text_zh: str
    text_en: str
    detail: Mapping[str, str]
    status: str = "applied"
    override: str | None = None

    @property
    def fact_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.matched)


@dataclass(frozen=True)
class Cut:
    """Points taken off by a cap, a floor, a reset or an override, or a verified value below the
    claim: ``before`` → ``after`` for the firings listed (by seq)."""

    unit: str
    indicator: str | None
    kind: str  # bucket_cap | rule_cap | floor | reset | override | verification
    source: str  # the bucket code, rule id or fact id responsible
    seqs: tuple[int, ...]
    before: Decimal
    after: Decimal
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class WhyNot:
    """A rule that was evaluated for a unit and did not change its score, and why."""

    unit: str
    rule_id: str
    indicator: str | None
    reason: str  # no_match | displaced | deduped | no_document | timing | already_credited | ...
    fact_ids: tuple[str, ...]
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class SectionScore:
    code: str
    weight: Decimal
    full: Decimal  # the points the section is scored out of
    earned: Decimal  # sum of its indicators' scores
    score: Decimal  # weight × earned / full (0 if zeroed by a veto)
    indicators: tuple[str, ...]
    zeroed_by: str | None = None


@dataclass(frozen=True)
class VetoNote:
    rule_id: str
    consequence: str
    grade: str | None
    section: str | None
    fact_ids: tuple[str, ...]
    seq: int


@dataclass(frozen=True)
class ScoreSheet:
    unit: str
    category: str | None
    sections: tuple[SectionScore, ...]
    bonus: Decimal
    deduction: Decimal
    vetoes: tuple[VetoNote, ...]
    total: Decimal
    rank: int | None
    grade: str | None
    flags: tuple[str, ...]
    grade_notes: tuple[str, ...] = ()
    credited_events: tuple[str, ...] = ()  # honours credited this run (for next year's carry-over)


@dataclass(frozen=True)
class RunResult:
    scheme_code: str
    period: str
    pack_name: str
    pack_version: int
    pack_sha256: str
    snapshot_sha256: str
    firings: tuple[Firing, ...]
    sheets: tuple[ScoreSheet, ...]
    cuts: tuple[Cut, ...]
    why_not: tuple[WhyNot, ...]
    run_hash: str

    def sheet(self, unit: str) -> ScoreSheet | None:
        return next((s for s in self.sheets if s.unit == unit), None)

    def canonical_bytes(self) -> bytes:
        return canonical_json(self)


def run_hash(
    firings: tuple[Firing, ...], sheets: tuple[ScoreSheet, ...], firing_parts: Iterable[bytes] | None = None
) -> str:
    """sha256 of the canonical firings and score sheets: equal inputs give equal hashes.

    The bytes are ``canonical_json({"firings": firings, "sheets": sheets})``, hashed as they are
    made, a few thousand items at a time: a province run's canonical form is hundreds of MB.
    ``firing_parts``: the firings' :func:`canonical_parts`, made elsewhere (in part by a second
    process)."""
    return hash_of_parts(canonical_parts(firings) if firing_parts is None else firing_parts, sheets)


def hash_of_parts(firing_parts: Iterable[bytes], sheets: Sequence[ScoreSheet]) -> str:
    """:func:`run_hash` from the firings' canonical parts (each a non-empty run of consecutive
    firings' canonical JSON, without brackets, as :func:`canonical_parts` gives), in seq order."""
    digest = hashlib.sha256()
    digest.update(b'{"firings":[')
    _update(digest, firing_parts)
    digest.update(b'],"sheets":[')
    _update(digest, canonical_parts(sheets))
    digest.update(b"]}")
    return digest.hexdigest()


_HASH_CHUNK = 5_000


def _update(digest: Any, parts: Iterable[bytes]) -> None:
    for n, part in enumerate(parts):
        if n:
            digest.update(b",")
        digest.update(part)


def canonical_parts(items: Sequence[Any]) -> Iterator[bytes]:
    """The canonical JSON of ``items`` without its brackets, a chunk at a time: joined by commas,
    the parts of consecutive slices are the bytes of the whole."""
    shared: dict[int, tuple[MatchedFact, dict[str, Any]]] = {}
    for start in range(0, len(items), _HASH_CHUNK):
        chunk = items[start : start + _HASH_CHUNK]
        if all(type(item) is Firing for item in chunk):
            yield dumps([plain_firing(f, shared) for f in chunk])[1:-1]
            if len(shared) > _HASH_CHUNK:
                shared.clear()
        else:
            yield canonical_json(chunk)[1:-1]


def plain_firing(f: Firing, shared: dict[int, tuple[MatchedFact, dict[str, Any]]]) -> dict[str, Any]:
    """``to_plain(f)``, field by field, each matched fact's plain form made once (rules share
    facts; ``shared`` maps ``id(fact)`` to the fact, kept alive, and its plain form)."""
    matched = []
    for m in f.matched:
        known = shared.get(id(m))
        if known is None:
            known = shared[id(m)] = (m, {"id": m.id, "type": m.type, "values": to_plain(m.values)})
        matched.append(known[1])
    return {
        "seq": f.seq,
        "rule_id": f.rule_id,
        "rule_version": f.rule_version,
        "pack_sha256": f.pack_sha256,
        "unit": f.unit,
        "indicator": f.indicator,
        "period": f.period,
        "effect": f.effect,
        "bucket": f.bucket,
        "matched": matched,
        "raw_points": to_plain(f.raw_points),
        "points": to_plain(f.points),
        "text_zh": f.text_zh,
        "text_en": f.text_en,
        "detail": to_plain(f.detail),
        "status": f.status,
        "override": f.override,
    }
