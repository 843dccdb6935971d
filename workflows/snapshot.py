"""Freeze the facts a run reads: database rows → an immutable :class:`engine.facts.Snapshot`.

The snapshot is what a run is computed from and what is stored with it, so replay needs nothing
but the stored JSON. Reports are the ones due by the end of the run's period; where the
indicator names an authoritative source department (统计局) its figure wins over the unit's own.
Events follow ``engine.values.crediting``, the rule the engine's timing follows too: a year run
reads every event of its scheme (each is credited, or refused with a why-not naming the year
that credits it) and the previous year's honours that carry over to it; a shorter period's run,
those dated by the period's end.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, false, select, text, true
from sqlalchemy.orm import Session, selectinload

from engine import Period
from engine.facts import (
    CategoryFact,
    EventFact,
    IndicatorFact,
    ReportFact,
    SectionFact,
    Snapshot,
    TargetFact,
    UnitFact,
)
from engine.values.crediting import needs_prior_cutoff, read_from_previous_year
from store import Category, Event, Indicator, ProgressReport, Scheme, Section, Target, TargetCoUnit, Unit
from store.db import driver_rows, sqlite_write_lock
from store.types import exact_decimal
from workflows.errors import Invalid, NotFound

# The tables a snapshot's facts come from, held still while it reads them.
FACT_TABLES = (Unit, Category, Section, Indicator, Target, TargetCoUnit, ProgressReport, Event)


def find_scheme(session: Session, ref: str) -> Scheme:
    """A scheme by its code, or by its year when exactly one scheme has that year."""
    scheme = session.scalars(select(Scheme).where(Scheme.code == ref)).one_or_none()
    if scheme is not None:
        return scheme
    if ref.isdigit():
        by_year = session.scalars(select(Scheme).where(Scheme.year == int(ref))).all()
        if len(by_year) == 1:
            return by_year[0]
        if len(by_year) > 1:
            codes = ", ".join(sorted(s.code for s in by_year))
            raise NotFound(f"year {ref} has several schemes ({codes}); name one by its code")
    raise NotFound(f"no scheme with code or year {ref!r}")


def build_snapshot(session: Session, scheme: Scheme, period: Period, *, with_facts: bool = True) -> Snapshot:
    """The scheme's facts due by the end of ``period``, as one committed state. ``with_facts=False``
    gives only the scheme's definitions (categories, units, indicators): enough to validate a
    rule pack."""
    if not with_facts:
        return _read(session, scheme, period, with_facts)
    with _held_still(session):
        return _read(session, scheme, period, with_facts)


@contextlib.contextmanager
def _held_still(session: Session) -> Iterator[None]:
    """The fact tables unchanged while a snapshot reads them: each of its queries would otherwise
    see the latest commit (PostgreSQL's READ COMMITTED; SQLite's reads before a transaction's first
    write), and an import committed between two of them would give a snapshot of a state that
    never was.

    PostgreSQL: the tables locked in SHARE mode (writers wait, readers do not) inside a savepoint
    that is rolled back once they are read: a savepoint's locks go when it is rolled back to, the
    reads change nothing, so writers wait only while the facts are read, never for the whole run
    (nor can they deadlock with it over the audit chain's lock, taken at its end). SQLite: the
    database's write lock, until the transaction ends (SQLite has no finer lock)."""
    if session.get_bind().dialect.name != "postgresql":
        sqlite_write_lock(session, Unit.__tablename__)
        yield
        return
    quote = session.get_bind().dialect.identifier_preparer.format_table
    tables = ", ".join(quote(model.__table__) for model in FACT_TABLES)
    savepoint = session.begin_nested()
    try:
        session.execute(text(f"LOCK TABLE {tables} IN SHARE MODE"))
        yield
    finally:
        savepoint.rollback()


def _read(session: Session, scheme: Scheme, period: Period, with_facts: bool) -> Snapshot:
    if period.year != scheme.year:
        raise Invalid(f"period {period.text} is outside scheme {scheme.code}'s year {scheme.year}")
    end_date = dt.date(period.year, period.end_month, calendar.monthrange(period.year, period.end_month)[1])
    units = session.scalars(select(Unit).where(Unit.scheme_id == scheme.id)).all()
    code_of = {u.id: u.code for u in units}
    categories = session.scalars(
        select(Category).where(Category.scheme_id == scheme.id).options(selectinload(Category.sections))
    ).all()
    indicators = session.scalars(select(Indicator).where(Indicator.scheme_id == scheme.id)).all()
    indicator_by_id = {i.id: i for i in indicators}
    # Without facts, the fact queries below match nothing (definitions suffice to check a pack).
    facts_wanted = true() if with_facts else false()
    # Targets and reports are the bulk of a year's facts (hundreds of thousands and millions at
    # province scale): plain tuples from the driver on the session's connection (in its
    # transaction), never ORM objects nor even Core's rows; their decimals converted here.
    rows = session.connection()
    target_rows = driver_rows(
        rows,
        select(
            Target.id, Target.unit_id, Target.indicator_id, Target.annual_value,
            # as its JSON text: nearly all are "{}" (pro-rata), read without a parser
            Target.schedule_kind, cast(Target.milestones, Text), Target.lead_unit_id,
        ).where(Target.scheme_id == scheme.id, facts_wanted),
    )
    co_units: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    for target_id, unit_id, share in session.execute(
        select(TargetCoUnit.target_id, TargetCoUnit.unit_id, TargetCoUnit.share)
        .join(Target, TargetCoUnit.target_id == Target.id)
        .where(Target.scheme_id == scheme.id, facts_wanted)
    ):
        co_units[target_id].append((code_of[unit_id], share))
    # Per target: (unit code, indicator code, authoritative source department).
    indicator_keys = {i.id: (i.code, i.source_department) for i in indicators}
    keys = {t[0]: (code_of[t[1]], *indicator_keys[t[2]]) for t in target_rows}
    report_rows = driver_rows(
        rows,
        select(
            ProgressReport.id,
            ProgressReport.target_id,
            ProgressReport.period,
            ProgressReport.reported_value,
            ProgressReport.verified_value,
            ProgressReport.source,
        )
        .join(Target, ProgressReport.target_id == Target.id)
        .where(
            Target.scheme_id == scheme.id,
            ProgressReport.period.in_(period.report_months),  # all by the period's end (no range
            facts_wanted,  # test beside it: SQLite then seeks each month instead of scanning a year)
        )
    )
    events = session.scalars(select(Event).where(Event.scheme_id == scheme.id, facts_wanted)).all()
    prior_cutoff = previous_cutoff(session, scheme) if with_facts else None
    event_facts = [_event_fact(e, code_of, indicator_by_id) for e in events if _due(e, period, end_date)]
    if prior_cutoff is not None:
        event_facts += _carried_in(session, scheme, period, end_date, prior_cutoff, event_facts,
                                   set(code_of.values()), indicator_by_id)
    else:
        _prior_cutoff_needed(scheme, event_facts)

    return Snapshot(
        scheme_code=scheme.code,
        year=scheme.year,
        period=period.text,
        cutoff_date=scheme.cutoff_date,
        categories=tuple(
            CategoryFact(
                code=c.code,
                name_zh=c.name_zh,
                name_en=c.name_en,
                sections=tuple(SectionFact(s.code, s.name_zh, s.name_en, s.weight) for s in c.sections),
                grade_rules=dict(c.grade_rules or {}),
            )
            for c in categories
        ),
        units=tuple(
            UnitFact(
                code=u.code,
                name=u.name,
                level=u.level,
                category=next((c.code for c in categories if c.id == u.category_id), None),
                parent=code_of.get(u.parent_id) if u.parent_id is not None else None,
            )
            for u in units
        ),
        indicators=tuple(
            IndicatorFact(
                code=i.code,
                name_zh=i.name_zh,
                name_en=i.name_en,
                section=i.section,
                measure=i.measure,
                direction=i.direction,
                method=i.method,
                points=i.points,
                params=dict(i.params or {}),
                source_department=i.source_department,
            )
            for i in indicators
        ),
        targets=_targets(target_rows, keys, code_of, co_units, scheme.year),
        reports=_authoritative_reports(report_rows, keys),
        events=tuple(event_facts),
        prior_cutoff_date=prior_cutoff,
    ).normalized()


# As the driver gives them: decimals as SQLite's text or PostgreSQL's Decimal.
TargetRow = tuple[int, int, int, Decimal | str, str, str | None, int]


def _targets(
    rows: Sequence[TargetRow],
    keys: dict[int, tuple[str, str, str | None]],
    code_of: dict[int, str],
    co_units: dict[int, list[tuple[str, Decimal]]],
    year: int,
) -> tuple[TargetFact, ...]:
    facts = []
    for target_id, _unit_id, _indicator_id, annual_value, schedule_kind, milestones, lead_unit_id in rows:
        unit, indicator, _authority = keys[target_id]
        annual = exact_decimal(annual_value)
        assert annual is not None, "target.annual_value is NOT NULL"
        facts.append(
            TargetFact(
                f"T:{unit}:{indicator}",
                unit,
                indicator,
                annual,
                schedule_kind,
                _milestones(milestones, year),
                code_of[lead_unit_id],
                tuple(co_units.get(target_id, ())),
            )
        )
    return tuple(facts)


def _milestones(text: str | None, year: int) -> tuple[tuple[str, Decimal], ...]:
    """Milestones keyed ``MM`` or ``YYYY-MM`` in the database (JSON text) become ``(YYYY-MM,
    value)`` pairs."""
    if text is None or text == "{}":
        return ()
    pairs = []
    milestones: dict[str, Any] = json.loads(text) or {}
    for key, value in milestones.items():
        month = key if len(key) == 7 else f"{year}-{int(key):02d}"
        pairs.append((month, Decimal(str(value))))
    return tuple(sorted(pairs))


ReportRow = tuple[int, int, str, Decimal | str, Decimal | str | None, str]


def _authoritative_reports(
    rows: Sequence[ReportRow], keys: dict[int, tuple[str, str, str | None]]
) -> tuple[ReportFact, ...]:
    """One report per target and month: the source department's figure if it sent one, else the
    unit's own, else anyone else's (by source name, so the choice never depends on row order)."""
    def rank(row: ReportRow) -> tuple[int, str]:
        unit, _indicator, authority = keys[row[1]]
        source = row[5]
        return (0 if source == authority else 1 if source == unit else 2, source)

    best: dict[tuple[int, str], ReportRow] = {}
    for row in rows:  # ranked only when a target has two reports for a month (rare)
        key = (row[1], row[2])
        current = best.get(key)
        if current is None or rank(row) < rank(current):
            best[key] = row
    facts = []
    shared: dict[str, str] = {}  # one str object per distinct month and source (millions of rows)
    for _report_id, target_id, month_text, reported_text, verified_text, source_text in best.values():
        unit, indicator, _authority = keys[target_id]
        month = shared.setdefault(month_text, month_text)
        source = shared.setdefault(source_text, source_text)
        # (id, unit, indicator, period, value — the verified one if any —, reported, verified, source)
        reported, verified = exact_decimal(reported_text), exact_decimal(verified_text)
        assert reported is not None, "progress_report.reported_value is NOT NULL"
        facts.append(ReportFact(
            f"R:{unit}:{indicator}:{month}", unit, indicator, month,
            reported if verified is None else verified, reported, verified, source,
        ))
    return tuple(facts)


def previous_cutoff(session: Session, scheme: Scheme) -> dt.date | None:
    """The cut-off of the year before the scheme's, which decides carry-over (结转) into it: the
    previous year's scheme's ``cutoff_date`` when it is in the database (several must agree, or
    the scheme's ``previous_cutoff_date`` must name one of theirs), else the scheme's own
    ``previous_cutoff_date``; None when neither is known. Never guessed: a cut-off that differs
    from the previous year's run's would credit an honour twice or never."""
    earlier = session.execute(
        select(Scheme.code, Scheme.cutoff_date).where(Scheme.year == scheme.year - 1).order_by(Scheme.code)
    ).all()
    theirs = {cutoff for _code, cutoff in earlier}
    setting = scheme.previous_cutoff_date
    listed = ", ".join(f"{code} ({cutoff.isoformat()})" for code, cutoff in earlier)
    if setting is not None and theirs and setting not in theirs:
        raise Invalid(
            f"scheme {scheme.code}: previous_cutoff_date {setting.isoformat()} is not the cut-off of "
            f"{scheme.year - 1}'s scheme {listed}; carry-over must follow the cut-off that year's run used: "
            "clear previous_cutoff_date or set it to that date"
        )
    if setting is not None:
        return setting
    if len(theirs) > 1:
        raise Invalid(
            f"scheme {scheme.code}: the schemes of {scheme.year - 1} have different cut-offs, {listed}; "
            "set the scheme's previous_cutoff_date (上年度截止日期) to the one that decides carry-over"
        )
    return next(iter(theirs), None)


def _due(event: Event, period: Period, end: dt.date) -> bool:
    """A year run reads every event of its scheme: the engine credits each or says why not
    (``engine.values.crediting``). A shorter period's run reads the events that happened or were
    documented by the period's end."""
    if period.kind == "year":
        return True
    when = event.document_date or event.occurred_on
    return when is None or when <= end


def _carried_in(
    session: Session,
    scheme: Scheme,
    period: Period,
    end: dt.date,
    prior_cutoff: dt.date,
    own: Sequence[EventFact],
    units: set[str],
    indicator_by_id: dict[int, Indicator],
) -> list[EventFact]:
    """The events registered in the previous year's schemes that this year's run must credit or
    refuse (``crediting.read_from_previous_year``): last year's work documented after last
    year's cut-off, for the units and indicators this scheme has (by code). Their ids are
    ``SCHEME/CODE``; one this scheme registered too (same code, or same unit and document
    number) is read once, as this scheme's."""
    indicators = {i.code for i in indicator_by_id.values()}
    own_codes = {e.id for e in own}
    own_documents = {(e.unit, e.document_no) for e in own if e.document_no}
    rows = session.execute(
        select(Event, Scheme.code, Unit.code)
        .join(Scheme, Event.scheme_id == Scheme.id)
        .join(Unit, Event.unit_id == Unit.id)
        .where(Scheme.year == scheme.year - 1, Event.work_year == scheme.year - 1,
               Event.document_date > prior_cutoff)
        .options(selectinload(Event.indicator))
        .order_by(Scheme.code, Event.code)
    ).all()
    out = []
    for event, scheme_code, unit_code in rows:
        indicator = event.indicator.code if event.indicator is not None else None
        if unit_code not in units or (indicator is not None and indicator not in indicators):
            continue  # not a unit or indicator this scheme assesses
        if event.code in own_codes or (unit_code, event.document_no) in own_documents:
            continue
        if not read_from_previous_year(scheme.year, scheme.cutoff_date, prior_cutoff, event.work_year,
                                       event.document_date):
            continue
        if not _due(event, period, end):
            continue
        out.append(dataclasses.replace(
            _event_fact(event, {event.unit_id: unit_code}, {}),
            id=f"{scheme_code}/{event.code}",
            indicator=indicator,
        ))
    return out


def _prior_cutoff_needed(scheme: Scheme, events: Sequence[EventFact]) -> None:
    """Refuse a run that would have to guess last year's cut-off: an event of last year's work
    with a document date counts last year or carries over, and only that cut-off says which."""
    needing = sorted((e for e in events if needs_prior_cutoff(scheme.year, e.work_year, e.document_date)),
                     key=lambda e: e.id)
    if not needing:
        return
    named = ", ".join(f"{e.id} ({e.unit}, {e.document_date})" for e in needing[:5])
    more = ", …" if len(needing) > 5 else ""
    raise Invalid(
        f"scheme {scheme.code}: {len(needing)} event(s) of work year {scheme.year - 1} with a document date "
        f"({named}{more}) count in {scheme.year - 1} or carry over to {scheme.year} depending on "
        f"{scheme.year - 1}'s cut-off, and no scheme of {scheme.year - 1} is in the database: set the "
        "scheme's previous_cutoff_date (上年度截止日期) in its scheme sheet and import it again"
    )


def _event_fact(event: Event, code_of: dict[int, str], indicator_by_id: dict[int, Indicator]) -> EventFact:
    """The event as the engine reads it (its indicator by code: the caller's, or None when
    ``indicator_by_id`` lacks it)."""
    return EventFact(
        id=event.code,
        unit=code_of[event.unit_id],
        kind=event.kind,
        event_type=event.event_type,
        level=event.level,
        title=event.title,
        awarding_body=event.awarding_body,
        document_no=event.document_no,
        document_date=event.document_date,
        occurred_on=event.occurred_on,
        work_year=event.work_year,
        dedupe_key=event.dedupe_key,
        quantity=event.quantity,
        verified_quantity=event.verified_quantity,
        indicator=indicator_by_id[event.indicator_id].code if event.indicator_id in indicator_by_id else None,
    )
