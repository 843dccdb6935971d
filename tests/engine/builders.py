"""Small builders for engine tests: snapshots by hand, packs from YAML snippets."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from typing import Any

from engine import RulePack, load_pack
from engine.facts import (
    CategoryFact,
    EventFact,
    IndicatorFact,
    PriorResult,
    ReportFact,
    SectionFact,
    Snapshot,
    TargetFact,
    UnitFact,
)

D = Decimal


def category(code: str = "county", **weights: int | str) -> CategoryFact:
    weights = weights or {"quant": 100}
    return CategoryFact(code, code, code, tuple(SectionFact(k, k, k, D(str(v))) for k, v in weights.items()))


def unit(code: str, cat: str | None = "county", level: str = "county", parent: str | None = None) -> UnitFact:
    return UnitFact(code, f"{code}名", level, cat, parent)


def indicator(
    code: str,
    points: str = "10",
    method: str = "proportional",
    section: str = "quant",
    direction: str = "higher",
    params: dict[str, Any] | None = None,
) -> IndicatorFact:
    return IndicatorFact(
        code, f"{code}指标", f"{code} indicator", section, "%", direction, method, D(points), params or {}
    )


def target(
    unit_code: str,
    ind: str,
    annual: str,
    *,
    co: tuple[tuple[str, str], ...] = (),
    milestones: tuple[tuple[str, str], ...] = (),
) -> TargetFact:
    return TargetFact(
        f"T-{unit_code}-{ind}",
        unit_code,
        ind,
        D(annual),
        "milestones" if milestones else "pro_rata",
        tuple((m, D(v)) for m, v in milestones),
        unit_code,
        tuple((u, D(s)) for u, s in co),
    )


def report(unit_code: str, ind: str, period: str, value: str, reported: str | None = None) -> ReportFact:
    verified = D(value) if reported is not None else None
    return ReportFact(
        f"R-{unit_code}-{ind}-{period}",
        unit_code,
        ind,
        period,
        D(value),
        D(reported if reported is not None else value),
        verified,
        "unit",
    )


def event(
    eid: str,
    unit_code: str,
    kind: str,
    event_type: str,
    level: str | None = None,
    *,
    title: str = "",
    document_no: str | None = "文1号",
    document_date: dt.date | None = dt.date(2024, 6, 1),
    work_year: int = 2024,
    dedupe_key: str | None = None,
    quantity: str | None = None,
    verified_quantity: str | None = None,
    indicator_code: str | None = None,
) -> EventFact:
    return EventFact(
        eid,
        unit_code,
        kind,
        event_type,
        level,
        title or eid,
        None,
        document_no,
        document_date,
        document_date,
        work_year,
        dedupe_key,
        D(quantity) if quantity else None,
        D(verified_quantity) if verified_quantity else None,
        indicator_code,
    )


def snapshot(
    *,
    period: str = "2024",
    categories: tuple[CategoryFact, ...] | None = None,
    units: tuple[UnitFact, ...] = (),
    indicators: tuple[IndicatorFact, ...] = (),
    targets: tuple[TargetFact, ...] = (),
    reports: tuple[ReportFact, ...] = (),
    events: tuple[EventFact, ...] = (),
    prior: tuple[PriorResult, ...] = (),
    overrides: tuple[Any, ...] = (),
    cutoff: dt.date = dt.date(2024, 12, 31),
    prior_cutoff: dt.date | None = dt.date(2023, 12, 31),
) -> Snapshot:
    return Snapshot(
        "T2024",
        2024,
        period,
        cutoff,
        categories or (category(),),
        units,
        indicators,
        targets,
        reports,
        events,
        prior,
        overrides,
        prior_cutoff,
    )


def pack(body: str, head: str = "pack: test\nversion: 1\n") -> RulePack:
    return load_pack(head + textwrap.dedent(body), "test.yaml")
