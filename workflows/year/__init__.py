"""The other cases of the year: target adjustments (目标调整), verification (核减/核准认定) and
supervision notices (预警 → 提醒函 → 督办单 → 挂牌督办). Services take a Session and never commit."""

from workflows.freeze import OFFICE_TZ
from workflows.year.adjustments import (
    adjustment_history,
    adjustment_json,
    approve_adjustment,
    get_adjustment,
    list_adjustments,
    reject_adjustment,
    request_adjustment,
)
from workflows.year.machines import ADJUSTMENT, LEVEL, NOTICE
from workflows.year.notices import (
    DEFAULT_DUE_DAYS,
    Raised,
    close_notice,
    escalate_notice,
    get_notice,
    list_notices,
    notice_history,
    notice_json,
    raise_notices,
    respond_notice,
    run_lags,
)
from workflows.year.verification import verification_history, verify_event, verify_report

__all__ = [
    "ADJUSTMENT",
    "DEFAULT_DUE_DAYS",
    "LEVEL",
    "NOTICE",
    "OFFICE_TZ",
    "Raised",
    "adjustment_history",
    "adjustment_json",
    "approve_adjustment",
    "close_notice",
    "escalate_notice",
    "get_adjustment",
    "get_notice",
    "list_adjustments",
    "list_notices",
    "notice_history",
    "notice_json",
    "raise_notices",
    "reject_adjustment",
    "request_adjustment",
    "respond_notice",
    "run_lags",
    "verification_history",
    "verify_event",
    "verify_report",
]
