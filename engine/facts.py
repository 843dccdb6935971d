"""The frozen input of a run: every fact the rules may read, as plain immutable dataclasses.

A :class:`Snapshot` is built by ``workflows`` from the database, stored as canonical JSON with the
run, and can be rebuilt from that JSON alone — that is what makes replay possible. Collections are
tuples sorted by their natural key, so the order facts were loaded in never shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.values.canonical import dumps, sha256_hex, to_plain


@dataclass(frozen=True, slots=True)
class SectionFact:
    code: str
    name_zh: str
    name_en: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class CategoryFact:
    code: str
    name_zh: str
    name_en: str
    sections: tuple[SectionFact, ...]
    grade_rules: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # attributes rules may test, e.g. grain_producing (sorted)


@dataclass(frozen=True, slots=True)
class UnitFact:
    code: str
    name: str
    level: str
    category: str | None
    parent: str | None
    tags: tuple[str, ...] = ()  # attributes rules may test, e.g. grain_producing (sorted)


@dataclass(frozen=True, slots=True)
class IndicatorFact:
    code: str
    name_zh: str
    name_en: str
    section: str
    measure: str
    direction: str  # higher | lower | control_line
    method: str
    points: Decimal
    params: Mapping[str, Any] = field(default_factory=dict)
    source_department: str | None = None


@dataclass(frozen=True, slots=True)
class TargetFact:
    """Unit × indicator. ``milestones`` are (YYYY-MM, cumulative value) pairs when schedule_kind
    is "milestones"; co_units are (unit code, share) pairs."""

    id: str
    unit: str
    indicator: str
    annual_value: Decimal
    schedule_kind: str
    milestones: tuple[tuple[str, Decimal], ...]
    lead_unit: str
    co_units: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class ReportFact:
    """A cumulative value for a target at a month. ``value`` is the verified value when the office
    verified it, else the reported one: the score always uses what was verified."""

    id: str
    unit: str
    indicator: str
    period: str  # YYYY-MM
    value: Decimal
    reported_value: Decimal
    verified_value: Decimal | None
    source: str


@dataclass(frozen=True, slots=True)
class EventFact:
    id: str
    unit: str
    kind: str  # honour | incident | project_claim
    event_type: str
    level: str | None
    title: str
    awarding_body: str | None
    document_no: str | None
    document_date: dt.date | None
    occurred_on: dt.date | None
    work_year: int
    dedupe_key: str | None
    quantity: Decimal | None
    verified_quantity: Decimal | None
    indicator: str | None


@dataclass(frozen=True, slots=True)
class PriorResult:
    """A unit's result in an earlier year's sealed run: for consequence flags and carry-over."""

    year: int
    unit: str
    grade: str | None
    credited_events: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FiringOverride:
    """An explicit input from a decided appeal: a firing voided or its points adjusted."""

    rule_id: str
    unit: str
    indicator: str | None
    fact_ids: tuple[str, ...]
    action: str  # void | adjust
    points: Decimal | None
    reference: str  # e.g. the appeal's id


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Snapshot:
    scheme_code: str
    year: int
    period: str  # 2024, 2024-H1, 2024-Q3, 2024-07
    cutoff_date: dt.date
    categories: tuple[CategoryFact, ...]
    units: tuple[UnitFact, ...]
    indicators: tuple[IndicatorFact, ...]
    targets: tuple[TargetFact, ...]
    reports: tuple[ReportFact, ...]
    events: tuple[EventFact, ...]
    prior_results: tuple[PriorResult, ...] = ()
    overrides: tuple[FiringOverride, ...] = ()
    # The previous year's cut-off, for carry-over (结转): its scheme's, or this scheme's setting
    # ``previous_cutoff_date``. None: not known, and a run refuses an event it would decide.
    prior_cutoff_date: dt.date | None = None

    def normalized(self) -> Snapshot:
        """The same facts with every collection sorted by its natural key (``self`` if they are).
        A snapshot found or made normalized is remembered (weakly: an object, frozen, cannot
        become unsorted), so the run's later calls do not check a province's million facts
        again (half a second each)."""
        if _NORMALIZED.get(id(self)) is self:
            return self
        out = self if self._is_normalized() else self._sorted()
        _NORMALIZED[id(out)] = out
        return out

    def _sorted(self) -> Snapshot:
        return Snapshot(
            scheme_code=self.scheme_code,
            year=self.year,
            period=self.period,
            cutoff_date=self.cutoff_date,
            categories=tuple(
                sorted(
                    (
                        CategoryFact(
                            c.code,
                            c.name_zh,
                            c.name_en,
                            tuple(sorted(c.sections, key=lambda s: s.code)),
                            c.grade_rules,
                            tuple(sorted(set(c.tags))),
                        )
                        for c in self.categories
                    ),
                    key=lambda c: c.code,
                )
            ),
            units=tuple(
                sorted(
                    (
                        dataclasses.replace(u, tags=tuple(sorted(set(u.tags)))) if u.tags else u
                        for u in self.units
                    ),
                    key=lambda u: u.code,
                )
            ),
            indicators=tuple(sorted(self.indicators, key=lambda i: i.code)),
            targets=tuple(sorted(self.targets, key=lambda t: (t.unit, t.indicator))),
            reports=tuple(sorted(self.reports, key=lambda r: (r.unit, r.indicator, r.period, r.id))),
            events=tuple(sorted(self.events, key=lambda e: e.id)),
            prior_results=tuple(sorted(self.prior_results, key=lambda p: (p.year, p.unit))),
            overrides=tuple(sorted(self.overrides, key=lambda o: (o.reference, o.rule_id, o.unit))),
            prior_cutoff_date=self.prior_cutoff_date,
        )

    def _is_normalized(self) -> bool:
        def ordered(items: tuple[Any, ...], key: Callable[[Any], Any]) -> bool:
            keys = [key(x) for x in items]
            return all(a <= b for a, b in itertools.pairwise(keys))

        return (
            all(ordered(c.sections, lambda s: s.code) and _tidy(c.tags) for c in self.categories)
            and all(_tidy(u.tags) for u in self.units)
            and ordered(self.categories, lambda c: c.code)
            and ordered(self.units, lambda u: u.code)
            and ordered(self.indicators, lambda i: i.code)
            and ordered(self.targets, lambda t: (t.unit, t.indicator))
            and ordered(self.reports, lambda r: (r.unit, r.indicator, r.period, r.id))
            and ordered(self.events, lambda e: e.id)
            and ordered(self.prior_results, lambda p: (p.year, p.unit))
            and ordered(self.overrides, lambda o: (o.reference, o.rule_id, o.unit))
        )

    def canonical_bytes(self) -> bytes:
        """``canonical_json`` of the normalized snapshot, built collection by collection (the
        same bytes, without a plain copy of millions of reports at once) and remembered for the
        last snapshot asked: a run hashes it and then stores it."""
        s = self.normalized()
        if _LAST_CANONICAL[0] is s:
            cached: bytes = _LAST_CANONICAL[1]
            return cached
        parts = []
        for name in sorted(f.name for f in dataclasses.fields(s)):
            value = getattr(s, name)
            if name in _CHUNKED:
                text = b"[" + b",".join(_chunks(value)) + b"]"
            else:
                plain = to_plain(value)
                if name in ("units", "categories"):
                    # Empty tags are left out, so snapshots without tags keep the bytes they had.
                    for item in plain:
                        if not item["tags"]:
                            del item["tags"]
                text = dumps(plain)
            parts.append(b'"' + name.encode("utf-8") + b'":' + text)
        data = b"{" + b",".join(parts) + b"}"
        _LAST_CANONICAL[0], _LAST_CANONICAL[1] = s, data
        return data

    def sha256(self) -> str:
        return sha256_hex(self.canonical_bytes())

    @classmethod
    def from_json(cls, data: bytes | str) -> Snapshot:
        return snapshot_from_plain(json.loads(data))


# Normalized snapshots by id, while they live (an entry goes with its snapshot, before its id can
# be another object's).
_NORMALIZED: weakref.WeakValueDictionary[int, Snapshot] = weakref.WeakValueDictionary()

_CHUNKED = frozenset({"targets", "reports", "events"})
_CHUNK = 20_000
_LAST_CANONICAL: list[Any] = [None, b""]


def forget_canonical() -> None:
    """Drop the remembered canonical bytes (and the snapshot they belong to, which they keep
    alive): a caller done with a large snapshot frees its memory."""
    _LAST_CANONICAL[0], _LAST_CANONICAL[1] = None, b""


def _chunks(items: tuple[Any, ...]) -> list[bytes]:
    """The canonical JSON of each run of ``_CHUNK`` items, without the enclosing brackets."""
    out = []
    for start in range(0, len(items), _CHUNK):
        text = dumps(to_plain(items[start : start + _CHUNK]))
        if len(text) > 2:
            out.append(text[1:-1])
    return out


def _tidy(tags: tuple[str, ...]) -> bool:
    return all(a < b for a, b in itertools.pairwise(tags))


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def _date(v: Any) -> dt.date | None:
    return None if v is None else dt.date.fromisoformat(v)


def snapshot_from_plain(d: Mapping[str, Any]) -> Snapshot:
    """Rebuild a snapshot from its canonical JSON form (the inverse of ``canonical_bytes``)."""
    return Snapshot(
        scheme_code=d["scheme_code"],
        year=int(d["year"]),
        period=d["period"],
        cutoff_date=dt.date.fromisoformat(d["cutoff_date"]),
        categories=tuple(
            CategoryFact(
                c["code"],
                c["name_zh"],
                c["name_en"],
                tuple(
                    SectionFact(s["code"], s["name_zh"], s["name_en"], Decimal(s["weight"]))
                    for s in c["sections"]
                ),
                c["grade_rules"],
                tuple(c.get("tags", ())),
            )
            for c in d["categories"]
        ),
        units=tuple(UnitFact(**{**u, "tags": tuple(u.get("tags", ()))}) for u in d["units"]),
        indicators=tuple(IndicatorFact(**{**i, "points": Decimal(i["points"])}) for i in d["indicators"]),
        targets=tuple(
            TargetFact(
                t["id"],
                t["unit"],
                t["indicator"],
                Decimal(t["annual_value"]),
                t["schedule_kind"],
                tuple((p, Decimal(v)) for p, v in t["milestones"]),
                t["lead_unit"],
                tuple((u, Decimal(s)) for u, s in t["co_units"]),
            )
            for t in d["targets"]
        ),
        reports=tuple(
            ReportFact(
                r["id"],
                r["unit"],
                r["indicator"],
                r["period"],
                Decimal(r["value"]),
                Decimal(r["reported_value"]),
                _dec(r["verified_value"]),
                r["source"],
            )
            for r in d["reports"]
        ),
        events=tuple(
            EventFact(
                **{
                    **e,
                    "document_date": _date(e["document_date"]),
                    "occurred_on": _date(e["occurred_on"]),
                    "quantity": _dec(e["quantity"]),
                    "verified_quantity": _dec(e["verified_quantity"]),
                }
            )
            for e in d["events"]
        ),
        prior_results=tuple(
            PriorResult(p["year"], p["unit"], p["grade"], tuple(p["credited_events"]))
            for p in d.get("prior_results", ())
        ),
        overrides=tuple(
            FiringOverride(
                o["rule_id"],
                o["unit"],
                o["indicator"],
                tuple(o["fact_ids"]),
                o["action"],
                _dec(o["points"]),
                o["reference"],
            )
            for o in d.get("overrides", ())
        ),
        prior_cutoff_date=_date(d.get("prior_cutoff_date")),
    )
