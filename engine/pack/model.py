"""The parsed, validated rule pack: immutable dataclasses the evaluator reads.

Every knob of a year's method lives here as data (see docs/rulepacks.md), so a new year needs a
new pack, not new code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.pack.conditions import Node


@dataclass(frozen=True)
class Points:
    """How many points one firing is worth, before caps. Deductions are negative numbers.

    Exactly one of ``fixed``, ``table`` (by a fact field, e.g. level) or ``rate`` (times a numeric
    field, e.g. 0.2 per point of over_pct) gives the base; ``multiply_by`` (a numeric field, e.g.
    the number of petitions) and ``multiplier`` scale it; ``max_points`` (a number, or a numeric
    field such as over_bonus_cap) caps its magnitude.
    """

    fixed: Decimal | None = None
    table_field: str | None = None
    table: tuple[tuple[str, Decimal], ...] = ()
    table_default: Decimal | None = None
    rate_field: str | None = None
    rate: Decimal | None = None
    multiply_by: str | None = None
    multiplier: Decimal = Decimal(1)
    max_points: Decimal | None = None
    max_points_field: str | None = None  # or the cap read from the fact, e.g. over_bonus_cap


@dataclass(frozen=True)
class Effect:
    points: Points | None = None
    method: str | None = None  # score: a scoring method, or "indicator" for the indicator's own
    params: Mapping[str, Any] = field(default_factory=dict)
    consequence: str | None = None  # veto: bar_excellent | force_grade | zero_section
    grade: str | None = None
    section: str | None = None
    notice: str | None = None  # warning: reminder | supervision | listed_supervision
    flag: str | None = None  # flag: a consequence code written on the score sheet
    shared: str | None = None  # deduction on a target: additional | split among co-units
    reset_if_caught_up: bool = False
    dedupe: bool = False  # bonus on events: one per dedupe_key, at the highest points
    co_unit_share: Decimal | None = None  # shared: the share of a co-unit given none (0) in its target


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    kind: str
    on: str
    when: Node
    effect: Effect
    bucket: str | None
    displaces: tuple[str, ...]
    periods: tuple[str, ...]
    text_zh: str
    text_en: str
    line: int = 0


@dataclass(frozen=True)
class Bucket:
    """A cap on the summed magnitude of the firings filed under it (per unit, or per unit and
    indicator); ``floor_at_item`` stops indicator-linked deductions at the item's value (扣完为止)."""

    code: str
    cap: Decimal | None
    per: str  # unit | indicator
    indicator_caps: tuple[tuple[str, Decimal], ...] = ()
    floor_at_item: bool = False
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class SectionWeight:
    code: str
    weight: Decimal
    full: Decimal | None = None  # the points the section's indicators are printed to add up to


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    method: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    floor: Decimal | None = None  # the item's own negative limit, else the pack's item_floor


@dataclass(frozen=True)
class NotApplicable:
    indicator: str
    units: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    unit_levels: tuple[str, ...] = ()
    treatment: str = "rescale"  # rescale | full_marks
    tags: tuple[str, ...] = ()  # units having any of these tags (their own or their category's)
    reason_zh: str = ""
    reason_en: str = ""


@dataclass(frozen=True)
class GradeStep:
    grade: str
    min_total: Decimal | None = None
    max_rank: int | None = None
    quota_count: int | None = None
    quota_percent: Decimal | None = None


@dataclass(frozen=True)
class GradeScheme:
    category: str  # a category code or "*" for every category without its own
    steps: tuple[GradeStep, ...]
    tie_break: tuple[str, ...]


@dataclass(frozen=True)
class RulePack:
    name: str
    version: int
    scheme: str | None
    title_zh: str
    title_en: str
    item_floor: Decimal
    bonus_requires_document: bool
    carry_over: bool
    buckets: tuple[Bucket, ...]
    categories: tuple[tuple[str, tuple[SectionWeight, ...]], ...]
    indicators: tuple[IndicatorSpec, ...]
    not_applicable: tuple[NotApplicable, ...]
    grades: tuple[GradeScheme, ...]
    rules: tuple[Rule, ...]
    sha256: str
    filename: str = ""
    # The share a co-unit takes of a shared deduction when its target gives it none (0).
    co_unit_share: Decimal | None = None
    # Named numbers a condition may read as {const: NAME} (e.g. the province's published average).
    constants: tuple[tuple[str, Decimal], ...] = ()
    marks: Mapping[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ref(self) -> str:
        """``name@version``: the stem of every durable ruleset compiled from this pack."""
        return f"{self.name}@{self.version}"

    def bucket(self, code: str) -> Bucket | None:
        return self._by_code[0].get(code)

    def indicator(self, code: str) -> IndicatorSpec | None:
        return self._by_code[1].get(code)

    @functools.cached_property
    def _by_code(self) -> tuple[dict[str, Bucket], dict[str, IndicatorSpec]]:
        """Buckets and indicators by code, the first of a code as a scan finds it (a province run
        asks 1.1 million times)."""
        buckets: dict[str, Bucket] = {}
        indicators: dict[str, IndicatorSpec] = {}
        for b in self.buckets:
            buckets.setdefault(b.code, b)
        for i in self.indicators:
            indicators.setdefault(i.code, i)
        return buckets, indicators

    def grade_scheme(self, category: str) -> GradeScheme | None:
        own = next((g for g in self.grades if g.category == category), None)
        return own or next((g for g in self.grades if g.category == "*"), None)
