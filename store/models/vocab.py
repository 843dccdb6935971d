"""Closed vocabularies shared by the models' check constraints and the importers' validation."""

from __future__ import annotations

SCHEME_STATUSES = ("draft", "locked", "sealed")
UNIT_LEVELS = ("county", "district", "township", "street", "department", "stationed")
DIRECTIONS = ("higher", "lower", "control_line")
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
RULE_PACK_STATUSES = ("draft", "approved", "retired")
RUN_KINDS = ("month", "quarter", "half", "year")
RUN_STATUSES = ("complete", "superseded", "sealed")
FIRING_STATUSES = ("applied", "voided", "adjusted")
GRADES = ("excellent", "good", "fair", "poor")
ROLES = ("admin", "office", "auditor", "reviewer", "committee", "reporter")


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text for a CHECK constraint limiting ``column`` to ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def one_of(column: str, values: tuple[str, ...]) -> str:
    """:func:`in_list` as an OR of equalities, for a table written in bulk: SQLite builds an
    ephemeral index for an IN list every time the INSERT runs — for each row of an
    ``executemany``, 4 µs a row, 3 of a province run's seconds — and checks the equalities for
    nothing."""
    return " OR ".join(f"{column} = '{v}'" for v in values)
