"""Firings while a run is being computed: mutable until caps and floors settle, then frozen.

Cuts point at the drafts they change; seqs are only known once the drafts are in canonical order,
so cuts and why-nots are finalised together with the firings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.pack.model import Rule
from engine.run.derived import DerivedFact


@dataclass(eq=False, slots=True)
class Draft:
    rule_id: str
    rule_version: int
    unit: str
    indicator: str | None
    effect: str
    facts: list[DerivedFact]
    raw: Decimal
    rule: Rule | None = None
    bucket: str | None = None
    points: Decimal = Decimal(0)
    detail: dict[str, str] = field(default_factory=dict)
    status: str = "applied"
    override: str | None = None
    texts: tuple[str, str] | None = None  # for gaps: (zh, en) already written
    seq: int = 0

    def __post_init__(self) -> None:
        self.points = self.raw

    @property
    def fact_ids(self) -> tuple[str, ...]:
        return tuple([f.id for f in self.facts])

    def sort_key(self) -> tuple[str, str, str, tuple[str, ...], str, tuple[tuple[str, str], ...]]:
        detail = self.detail.items()  # (a province sorts 700,000 drafts; most have one detail or none)
        return (
            self.unit,
            self.indicator or "",
            self.rule_id,
            self.fact_ids,
            self.effect,
            tuple(sorted(detail)) if len(detail) > 1 else tuple(detail),
        )


@dataclass(eq=False, slots=True)
class CutDraft:
    unit: str
    indicator: str | None
    kind: str
    source: str
    drafts: list[Draft]
    before: Decimal
    after: Decimal
    text_zh: str
    text_en: str


@dataclass(eq=False, slots=True)
class WhyNotDraft:
    unit: str
    rule_id: str
    indicator: str | None
    reason: str
    fact_ids: tuple[str, ...]
    text_zh: str
    text_en: str


@dataclass
class Ledger:
    """Everything a run accumulates on its way to a result."""

    drafts: list[Draft] = field(default_factory=list)
    cuts: list[CutDraft] = field(default_factory=list)
    why_not: list[WhyNotDraft] = field(default_factory=list)

    def gap(
        self, unit: str, indicator: str | None, gap_id: str, facts: list[DerivedFact], zh: str, en: str
    ) -> None:
        self.drafts.append(Draft(gap_id, 0, unit, indicator, "gap", facts, Decimal(0), texts=(zh, en)))

    def why(
        self,
        unit: str,
        rule: Rule,
        indicator: str | None,
        reason: str,
        fact_ids: tuple[str, ...],
        zh: str,
        en: str,
    ) -> None:
        self.why_not.append(WhyNotDraft(unit, rule.id, indicator, reason, fact_ids, zh, en))
