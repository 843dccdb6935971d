"""What derivation produces: the facts rules match, and the indexes every later stage reads.

Apart from ``derive`` (which computes them) so that the stages after it — composition, drafts,
effects, sheets — can name these types without importing the computation, and the computation can
call composition without an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engine.facts import IndicatorFact, Snapshot, TargetFact, UnitFact
from engine.pack.conditions import Scalar
from engine.pack.model import NotApplicable
from engine.values.decimals import div
from engine.values.periods import Period


@dataclass(frozen=True, slots=True)
class DerivedFact:
    type: str
    id: str
    unit: str
    indicator: str | None
    values: Mapping[str, Scalar]  # only the fields the fact has


@dataclass
class Derived:
    """Everything the evaluator needs besides the pack, indexed for lookups."""

    snapshot: Snapshot
    period: Period
    units: dict[str, UnitFact]
    indicators: dict[str, IndicatorFact]
    targets: dict[str, TargetFact]
    facts: dict[str, list[DerivedFact]] = field(default_factory=dict)  # by fact type
    not_applicable: dict[tuple[str, str], NotApplicable] = field(default_factory=dict)
    year_end_completion: dict[str, Decimal] = field(default_factory=dict)  # target id → %
    # (pack hash, rule id, indicator) → scoring method and checked parameters (effects.method_of)
    methods: dict[tuple[str, str, str], tuple[str, dict[str, object]]] = field(default_factory=dict)


def expected_at(t: TargetFact, month: int, year: int) -> Decimal:
    """The cumulative value the schedule expects by the end of ``month``."""
    if t.schedule_kind == "milestones":
        due = [value for when, value in sorted(t.milestones) if when <= f"{year:04d}-{month:02d}"]
        return due[-1] if due else Decimal(0)
    return div(t.annual_value * month, Decimal(12))
