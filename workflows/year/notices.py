"""预警 → 提醒函 → 督办单 → 挂牌督办: supervision notices raised from a run's schedule warnings.

A run's warning firings at its own last checkpoint (the lag as of the run: a unit that caught
up by then is not warned for an earlier quarter) raise at most one notice per unit × indicator,
at the level the firing's ``detail.notice`` names (reminder below 80% of schedule, supervision
order below 60%; the most severe when several fire). A later run — one whose period ends after
every run the matter was already raised from — that still warns escalates the open notice one
level (never below the level the run itself calls for); a matter the office closed starts again
as a new notice. Raising from a run whose period is not later does nothing, so raising twice is
harmless. Each notice has a due date (``due_days``, default 15) for the unit's response.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import parse_period
from store import Firing, Indicator, NoticeEvent, Run, SupervisionNotice, Unit
from workflows.cases.duties import (
    Actor,
    involvement_problem,
    member_problem,
    require,
    resolve_actor,
    role_problem,
)
from workflows.cases.review import flush_or_conflict, utcnow
from workflows.errors import Forbidden, Invalid, NotFound
from workflows.freeze import refuse_sealed
from workflows.runs import get_run
from workflows.year.common import optional_text, record_transition, required_text
from workflows.year.machines import LEVEL, LEVEL_FOR_NOTICE, NOTICE, OPEN_NOTICE_STATES, level_rank

DEFAULT_DUE_DAYS = 15
PCT = Decimal("0.0001")  # schedule_pct is stored with four places


@dataclass(frozen=True)
class Lag:
    """What one run says about one unit × indicator: the level called for and its evidence."""

    unit_id: int
    indicator_code: str
    level: str
    checkpoint: str
    schedule_pct: Decimal | None
    firing_ids: tuple[int, ...]


def _lag_values(firing: Firing) -> dict[str, Any]:
    facts = firing.matched_facts or []
    if not facts or facts[0].get("type") != "checkpoint":
        return {}
    values = facts[0].get("values")
    return values if isinstance(values, dict) else {}


def run_lags(session: Session, run: Run) -> list[Lag]:
    """The schedule warnings of ``run`` at its last checkpoint, one per unit × indicator."""
    end = parse_period(run.period).end
    firings = session.scalars(
        select(Firing)
        .where(Firing.run_id == run.id, Firing.effect == "warning", Firing.status != "voided")
        .order_by(Firing.seq)
    )
    grouped: dict[tuple[int, str], list[tuple[str, Firing, dict[str, Any]]]] = {}
    for f in firings:
        level = LEVEL_FOR_NOTICE.get(str((f.detail or {}).get("notice", "")))
        values = _lag_values(f)
        if level is None or f.indicator_code is None or values.get("checkpoint") != end:
            continue
        grouped.setdefault((f.unit_id, f.indicator_code), []).append((level, f, values))
    lags = []
    for (unit_id, code), items in sorted(grouped.items()):
        level, _, values = max(items, key=lambda item: level_rank(item[0]))
        pct = values.get("schedule_pct")
        shown = None if pct is None else Decimal(str(pct)).quantize(PCT, rounding=ROUND_HALF_UP)
        lags.append(Lag(unit_id, code, level, end, shown, tuple(f.id for _, f, _ in items)))
    return lags


@dataclass(frozen=True)
class Raised:
    run_id: int
    opened: tuple[SupervisionNotice, ...]
    escalated: tuple[tuple[SupervisionNotice, SupervisionNotice], ...]  # (old, new)
    at_top: tuple[SupervisionNotice, ...]  # listed supervision still lagging: nothing higher exists
    already: int  # matters this run (or a later one) already raised

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "opened": [notice_json(n) for n in self.opened],
            "escalated": [{"from": old.id, "to": notice_json(new)} for old, new in self.escalated],
            "at_top": [n.id for n in self.at_top],
            "already": self.already,
        }


def _payload(notice: SupervisionNotice, **extra: Any) -> dict[str, Any]:
    return {
        "unit": notice.unit.code,
        "indicator": notice.indicator.code,
        "level": notice.level,
        "state": notice.state,
        "version": notice.version,
        "due_at": notice.due_at.isoformat(),
        **{k: v for k, v in extra.items() if v is not None},
    }


def _record(
    session: Session,
    notice: SupervisionNotice,
    action: str,
    from_state: str | None,
    *,
    actor: str,
    reason: str | None,
    at: dt.datetime,
    run_id: int | None = None,
    **extra: Any,
) -> None:
    record_transition(
        session,
        NoticeEvent,
        subject_type="supervision_notice",
        subject_id=notice.id,
        action=f"notice.{action}",
        from_state=from_state,
        to_state=notice.state,
        actor=actor,
        reason=reason,
        at=at,
        payload=_payload(notice, from_state=from_state, reason=reason, run=run_id, **extra),
        columns={"notice_id": notice.id, "run_id": run_id},
    )


def _due_days(days: int) -> int:
    if days < 1:
        raise Invalid(f"a notice's due date must be at least 1 day away, not {days}")
    return days


def _issue(
    session: Session,
    *,
    scheme_id: int,
    unit_id: int,
    indicator: Indicator,
    level: str,
    run: Run | None,
    lag: Lag | None,
    escalated_from: SupervisionNotice | None,
    actor: str,
    reason: str | None,
    at: dt.datetime,
    due_days: int,
) -> SupervisionNotice:
    notice = SupervisionNotice(
        scheme_id=scheme_id,
        unit_id=unit_id,
        indicator=indicator,
        run_id=None if run is None else run.id,
        level=level,
        state=NOTICE.initial,
        checkpoint=lag.checkpoint if lag else (escalated_from.checkpoint if escalated_from else None),
        schedule_pct=lag.schedule_pct if lag else (escalated_from.schedule_pct if escalated_from else None),
        firing_ids=list(lag.firing_ids) if lag else [],
        issued_by=actor,
        issued_at=at,
        due_at=at + dt.timedelta(days=due_days),
        escalated_from=escalated_from,
    )
    session.add(notice)
    session.flush()
    _record(
        session,
        notice,
        "issue",
        None,
        actor=actor,
        reason=reason,
        at=at,
        run_id=notice.run_id,
        escalated_from=None if escalated_from is None else escalated_from.id,
        checkpoint=notice.checkpoint,
        schedule_pct=None if notice.schedule_pct is None else str(notice.schedule_pct),
        firings=notice.firing_ids or None,
    )
    return notice


def _seen_until(session: Session, unit_id: int, indicator_id: int) -> str | None:
    """The latest period end of the runs this unit × indicator was already raised or escalated from."""
    periods = session.scalars(
        select(Run.period)
        .join(NoticeEvent, NoticeEvent.run_id == Run.id)
        .join(SupervisionNotice, NoticeEvent.notice_id == SupervisionNotice.id)
        .where(SupervisionNotice.unit_id == unit_id, SupervisionNotice.indicator_id == indicator_id)
    )
    ends = [parse_period(p).end for p in set(periods)]
    return max(ends) if ends else None


def _open_notice(session: Session, unit_id: int, indicator_id: int) -> SupervisionNotice | None:
    return session.scalars(
        select(SupervisionNotice)
        .where(
            SupervisionNotice.unit_id == unit_id,
            SupervisionNotice.indicator_id == indicator_id,
            SupervisionNotice.state.in_(OPEN_NOTICE_STATES),
        )
        .order_by(SupervisionNotice.id.desc())
        .limit(1)
    ).one_or_none()


def raise_notices(
    session: Session,
    run_id: int,
    *,
    actor: str,
    due_days: int = DEFAULT_DUE_DAYS,
    now: dt.datetime | None = None,
) -> Raised:
    """Open or escalate notices from ``run``'s schedule warnings (idempotent per run)."""
    who = resolve_actor(session, actor)
    require(role_problem(who, "notice.raise"))
    days = _due_days(due_days)
    run = get_run(session, run_id)
    refuse_sealed(run.scheme, f"supervision notices from run {run.id}")
    at = utcnow(now)
    indicators = {
        i.code: i for i in session.scalars(select(Indicator).where(Indicator.scheme_id == run.scheme_id))
    }
    opened: list[SupervisionNotice] = []
    escalated: list[tuple[SupervisionNotice, SupervisionNotice]] = []
    at_top: list[SupervisionNotice] = []
    already = 0
    end = parse_period(run.period).end
    for lag in run_lags(session, run):
        indicator = indicators[lag.indicator_code]
        seen = _seen_until(session, lag.unit_id, indicator.id)
        if seen is not None and seen >= end:
            already += 1
            continue
        current = _open_notice(session, lag.unit_id, indicator.id)
        if current is None:
            opened.append(
                _issue(
                    session,
                    scheme_id=run.scheme_id,
                    unit_id=lag.unit_id,
                    indicator=indicator,
                    level=lag.level,
                    run=run,
                    lag=lag,
                    escalated_from=None,
                    actor=who.name,
                    reason=None,
                    at=at,
                    due_days=days,
                )
            )
        elif current.level == LEVEL.states[-1]:
            at_top.append(current)
        else:
            level = max(LEVEL.next_state(current.id, current.level, "escalate"), lag.level, key=level_rank)
            reason = f"lag persists in run {run.id} ({run.period}) at {lag.checkpoint}"
            escalated.append(_escalate(session, current, level, who.name, reason, at, days, run, lag))
    return Raised(run.id, tuple(opened), tuple(escalated), tuple(at_top), already)


