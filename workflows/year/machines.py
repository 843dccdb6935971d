"""The target-adjustment and supervision-notice state machines, and the ladder of notice levels.

Each is a :class:`workflows.cases.machine.Machine`: anything not in its table is refused with
the subject, its id, its state and the action named. Verification has no states: a later
verification supersedes an earlier one (see :mod:`workflows.year.verification`).
"""

from __future__ import annotations

from workflows.cases.machine import Machine

ADJUSTMENT = Machine(
    "target adjustment",
    {
        ("requested", "approve"): "approved",  # the office, four eyes; the target changes
        ("requested", "reject"): "rejected",
    },
    initial="requested",
)

NOTICE = Machine(
    "notice",
    {
        ("issued", "respond"): "responded",  # the unit's response (text + evidence)
        ("issued", "escalate"): "escalated",  # no response, or the lag persists in a later run
        ("responded", "close"): "closed",  # the office accepts the response
        ("responded", "escalate"): "escalated",
    },
    initial="issued",
)

LEVEL = Machine(
    "notice",
    {
        ("reminder", "escalate"): "supervision_order",  # 提醒函 → 督办单
        ("supervision_order", "escalate"): "listed_supervision",  # 督办单 → 挂牌督办
    },
    initial="reminder",
)
"""The level an escalation issues next; listed supervision is the top, escalating it is refused."""

LEVEL_FOR_NOTICE = {"reminder": "reminder", "supervision": "supervision_order"}
"""A warning firing's ``detail.notice`` (the rule pack's word) → the level of notice it raises."""

OPEN_NOTICE_STATES = ("issued", "responded")


def level_rank(level: str) -> int:
    return LEVEL.states.index(level)
