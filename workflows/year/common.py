"""What the year's cases share: locating a target, the scheme's seal (``workflows.freeze``), history
rows, reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import Indicator, NoticeEvent, Scheme, Target, TargetAdjustmentEvent, Unit
from workflows.errors import Invalid, NotFound


def find_target(
    session: Session, unit_code: str, indicator_code: str, scheme_code: str | None = None
) -> Target:
    """The target of ``unit_code`` × ``indicator_code``; a code pair held by several schemes must
    name the scheme (units and indicators are coded per scheme)."""
    query = (
        select(Target)
        .join(Unit, Target.unit_id == Unit.id)
        .join(Indicator, Target.indicator_id == Indicator.id)
        .where(Unit.code == unit_code, Indicator.code == indicator_code)
    )
    if scheme_code is not None:
        query = query.join(Scheme, Target.scheme_id == Scheme.id).where(Scheme.code == scheme_code)
    found = list(session.scalars(query))
    if not found:
        where = f" in scheme {scheme_code}" if scheme_code else ""
        raise NotFound(f"no target for unit {unit_code} × indicator {indicator_code}{where}")
    if len(found) > 1:
        codes = ", ".join(sorted(t.scheme.code for t in found))
        raise Invalid(
            f"unit {unit_code} × indicator {indicator_code} has targets in schemes {codes}: name the scheme"
        )
    return found[0]


def required_text(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise Invalid(f"{what} is required")
    return value


def optional_text(text: str | None) -> str | None:
    return (text or "").strip() or None


def target_label(target: Target) -> str:
    return f"{target.unit.code} × {target.indicator.code}"


SCALE = Decimal("0.0001")
"""Values are stored with four decimal places (``ExactDecimal(18, 4)``)."""


def decimal_value(value: Any, what: str) -> Decimal:
    """A finite decimal with at most four places, or :class:`Invalid` naming ``what``."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{what}: {value!r} is not a number") from None
    if not number.is_finite() or number.quantize(SCALE) != number:
        raise Invalid(f"{what}: {value!r} is not a number with at most four decimal places")
    return number


def record_transition(
    session: Session,
    history: type[TargetAdjustmentEvent] | type[NoticeEvent],
    *,
    subject_type: str,
    subject_id: int,
    action: str,
    from_state: str | None,
    to_state: str,
    actor: str,
    reason: str | None,
    at: dt.datetime,
    payload: Mapping[str, Any],
    columns: Mapping[str, Any],
) -> None:
    """The audit event of one transition and its queryable history row, in the same transaction.

    ``action`` is the audit action (``notice.respond``); the history row keeps its last part.
    """
    event = audit.record(
        session, actor=actor, action=action, subject_type=subject_type, subject_id=subject_id, payload=payload
    )
    session.add(
        history(
            **columns,
            action=action.rsplit(".", 1)[-1],
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            reason=reason,
            at=at,
            audit_seq=event.seq,
        )
    )
