"""A year that freezes: the scheme's lifecycle, and the one rule every write to its facts obeys.

A scheme (考核方案) is ``draft`` while the office sets it up, ``locked`` once it is in force
(生效: its definitions fixed, its cut-off binding), and ``sealed`` once the committee seals its
year run (定案). Each transition is an audit event (``scheme.lock``, ``scheme.seal``); publishing a
run puts a draft scheme in force (public results mean the method is in force), and sealing the
year run seals the scheme.

What a write to a scheme's facts must respect, from the most final to the least:

1. **Seal.** Nothing of a sealed scheme changes: facts, targets, events, verifications,
   adjustments, notices, cases, appeals, runs. :func:`refuse_sealed` in every write path, and
   :func:`_refuse_sealed_rows` (a ``before_flush`` listener) as the backstop for a path that
   forgot: it refuses any row of a sealed scheme in a flush.
2. **Publication.** A fact a published run read (a progress report of a month the run's period
   reads, an event due by its end, a target's months) changes only through the office's
   verification (核定) with a reason; a unit's own correction is refused and told to appeal (申诉)
   or ask the office to verify.
3. **Cut-off.** Once a scheme is in force, progress reports and events are accepted up to the end
   of its ``cutoff_date`` as a calendar day in Beijing time (UTC+8); a draft scheme is still being
   set up, and the office may load its facts, past ones included. Target adjustments have their own
   ``adjustment_cutoff_date`` (``workflows.year.adjustments``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

import audit
from engine import parse_period
from store import (
    Appeal,
    AppealFiring,
    Case,
    CaseEvent,
    Category,
    Event,
    Indicator,
    NoticeEvent,
    ProgressReport,
    Publication,
    Run,
    Scheme,
    Section,
    SupervisionNotice,
    Target,
    TargetAdjustment,
    TargetAdjustmentEvent,
    TargetCoUnit,
    Unit,
    Verification,
)
from workflows.errors import Conflict, IllegalTransition

OFFICE_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")
"""Cut-offs are calendar days of the office (China Standard Time, no daylight saving)."""

IN_FORCE = "locked"
SEALED = "sealed"
LIFECYCLE = {("draft", "lock"): IN_FORCE, ("draft", "seal"): SEALED, (IN_FORCE, "seal"): SEALED}
"""(status, action) → next status. ``seal`` follows from the year run's seal only."""

PENDING_APPEALS = ("filed", "under_review")


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def office_date(at: dt.datetime) -> dt.date:
    """The office's calendar day (Beijing time) at the instant ``at``."""
    return at.astimezone(OFFICE_TZ).date()


