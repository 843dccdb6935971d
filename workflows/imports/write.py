"""Carrying out a validated plan in the caller's session: adds and updates, then one flush.

Only reached when the whole file validated, so every code resolves: against the rows loaded
from the database or the ones created earlier in this same write (sheets load in KIND_ORDER).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from store import Category, Event, Indicator, ProgressReport, Scheme, Section, Target, TargetCoUnit, Unit
from store.base import Base
from workflows.imports.catalog import Catalog, SchemeState
from workflows.imports.plan_scheme import GRADE_KEYS, SCHEME_FIELDS
from workflows.imports.planning import Planned

K = TypeVar("K")
M = TypeVar("M", bound=Base)


class Writer:
    def __init__(self, session: Session, catalog: Catalog, now: dt.datetime) -> None:
        self.session = session
        self.catalog = catalog
        self.now = now

    def _ensure(self, found: dict[K, M], key: K, make: Callable[[], M]) -> M:
        """The stored row under ``key``, or a new one added to the session and to ``found``."""
        obj = found.get(key)
        if obj is None:
            obj = make()
            self.session.add(obj)
            found[key] = obj
        return obj

    def apply(self, step: Planned) -> None:
        if step.action == "unchanged":
            return
        if step.kind == "scheme":
            self._scheme(step)
            return
        state = self.catalog.get(step.scheme)
        assert state is not None
        getattr(self, f"_{step.kind}")(state, step.record)

    def _scheme(self, step: Planned) -> None:
        state = self.catalog.get(step.scheme)
        if state is None:
            scheme = Scheme(status="draft", **{k: step.record[k] for k in SCHEME_FIELDS})
            self.session.add(scheme)
            self.catalog.add(scheme)
            return
        for key in SCHEME_FIELDS:
            setattr(state.scheme, key, step.record[key])

    def _categories(self, state: SchemeState, r: dict[str, Any]) -> None:
        category = self._ensure(state.categories, r["code"],
                                lambda: Category(scheme=state.scheme, code=r["code"], grade_rules={}))
        category.name_zh, category.name_en = r["name_zh"], r["name_en"]
        rules = {k: v for k, v in (category.grade_rules or {}).items() if k not in GRADE_KEYS}
        rules.update({k: r[k] for k in GRADE_KEYS if r[k] is not None})
        category.grade_rules = rules

    def _sections(self, state: SchemeState, r: dict[str, Any]) -> None:
        key = (r["category"], r["code"])
        section = self._ensure(state.sections, key,
                               lambda: Section(category=state.categories[r["category"]], code=r["code"]))
        section.name_zh, section.name_en, section.weight = r["name_zh"], r["name_en"], r["weight"]

    def _units(self, state: SchemeState, r: dict[str, Any]) -> None:
        unit = self._ensure(state.units, r["code"], lambda: Unit(scheme=state.scheme, code=r["code"]))
        unit.name, unit.level = r["name"], r["level"]
        unit.category = state.categories[r["category"]] if r["category"] else None

    def link_parents(self, steps: list[Planned]) -> None:
        """Set units' parents once every unit exists: a parent may be listed below its child."""
        for step in steps:
            if step.kind == "units" and step.action != "unchanged":
                state = self.catalog.get(step.scheme)
                assert state is not None
                parent = step.record["parent"]
                unit = state.units[str(step.record["code"])]
                unit.parent = state.units[parent] if isinstance(parent, str) else None

    def _indicators(self, state: SchemeState, r: dict[str, Any]) -> None:
        indicator = self._ensure(state.indicators, r["code"],
                                 lambda: Indicator(scheme=state.scheme, code=r["code"]))
        for key in ("name_zh", "name_en", "section", "measure", "direction", "method", "points",
                    "params", "source_department"):
            setattr(indicator, key, r[key])

    def _targets(self, state: SchemeState, r: dict[str, Any]) -> None:
        key = (r["unit"], r["indicator"])
        target = self._ensure(state.targets, key, lambda: Target(
            scheme=state.scheme, unit=state.units[r["unit"]], indicator=state.indicators[r["indicator"]]))
        target.annual_value = r["annual_value"]
        target.schedule_kind = r["schedule"]
        target.milestones = dict(r["milestones"])
        target.lead_unit = state.units[r["lead_unit"]]
        target.locked = bool(r["locked"])
        shares: dict[str, Decimal] = dict(r["co_units"])
        for co in list(target.co_units):
            code = next(c for c, u in state.units.items() if u.id == co.unit_id)
            if code in shares:
                co.share = shares.pop(code)
            else:
                target.co_units.remove(co)
                self.session.delete(co)
        for code, share in shares.items():
            target.co_units.append(TargetCoUnit(unit=state.units[code], share=share))
        if target.id is not None:
            flag_modified(target, "milestones")  # a co-unit change alone must bump the version too

    def _progress(self, state: SchemeState, r: dict[str, Any]) -> None:
        key = (r["unit"], r["indicator"], r["period"], r["source"])
        report = state.reports.get(key)
        if report is None:
            report = ProgressReport(target=state.targets[(r["unit"], r["indicator"])],
                                    period=r["period"], source=r["source"],
                                    reported_value=r["value"],
                                    submitted_at=r["submitted_at"] or self.now,
                                    evidence_ref=r["evidence"])
            self.session.add(report)
            state.reports[key] = report
        if r["verified_value"] is not None:
            report.verified_value, report.verified_by = r["verified_value"], r["verified_by"]
            report.verified_at = self.now

    def _events(self, state: SchemeState, r: dict[str, Any]) -> None:
        event = state.events.get(r["code"])
        if event is None:
            event = Event(scheme=state.scheme, code=r["code"], unit=state.units[r["unit"]],
                          kind=r["kind"], event_type=r["type"], level=r["level"], title=r["title"],
                          awarding_body=r["awarding_body"], document_no=r["document_no"],
                          document_date=r["document_date"], occurred_on=r["occurred_on"],
                          work_year=r["work_year"], dedupe_key=r["dedupe_key"],
                          quantity=r["quantity"], evidence_ref=r["evidence"],
                          indicator=state.indicators[r["indicator"]] if r["indicator"] else None)
            self.session.add(event)
            state.events[r["code"]] = event
        if r["verified_quantity"] is not None:
            event.verified_quantity, event.verified_by = r["verified_quantity"], r["verified_by"]
            event.verification_note = r["verification_note"]
            event.verified_at = self.now
