"""Freeze the facts a run reads: database rows → an immutable :class:`engine.facts.Snapshot`.

The snapshot is what a run is computed from and what is stored with it, so replay needs nothing
but the stored JSON. Reports are the ones due by the end of the run's period; where the
indicator names an authoritative source department (统计局) its figure wins over the unit's own.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

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
from store import Category, Event, Indicator, ProgressReport, Scheme, Target, Unit
from workflows.errors import NotFound
from workflows.periods import Period


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


def build_snapshot(session: Session, scheme: Scheme, period: Period) -> Snapshot:
    if period.year != scheme.year:
        raise ValueError(f"period {period} is outside scheme {scheme.code}'s year {scheme.year}")
    units = session.scalars(select(Unit).where(Unit.scheme_id == scheme.id)).all()
    code_of = {u.id: u.code for u in units}
    categories = session.scalars(
        select(Category).where(Category.scheme_id == scheme.id).options(selectinload(Category.sections))
    ).all()
    indicators = session.scalars(select(Indicator).where(Indicator.scheme_id == scheme.id)).all()
    indicator_by_id = {i.id: i for i in indicators}
    targets = session.scalars(
        select(Target).where(Target.scheme_id == scheme.id).options(selectinload(Target.co_units))
    ).all()
    target_by_id = {t.id: t for t in targets}
    reports = session.scalars(
        select(ProgressReport)
        .join(Target, ProgressReport.target_id == Target.id)
        .where(Target.scheme_id == scheme.id, ProgressReport.period <= period.last_month)
    ).all()
    events = session.scalars(select(Event).where(Event.scheme_id == scheme.id)).all()

    return Snapshot(
        scheme_code=scheme.code,
        year=scheme.year,
        period=str(period),
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
        targets=tuple(
            TargetFact(
                id=f"T{t.id}",
                unit=code_of[t.unit_id],
                indicator=indicator_by_id[t.indicator_id].code,
                annual_value=t.annual_value,
                schedule_kind=t.schedule_kind,
                milestones=_milestones(t, scheme.year),
                lead_unit=code_of[t.lead_unit_id],
                co_units=tuple((code_of[c.unit_id], c.share) for c in t.co_units),
            )
            for t in targets
        ),
        reports=_authoritative_reports(reports, target_by_id, indicator_by_id, code_of),
        events=tuple(_event_fact(e, code_of, indicator_by_id) for e in events if _due(e, period.end)),
    ).normalized()


def _milestones(target: Target, year: int) -> tuple[tuple[str, Decimal], ...]:
    """Milestones keyed ``MM`` or ``YYYY-MM`` in the database become ``(YYYY-MM, value)`` pairs."""
    pairs = []
    for key, value in (target.milestones or {}).items():
        month = key if len(key) == 7 else f"{year}-{int(key):02d}"
        pairs.append((month, Decimal(str(value))))
    return tuple(sorted(pairs))


def _authoritative_reports(
    reports: Sequence[ProgressReport],
    target_by_id: dict[int, Target],
    indicator_by_id: dict[int, Indicator],
    code_of: dict[int, str],
) -> tuple[ReportFact, ...]:
    """One report per target and month: the source department's figure if it sent one."""
    grouped: dict[tuple[int, str], list[ProgressReport]] = defaultdict(list)
    for r in reports:
        grouped[(r.target_id, r.period)].append(r)
    facts = []
    for (target_id, month), candidates in grouped.items():
        target = target_by_id[target_id]
        indicator = indicator_by_id[target.indicator_id]
        unit_code = code_of[target.unit_id]

        chosen = min(candidates, key=lambda r: _source_rank(r, indicator, unit_code))
        facts.append(
            ReportFact(
                id=f"R{chosen.id}",
                unit=unit_code,
                indicator=indicator.code,
                period=month,
                value=chosen.verified_value if chosen.verified_value is not None else chosen.reported_value,
                reported_value=chosen.reported_value,
                verified_value=chosen.verified_value,
                source=chosen.source,
            )
        )
    return tuple(facts)


def _source_rank(report: ProgressReport, indicator: Indicator, unit_code: str) -> tuple[int, str]:
    """Authoritative department first, then the unit's own figure, then anyone else's."""
    if indicator.source_department is not None and report.source == indicator.source_department:
        return (0, report.source)
    return (1 if report.source == unit_code else 2, report.source)


def _due(event: Event, end: dt.date) -> bool:
    """An event counts in a run once it has happened or been documented by the period's end."""
    when = event.document_date or event.occurred_on
    return when is None or when <= end


def _event_fact(event: Event, code_of: dict[int, str], indicator_by_id: dict[int, Indicator]) -> EventFact:
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
        indicator=indicator_by_id[event.indicator_id].code if event.indicator_id is not None else None,
    )
