"""Freezing the database into a run's snapshot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from engine import PeriodError, Snapshot, parse_period
from store import Event, Indicator, ProgressReport, Section, Target, Unit
from tests.factories import make_scheme_with_category
from workflows.errors import Invalid, NotFound
from workflows.snapshot import build_snapshot, find_scheme

UTC = dt.UTC


def _city(session: Session) -> None:
    scheme, county = make_scheme_with_category(session)
    session.add_all([
        Section(category=county, code="quantitative", name_zh="定量指标", name_en="Quantitative",
                weight=Decimal(100)),
    ])
    a = Unit(scheme=scheme, code="C01", name="东岭县", level="county", category=county)
    b = Unit(scheme=scheme, code="C02", name="西河县", level="county", category=county)
    gdp = Indicator(scheme=scheme, code="GDP", name_zh="地区生产总值增速", name_en="GDP growth",
                    section="quantitative", measure="%", direction="higher", method="proportional",
                    points=Decimal(10), params={"ceiling": "1.2"}, source_department="市统计局")
    session.add_all([a, b, gdp])
    session.flush()
    ta = Target(scheme=scheme, unit=a, indicator=gdp, annual_value=Decimal("6.5"), lead_unit=a,
                milestones={})
    tb = Target(scheme=scheme, unit=b, indicator=gdp, annual_value=Decimal("6.0"), lead_unit=b,
                schedule_kind="milestones", milestones={"06": "3", "12": "6"})
    session.add_all([ta, tb])
    session.flush()
    at = dt.datetime(2024, 4, 5, tzinfo=UTC)
    session.add_all([
        ProgressReport(target=ta, period="2024-03", reported_value=Decimal("1.9"), source="C01",
                       submitted_at=at),
        ProgressReport(target=ta, period="2024-03", reported_value=Decimal("1.6"), source="市统计局",
                       submitted_at=at),
        ProgressReport(target=tb, period="2024-03", reported_value=Decimal("1.5"), source="C02",
                       submitted_at=at, verified_value=Decimal("1.2"), verified_by="王审核",
                       verified_at=at),
        ProgressReport(target=tb, period="2024-09", reported_value=Decimal("4.4"), source="C02",
                       submitted_at=at),
        Event(scheme=scheme, code="E1", unit=a, kind="honour", event_type="honour",
              level="national", title="全国文明城市", document_no="国文〔2024〕1号",
              document_date=dt.date(2024, 2, 1), work_year=2024),
        Event(scheme=scheme, code="E2", unit=b, kind="honour", event_type="honour",
              level="provincial", title="省级示范县", document_no="省〔2024〕9号",
              document_date=dt.date(2024, 11, 1), work_year=2024),
    ])
    session.flush()



def test_snapshot_takes_the_authoritative_and_verified_figures(session: Session) -> None:
    _city(session)
    snap = build_snapshot(session, find_scheme(session, "T2024"), parse_period("2024-Q1"))
    by_unit = {r.unit: r for r in snap.reports}
    assert by_unit["C01"].source == "市统计局"  # statistics bureau outranks the unit's own figure
    assert by_unit["C01"].value == Decimal("1.6")
    assert by_unit["C02"].value == Decimal("1.2")  # the verified value, not the reported 1.5
    assert by_unit["C02"].reported_value == Decimal("1.5")
    assert [r.period for r in snap.reports] == ["2024-03", "2024-03"]  # September is not due yet
    assert [e.id for e in snap.events] == ["E1"]  # the November honour is not due in Q1
    milestones = {t.unit: t.milestones for t in snap.targets}
    assert milestones["C02"] == (("2024-06", Decimal(3)), ("2024-12", Decimal(6)))


def test_snapshot_round_trips_through_canonical_json(session: Session) -> None:
    _city(session)
    snap = build_snapshot(session, find_scheme(session, "2024"), parse_period("2024"))
    again = Snapshot.from_json(snap.canonical_bytes())
    assert again == snap
    assert again.sha256() == snap.sha256()
    assert len(snap.events) == 2 and len(snap.reports) == 3


def test_unknown_scheme_and_bad_periods_are_named(session: Session) -> None:
    _city(session)
    with pytest.raises(NotFound, match="no scheme with code or year 'X'"):
        find_scheme(session, "X")
    with pytest.raises(PeriodError, match="2024-13"):
        parse_period("2024-13")
    with pytest.raises(PeriodError, match="not YYYY"):
        parse_period("2024Q3")
    with pytest.raises(Invalid, match="outside scheme T2024"):
        build_snapshot(session, find_scheme(session, "T2024"), parse_period("2023"))


def test_definitions_only_snapshot_has_no_facts(session: Session) -> None:
    _city(session)
    snap = build_snapshot(session, find_scheme(session, "T2024"), parse_period("2024"), with_facts=False)
    assert [u.code for u in snap.units] == ["C01", "C02"] and [i.code for i in snap.indicators] == ["GDP"]
    assert snap.targets == () and snap.reports == () and snap.events == ()