def now_or(at: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if at is None else at


# --- the lifecycle -------------------------------------------------------------------------------


def _transition(session: Session, scheme: Scheme, action: str, *, actor: str, at: dt.datetime,
                **payload: Any) -> Scheme:
    before = scheme.status
    after = LIFECYCLE.get((before, action))
    if after is None:
        raise IllegalTransition("scheme", scheme.id, before, action)
    scheme.status = after
    session.flush()
    audit.record(session, actor=actor, action=f"scheme.{action}", subject_type="scheme", subject_id=scheme.id,
                 payload={"scheme": scheme.code, "year": scheme.year, "from": before, "to": after,
                          "at": stamp(at), **{k: v for k, v in payload.items() if v is not None}})
    return scheme


def put_in_force(session: Session, scheme: Scheme, *, actor: str, reason: str,
                 now: dt.datetime | None = None) -> Scheme:
    """draft → in force: the method's definitions are fixed and its cut-off binds."""
    return _transition(session, scheme, "lock", actor=actor, at=now_or(now), reason=reason)


def in_force_at_publication(session: Session, run: Run, *, actor: str, at: dt.datetime) -> None:
    """A run's results made public: its scheme is in force from now on (once)."""
    if run.scheme.status == "draft":
        reason = f"run {run.id} ({run.period}) published"
        put_in_force(session, run.scheme, actor=actor, reason=reason, now=at)


def seal_year(session: Session, run: Run, *, actor: str, at: dt.datetime) -> None:
    """The committee sealed ``run``: if it is the year run, the whole scheme is sealed with it.

    Refused while an appeal against any run of the scheme is undecided: once sealed it could
    never be decided."""
    if run.kind != "year":
        return
    scheme = run.scheme
    runs = select(Run.id).where(Run.scheme_id == scheme.id)
    waiting = list(session.scalars(select(Appeal.id).where(Appeal.run_id.in_(runs),
                                                           Appeal.state.in_(PENDING_APPEALS)).order_by(Appeal.id)))
    if waiting:
        raise Conflict(f"scheme {scheme.code} has undecided appeals ({', '.join(map(str, waiting))}): "
                       f"decide them before the year run {run.id} is sealed")
    _transition(session, scheme, "seal", actor=actor, at=at, run=run.id, run_hash=run.run_hash)


# --- 1. the seal ---------------------------------------------------------------------------------


def refuse_sealed(scheme: Scheme, what: str) -> None:
    """A sealed scheme's facts are final: the committee approved results computed from them."""
    if scheme.status == SEALED:
        raise Conflict(f"scheme {scheme.code} is sealed: {what} can no longer change")


def refuse_new_in_sealed(scheme: Scheme, what: str) -> None:
    """Nothing is added to a sealed scheme either (a run of another period, a case, a notice)."""
    if scheme.status == SEALED:
        raise Conflict(f"scheme {scheme.code} is sealed: no new {what} can be added")


# --- 2. publication ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadBy:
    """The published run that read a fact, and when it was published."""

    run_id: int
    period: str
    published_at: dt.datetime

    def text(self) -> str:
        return f"run {self.run_id} ({self.period}), published at {stamp(self.published_at)}"


def published_runs(session: Session, scheme_id: int) -> list[ReadBy]:
    """The scheme's published runs (the current or sealed one of each publication), oldest first."""
    rows = session.execute(
        select(Run.id, Run.period, Publication.published_at)
        .join(Publication, Publication.run_id == Run.id)
        .where(Run.scheme_id == scheme_id, Run.status.in_(("complete", "sealed")))
        .order_by(Publication.published_at, Run.id)
    )
    return [ReadBy(run_id, period, at) for run_id, period, at in rows]


def report_read_by(session: Session, scheme_id: int, month: str) -> ReadBy | None:
    """The first published run whose period reads the reports of ``month`` (YYYY-MM)."""
    for run in published_runs(session, scheme_id):
        if month in parse_period(run.period).report_months:
            return run
    return None


def months_read_by(session: Session, scheme_id: int, months: list[str]) -> tuple[str, ReadBy] | None:
    """The first of ``months`` a published run read, with that run."""
    for month in sorted(months):
        run = report_read_by(session, scheme_id, month)
        if run is not None:
            return month, run
    return None


def event_read_by(session: Session, scheme: Scheme, due: dt.date | None) -> ReadBy | None:
    """The first published run that read an event due on ``due`` (documented or, without a document,
    happened; None: undated, read by every run): a run reads the events due by its period's end, a
    year run those due by the scheme's cut-off too."""
    for run in published_runs(session, scheme.id):
        period = parse_period(run.period)
        end = dt.date(period.year, period.end_month, calendar.monthrange(period.year, period.end_month)[1])
        if period.kind == "year":
            end = max(end, scheme.cutoff_date)
        if due is None or due <= end:
            return run
    return None


def refuse_report_correction(session: Session, scheme: Scheme, unit: str, indicator: str, month: str) -> None:
    """A report a published run read changes only through the office's verification."""
    run = report_read_by(session, scheme.id, month)
    if run is not None:
        raise Conflict(
            f"the {month} report of {unit} × {indicator} was read by {run.text()}: a correction is no "
            f"longer accepted; file an appeal (申诉) against run {run.run_id}, or ask the office to verify "
            "(核定) the value"
        )


def refuse_event_correction(session: Session, scheme: Scheme, code: str, due: dt.date | None) -> None:
    """An event a published run read changes only through the office's verification."""
    run = event_read_by(session, scheme, due)
    if run is not None:
        raise Conflict(
            f"event {code} falls in {run.text()}: it is no longer accepted; file an appeal (申诉) against "
            f"run {run.run_id}, or ask the office to verify (核定) it"
        )


# --- 3. the cut-off ------------------------------------------------------------------------------


def cutoff_passed(scheme: Scheme, at: dt.datetime) -> bool:
    """Whether facts of an in-force ``scheme`` are no longer accepted at ``at``."""
    return scheme.status != "draft" and office_date(at) > scheme.cutoff_date


def _closed(scheme: Scheme, kinds: str, at: dt.datetime) -> str:
    return (f"{kinds} of scheme {scheme.code} closed at the end of {scheme.cutoff_date.isoformat()} "
            f"(its cut-off, UTC+8); today is {office_date(at).isoformat()}")


def refuse_report_after_cutoff(scheme: Scheme, unit: str, indicator: str, month: str,
                               at: dt.datetime) -> None:
    if cutoff_passed(scheme, at):
        raise Conflict(f"{_closed(scheme, 'progress reports', at)}: the {month} report of {unit} × "
                       f"{indicator} is not accepted; ask the office to verify (核定) the value")


def refuse_event_after_cutoff(scheme: Scheme, code: str, at: dt.datetime) -> None:
    if cutoff_passed(scheme, at):
        raise Conflict(f"{_closed(scheme, 'events', at)}: event {code} is not accepted; record it in the "
                       "next year's scheme (an honour documented after the cut-off carries over, 结转)")


def report_problem(session: Session, scheme: Scheme, unit: str, indicator: str, month: str,
                   at: dt.datetime) -> None:
    """Every rule a new or replaced progress report obeys, most final first (raises Conflict)."""
    refuse_sealed(scheme, f"the {month} report of {unit} × {indicator}")
    refuse_report_correction(session, scheme, unit, indicator, month)
    refuse_report_after_cutoff(scheme, unit, indicator, month, at)


def event_problem(session: Session, scheme: Scheme, code: str, due: dt.date | None, at: dt.datetime) -> None:
    """Every rule a new event obeys, most final first (raises Conflict)."""
    refuse_sealed(scheme, f"event {code}")
    refuse_event_correction(session, scheme, code, due)
    refuse_event_after_cutoff(scheme, code, at)


def target_change_problem(session: Session, scheme: Scheme, unit: str, indicator: str,
                          at: dt.datetime) -> None:
    """A stored target changed other than by an adjustment (an import): not once a run read it, nor
    after the adjustment cut-off of a scheme in force (raises Conflict)."""
    refuse_sealed(scheme, f"target {unit} × {indicator}")
    runs = published_runs(session, scheme.id)
    if runs:
        raise Conflict(f"target {unit} × {indicator} was read by {runs[0].text()}: it changes only through "
                       "an approved target adjustment (目标调整)")
    cutoff = scheme.adjustment_cutoff_date
    if scheme.status != "draft" and cutoff is not None and office_date(at) > cutoff:
        raise Conflict(f"target changes of scheme {scheme.code} closed at the end of {cutoff.isoformat()} "
                       f"(its adjustment cut-off, UTC+8); today is {office_date(at).isoformat()}: target "
                       f"{unit} × {indicator} keeps its value")


# --- the backstop --------------------------------------------------------------------------------

# (class, foreign key, relationship, parent class): how a row reaches its scheme.
_PARENTS: tuple[tuple[type[Any], str, str | None, type[Any]], ...] = (
    (Unit, "scheme_id", "scheme", Scheme),
    (Category, "scheme_id", "scheme", Scheme),
    (Indicator, "scheme_id", "scheme", Scheme),
    (Target, "scheme_id", "scheme", Scheme),
    (Event, "scheme_id", "scheme", Scheme),
    (Run, "scheme_id", "scheme", Scheme),
    (SupervisionNotice, "scheme_id", "scheme", Scheme),
    (Section, "category_id", "category", Category),
    (TargetCoUnit, "target_id", "target", Target),
    (ProgressReport, "target_id", "target", Target),
    (TargetAdjustment, "target_id", "target", Target),
    (TargetAdjustmentEvent, "adjustment_id", None, TargetAdjustment),
    (NoticeEvent, "notice_id", None, SupervisionNotice),
    (Case, "run_id", "run", Run),
    (Appeal, "run_id", "run", Run),
    (Publication, "run_id", "run", Run),
    (CaseEvent, "case_id", None, Case),
    (AppealFiring, "appeal_id", "appeal", Appeal),
    (Verification, "progress_report_id", "progress_report", ProgressReport),
    (Verification, "event_id", "event", Event),
)
_GUARDED = tuple({cls for cls, *_ in _PARENTS})
_BY_CLASS: dict[type[Any], list[tuple[str, str | None, type[Any]]]] = {}
for _cls, _key, _relation, _parent in _PARENTS:
    _BY_CLASS.setdefault(_cls, []).append((_key, _relation, _parent))

Memo = dict[tuple[type[Any], int], Scheme | None]


def _scheme_of(session: Session, obj: Any, memo: Memo) -> Scheme | None:
    """The scheme a row belongs to, through its parents (each parent looked up once per flush)."""
    if isinstance(obj, Scheme):
        return obj
    for key, relation, parent_cls in _BY_CLASS.get(type(obj), ()):
        fk = getattr(obj, key)
        if fk is not None:
            if (parent_cls, fk) not in memo:
                parent = session.get(parent_cls, fk)
                memo[(parent_cls, fk)] = None if parent is None else _scheme_of(session, parent, memo)
            return memo[(parent_cls, fk)]
        parent = getattr(obj, relation) if relation is not None else None
        if parent is not None:  # a parent not yet flushed (or not yet given its key), once per flush
            if (type(parent), -id(parent)) not in memo:
                memo[(type(parent), -id(parent))] = _scheme_of(session, parent, memo)
            return memo[(type(parent), -id(parent))]
    return None


def _refusal(scheme: Scheme, obj: Any, new: bool) -> Conflict:
    name = type(obj).__tablename__
    if new:
        return Conflict(f"scheme {scheme.code} is sealed: no new {name} can be added")
    return Conflict(f"scheme {scheme.code} is sealed: {name} {getattr(obj, 'id', '?')} can no longer change")


@event.listens_for(Session, "before_flush")
def _refuse_sealed_rows(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """The backstop: no flush adds, changes or deletes a row of a sealed scheme, whatever path
    wrote it (the write paths refuse first, with their own precise messages)."""
    changed = [o for o in session.dirty if isinstance(o, (*_GUARDED, Scheme)) and session.is_modified(o)]
    touched = [*(o for o in session.new if isinstance(o, _GUARDED)), *changed,
               *(o for o in session.deleted if isinstance(o, (*_GUARDED, Scheme)))]
    if not touched:
        return
    with session.no_autoflush:
        for obj in touched:
            if isinstance(obj, Scheme):
                status = inspect(obj).attrs.status.history
                if SEALED in status.deleted or (obj.status == SEALED and not status.added):
                    raise Conflict(f"scheme {obj.code} is sealed: scheme {obj.code} can no longer change")
        # Sealed schemes as this transaction sees them; none (the usual case) ends the check here.
        sealed = set(session.scalars(select(Scheme.id).where(Scheme.status == SEALED)))
        if not sealed:
            return
        memo: Memo = {}
        for obj in touched:
            scheme = None if isinstance(obj, Scheme) else _scheme_of(session, obj, memo)
            if scheme is not None and scheme.id in sealed:
                raise _refusal(scheme, obj, obj in session.new)
