"""The fields each fact type offers to rule conditions and text placeholders.

A pack may only name these fields; the loader checks each comparison against the field's type and
vocabulary, which is how "level: city" or "completion_pct > 'high'" is refused at load time rather
than silently never matching.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.values import vocab


@dataclass(frozen=True)
class FieldSpec:
    type: str  # str | num | bool | tags (a set of tags, tested with has / lacks)
    vocab: tuple[str, ...] | None = None
    code: str | None = None  # unit | indicator | category | section: checked against the snapshot
    needs_report: bool = False  # absent when the target has no report at the checkpoint
    on_demand: bool = False  # derived only when a pack reads it (engine/run/compose.py)

    def describe(self) -> str:
        return f"one of {', '.join(self.vocab)}" if self.vocab else self.type


_S = FieldSpec("str")
_N = FieldSpec("num")
_B = FieldSpec("bool")
_NR = FieldSpec("num", needs_report=True)
_UNIT = FieldSpec("str", code="unit")
_CATEGORY = FieldSpec("str", code="category")
_INDICATOR = FieldSpec("str", code="indicator")
_SECTION = FieldSpec("str", code="section")
_UNIT_LEVEL = FieldSpec("str", vocab.UNIT_LEVELS)
_DIRECTION = FieldSpec("str", vocab.DIRECTIONS)
_GRADE = FieldSpec("str", vocab.GRADES)

_OD_N = FieldSpec("num", on_demand=True)
_OD_NR = FieldSpec("num", needs_report=True, on_demand=True)
_OD_GRADE = FieldSpec("str", vocab.GRADES, on_demand=True)
# The unit's tags and its category's tags together (e.g. grain_producing, mountainous).
_TAGS = FieldSpec("tags", on_demand=True)

_COMMON = {"unit": _UNIT, "unit_level": _UNIT_LEVEL, "category": _CATEGORY, "tags": _TAGS}
# ``score@INDICATOR`` on sheet facts: the points the unit's indicator earned (after caps).
SHEET_SCORE = FieldSpec("num")

FIELDS: dict[str, dict[str, FieldSpec]] = {
    # One per target at the period end.
    "target": {
        **_COMMON,
        "indicator": _INDICATOR,
        "section": _SECTION,
        "direction": _DIRECTION,
        "method": FieldSpec("str", vocab.SCORING_METHODS),
        "measure": _S,
        "indicator_points": _N,
        "over_bonus_cap": _N,
        "annual": _N,
        "co_unit_count": _N,
        "has_report": _B,
        "actual": _NR,
        # Direction-aware (engine/values/direction.py): above 100 / over = better than the target,
        # shortfall = worse, whichever way the indicator points; ranks and averages follow them.
        "completion_pct": _NR,
        "over_pct": _NR,
        "shortfall_pct": _NR,
        "rank": _NR,
        "category_avg_pct": _NR,
        # on demand: aggregates over the category and over all units of the run on this indicator
        "category_avg_actual": _OD_NR,
        "category_count": _OD_NR,
        "all_avg_pct": _OD_NR,
        "all_avg_actual": _OD_NR,
        "all_rank": _OD_NR,
        "all_count": _OD_NR,
        # on demand: quarter-end checkpoints up to the period end, and how many of them lagged
        "checkpoint_count": _OD_N,
        "lagging_checkpoints": _OD_N,
    },
    # One per target and checkpoint month inside the period.
    "checkpoint": {
        **_COMMON,
        "indicator": _INDICATOR,
        "section": _SECTION,
        "direction": _DIRECTION,
        "checkpoint": _S,
        "month": _N,
        "quarter": _N,
        "final": _B,
        "annual": _N,
        "expected": _N,
        "has_report": _B,
        "actual": _NR,
        "schedule_pct": _NR,  # the completion of ``expected``, direction-aware like completion_pct
        "lagging": FieldSpec("bool", needs_report=True),  # worse than ``expected``, in any direction
        # on demand: consecutive months / quarter ends, up to this checkpoint, behind schedule
        "months_lagging_running": _OD_N,
        "quarters_lagging_running": _OD_N,
    },
    # One per event (honour, incident, project claim).
    "event": {
        **_COMMON,
        "kind": FieldSpec("str", vocab.EVENT_KINDS),
        "event_type": _S,
        "level": FieldSpec("str", vocab.EVENT_LEVELS),
        "title": _S,
        "awarding_body": _S,
        "documented": _B,
        "document_no": _S,
        "timing": FieldSpec("str", vocab.TIMINGS),
        "work_year": _N,
        "already_credited": _B,
        "indicator": _INDICATOR,
        "dedupe_key": _S,
        "quantity": _N,
        "claimed_quantity": _N,
        "verified": _B,
    },
    # One per unit after grading (year runs): consequence flags across years.
    "sheet": {
        **_COMMON,
        "grade": _GRADE,
        "total": _N,
        "rank": _N,
        "vetoed": _B,
        "prior_grade_1": _GRADE,
        "prior_grade_2": _GRADE,
        "fair_years_running": _N,
        "poor_years_running": _N,
        # on demand
        "bonus": _OD_N,
        "deduction": _OD_N,
        "target_count": _OD_N,
        "failed_targets": _OD_N,
        "prior_grade_3": _OD_GRADE,
        "excellent_years_running": _OD_N,
        "good_years_running": _OD_N,
        "fair_or_poor_years_running": _OD_N,
    },
}

# Sheet fields known only after grading: veto, deduction and bonus rules on sheet facts run
# before grading (their points change the total), so they may not read these.
GRADED_FIELDS = (
    "grade",
    "rank",
    "fair_years_running",
    "poor_years_running",
    "excellent_years_running",
    "good_years_running",
    "fair_or_poor_years_running",
)

# Placeholders every rule text may use besides its fact type's fields.
EXTRA_PLACEHOLDERS = ("unit_name", "indicator_name", "points", "target", "share", "lead_unit", "period")
