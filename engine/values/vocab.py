"""Closed vocabularies the engine checks packs and facts against.

They mirror ``store.models.vocab`` (the database's check constraints) but live here because the
engine is pure and must not import the store package (which pulls in SQLAlchemy).
"""

from __future__ import annotations

UNIT_LEVELS = ("county", "district", "township", "street", "department", "stationed")
DIRECTIONS = ("higher", "lower", "control_line")
DIRECTION_NAMES_ZH = {"higher": "越高越好", "lower": "越低越好", "control_line": "控制线"}
SCORING_METHODS = (
    "pass_fail",
    "proportional",
    "step",
    "ranking_decay",
    "ranking_table",
    "lower_better",
    "control_line",
    "rubric",
)
SCHEDULE_KINDS = ("pro_rata", "milestones")
EVENT_KINDS = ("honour", "incident", "project_claim")
EVENT_LEVELS = ("national", "provincial", "municipal", "county")
# Best first: the order grade rules must follow.
GRADES = ("excellent", "good", "fair", "poor")
GRADE_NAMES_ZH = {"excellent": "优秀", "good": "良好", "fair": "一般", "poor": "较差"}
# Where an event stands relative to the run's year and cut-off (see crediting.crediting).
TIMINGS = ("in_year", "after_cutoff", "carried_over", "too_late", "earlier", "later")
RULE_KINDS = ("score", "veto", "deduction", "bonus", "warning", "flag")
FACT_TYPES = ("target", "checkpoint", "event", "sheet")
PERIOD_KINDS = ("year", "half", "quarter", "month")
VETO_CONSEQUENCES = ("bar_excellent", "force_grade", "zero_section")
NOTICES = ("reminder", "supervision", "listed_supervision")
