"""The case and appeal state machines as explicit transition tables, and the role each action needs.

A table maps (state, action) to the next state; anything not in it is illegal and refused with
the subject, its id, its state and the action named. Guards beyond the table (separation of
duties, unit membership) live in :mod:`workflows.cases.duties`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflows.errors import IllegalTransition


@dataclass(frozen=True)
class Machine:
    subject: str
    table: Mapping[tuple[str, str], str]
    initial: str

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.initial, *(state for state, _ in self.table), *self.table.values()]))

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(action for _, action in self.table))

    def next_state(self, subject_id: int, state: str, action: str) -> str:
        """The state ``action`` leads to from ``state``, or :class:`IllegalTransition`."""
        try:
            return self.table[(state, action)]
        except KeyError:
            raise IllegalTransition(self.subject, subject_id, state, action) from None


CASE = Machine(
    "case",
    {
        ("proposed", "review"): "reviewed",  # an auditor confirms, or proposes an adjustment
        ("reviewed", "approve"): "approved",  # the office, four eyes
        ("reviewed", "reject"): "rejected",
        ("approved", "publish"): "published",
        ("rejected", "publish"): "published",  # published as withdrawn (decision = rejected)
    },
    initial="proposed",
)

APPEAL = Machine(
    "appeal",
    {
        ("filed", "take"): "under_review",
        ("under_review", "uphold"): "upheld",
        ("under_review", "overturn"): "overturned",
        ("under_review", "adjust"): "adjusted",
    },
    initial="filed",
)

OUTCOME_ACTIONS = {"upheld": "uphold", "overturned": "overturn", "adjusted": "adjust"}
"""An appeal's outcome as the reviewer names it → the action that reaches it."""

ROLE_FOR = {
    "case.review": "auditor",
    "case.approve": "office",
    "case.reject": "office",
    "case.publish": "office",
    "case.open": "office",
    "appeal.take": "reviewer",
    "appeal.uphold": "reviewer",
    "appeal.overturn": "reviewer",
    "appeal.adjust": "reviewer",
    "run.seal": "committee",
    "scheme.lock": "office",
    "adjustment.approve": "office",
    "adjustment.reject": "office",
    "verification.set": "office",
    "notice.raise": "office",
    "notice.respond": "reporter",
    "notice.close": "office",
    "notice.escalate": "office",
}
"""The role an actor with an account must hold for an action (an actor without an account — the
CLI's KAOHE_ACTOR before accounts exist — is checked only for separation of duties)."""
