"""What the database already holds for a scheme, loaded once per scheme code, indexed by code.

Validation reads it to resolve codes and to tell new rows from re-imported ones; the writer then
adds the rows it creates, so later sheets resolve their references against both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store import Category, Event, Indicator, ProgressReport, Scheme, Section, Target, Unit

ReportKey = tuple[str, str, str, str]  # unit, indicator, period, source


@dataclass
class SchemeState:
    scheme: Scheme
    categories: dict[str, Category] = field(default_factory=dict)
    sections: dict[tuple[str, str], Section] = field(default_factory=dict)  # (category, code)
    units: dict[str, Unit] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    targets: dict[tuple[str, str], Target] = field(default_factory=dict)  # (unit, indicator)
    reports: dict[ReportKey, ProgressReport] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)

    def unit_code(self, unit_id: int) -> str:
        return next(code for code, u in self.units.items() if u.id == unit_id)

    def parent_codes(self) -> dict[str, str | None]:
        by_id = {u.id: code for code, u in self.units.items()}
        return {code: by_id.get(u.parent_id) if u.parent_id else None for code, u in self.units.items()}


class Catalog:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._states: dict[str, SchemeState | None] = {}

    def get(self, code: str) -> SchemeState | None:
        if code not in self._states:
            self._states[code] = self._load(code)
        return self._states[code]

    def add(self, scheme: Scheme) -> SchemeState:
        state = SchemeState(scheme)
        self._states[scheme.code] = state
        return state

    def _load(self, code: str) -> SchemeState | None:
        s = self.session
        scheme = s.scalars(select(Scheme).where(Scheme.code == code)).one_or_none()
        if scheme is None:
            return None
        state = SchemeState(scheme)
        cats = s.scalars(select(Category).where(Category.scheme_id == scheme.id)).all()
        state.categories = {c.code: c for c in cats}
        cat_code = {c.id: c.code for c in cats}
        for sec in s.scalars(select(Section).where(Section.category_id.in_(cat_code))):
            state.sections[(cat_code[sec.category_id], sec.code)] = sec
        units = s.scalars(select(Unit).where(Unit.scheme_id == scheme.id)).all()
        state.units = {u.code: u for u in units}
        unit_code = {u.id: u.code for u in units}
        inds = s.scalars(select(Indicator).where(Indicator.scheme_id == scheme.id)).all()
        state.indicators = {i.code: i for i in inds}
        ind_code = {i.id: i.code for i in inds}
        targets = s.scalars(select(Target).where(Target.scheme_id == scheme.id)
                            .options(selectinload(Target.co_units))).all()
        state.targets = {(unit_code[t.unit_id], ind_code[t.indicator_id]): t for t in targets}
        target_key = {t.id: key for key, t in state.targets.items()}
        reports = s.scalars(select(ProgressReport).join(Target)
                            .where(Target.scheme_id == scheme.id)).all()
        state.reports = {(*target_key[r.target_id], r.period, r.source): r for r in reports}
        events = s.scalars(select(Event).where(Event.scheme_id == scheme.id)).all()
        state.events = {e.code: e for e in events}
        return state
