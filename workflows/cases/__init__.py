"""The deduction workflow: cases from firings, review, four-eyes approval, publication, appeals
that supersede, and the committee's seal. Services take a Session and never commit."""

from workflows.cases.appeals import Decided, decide_appeal, file_appeal, get_appeal, take_appeal
from workflows.cases.machine import APPEAL, CASE, OUTCOME_ACTIONS, ROLE_FOR, Machine
from workflows.cases.publication import Published, publication_of, publish, seal
from workflows.cases.review import (
    Acted,
    Opened,
    approve_cases,
    case_history,
    list_cases,
    open_cases,
    reject_cases,
    review_cases,
)

__all__ = [
    "APPEAL",
    "CASE",
    "OUTCOME_ACTIONS",
    "ROLE_FOR",
    "Acted",
    "Decided",
    "Machine",
    "Opened",
    "Published",
    "approve_cases",
    "case_history",
    "decide_appeal",
    "file_appeal",
    "get_appeal",
    "list_cases",
    "open_cases",
    "publication_of",
    "publish",
    "reject_cases",
    "review_cases",
    "seal",
    "take_appeal",
]