def _escalate(
    session: Session,
    notice: SupervisionNotice,
    level: str,
    actor: str,
    reason: str,
    at: dt.datetime,
    due_days: int,
    run: Run | None,
    lag: Lag | None,
) -> tuple[SupervisionNotice, SupervisionNotice]:
    before = notice.state
    notice.state = NOTICE.next_state(notice.id, before, "escalate")
    flush_or_conflict(session, f"notice {notice.id}")
    new = _issue(
        session,
        scheme_id=notice.scheme_id,
        unit_id=notice.unit_id,
        indicator=notice.indicator,
        level=level,
        run=run,
        lag=lag,
        escalated_from=notice,
        actor=actor,
        reason=reason,
        at=at,
        due_days=due_days,
    )
    _record(
        session,
        notice,
        "escalate",
        before,
        actor=actor,
        reason=reason,
        at=at,
        run_id=None if run is None else run.id,
        to_notice=new.id,
        to_level=level,
    )
    return notice, new


def get_notice(session: Session, notice_id: int) -> SupervisionNotice:
    notice = session.get(SupervisionNotice, notice_id)
    if notice is None:
        raise NotFound(f"no supervision notice {notice_id}")
    return notice


def _unit_member_only(who: Actor, notice: SupervisionNotice) -> None:
    """A response speaks for the unit: an account must be scoped to it."""
    if who.has_account and notice.unit_id not in who.unit_ids:
        raise Forbidden(
            f"{who.name} is not a member of unit {notice.unit.code}: only the unit responds to its notice"
        )


def respond_notice(
    session: Session,
    notice_id: int,
    *,
    actor: str,
    text: str,
    evidence_ref: str | None = None,
    now: dt.datetime | None = None,
) -> SupervisionNotice:
    """The unit answers the notice (what it is doing about the lag), with evidence; late is noted."""
    who = resolve_actor(session, actor)
    notice = get_notice(session, notice_id)
    refuse_sealed(notice.scheme, f"notice {notice.id}")
    before = notice.state
    after = NOTICE.next_state(notice.id, before, "respond")
    require(role_problem(who, "notice.respond"))
    _unit_member_only(who, notice)
    body = required_text(text, "a response's text")
    at = utcnow(now)
    notice.state, notice.response_text = after, body
    notice.response_evidence, notice.responded_by, notice.responded_at = (
        optional_text(evidence_ref),
        who.name,
        at,
    )
    flush_or_conflict(session, f"notice {notice.id}")
    _record(
        session,
        notice,
        "respond",
        before,
        actor=who.name,
        reason=body,
        at=at,
        evidence_ref=notice.response_evidence,
        late=True if at > notice.due_at else None,
    )
    return notice


def _office_check(who: Actor, notice: SupervisionNotice, action: str) -> None:
    refuse_sealed(notice.scheme, f"notice {notice.id}")
    require(role_problem(who, f"notice.{action}"))
    require(
        involvement_problem(who, [("responder", notice.responded_by)])
        or member_problem(who, notice.unit_id, notice.unit.code)
    )


def close_notice(
    session: Session,
    notice_id: int,
    *,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> SupervisionNotice:
    """The office accepts the unit's response and closes the notice (not the responder, nor the unit)."""
    who = resolve_actor(session, actor)
    notice = get_notice(session, notice_id)
    before = notice.state
    after = NOTICE.next_state(notice.id, before, "close")
    _office_check(who, notice, "close")
    at = utcnow(now)
    notice.state, notice.closed_by, notice.closed_at, notice.close_reason = (
        after,
        who.name,
        at,
        optional_text(reason),
    )
    flush_or_conflict(session, f"notice {notice.id}")
    _record(session, notice, "close", before, actor=who.name, reason=notice.close_reason, at=at)
    return notice


def escalate_notice(
    session: Session,
    notice_id: int,
    *,
    actor: str,
    reason: str,
    due_days: int = DEFAULT_DUE_DAYS,
    now: dt.datetime | None = None,
) -> tuple[SupervisionNotice, SupervisionNotice]:
    """The office escalates by hand (no response by the due date, an inadequate one): the next level
    is issued as a new notice; listed supervision is the top and cannot be escalated."""
    who = resolve_actor(session, actor)
    notice = get_notice(session, notice_id)
    NOTICE.next_state(notice.id, notice.state, "escalate")
    level = LEVEL.next_state(notice.id, notice.level, "escalate")
    _office_check(who, notice, "escalate")
    text = required_text(reason, "an escalation's reason")
    return _escalate(session, notice, level, who.name, text, utcnow(now), _due_days(due_days), None, None)


def list_notices(
    session: Session, *, open_only: bool = False, unit_code: str | None = None
) -> list[SupervisionNotice]:
    query = select(SupervisionNotice).order_by(SupervisionNotice.id)
    if open_only:
        query = query.where(SupervisionNotice.state.in_(OPEN_NOTICE_STATES))
    if unit_code is not None:
        query = query.join(Unit, SupervisionNotice.unit_id == Unit.id).where(Unit.code == unit_code)
    return list(session.scalars(query))


def notice_history(session: Session, notice_id: int) -> list[NoticeEvent]:
    get_notice(session, notice_id)
    return list(
        session.scalars(
            select(NoticeEvent).where(NoticeEvent.notice_id == notice_id).order_by(NoticeEvent.audit_seq)
        )
    )


def notice_json(notice: SupervisionNotice) -> dict[str, Any]:
    return {
        "id": notice.id,
        **_payload(notice),
        "run": notice.run_id,
        "checkpoint": notice.checkpoint,
        "schedule_pct": None if notice.schedule_pct is None else str(notice.schedule_pct),
        "escalated_from": notice.escalated_from_id,
        "response": notice.response_text,
        "responded_by": notice.responded_by,
    }
