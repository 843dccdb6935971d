"""Verification (核减): a later verification supersedes the earlier with history kept, project
claims are only cut, the office of another unit verifies, a sealed scheme takes none."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, Event, ProgressReport, Verification
from tests.cases.year_support import account
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.year import verification_history, verify_event, verify_report
from workflows.year.common import find_target

OFFICE, OFFICE2 = "office.zhao", "office.qian"
T1 = dt.datetime(2024, 4, 20, 9, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.UTC)


def test_a_later_verification_supersedes_the_earlier_and_both_stay(ds: Session) -> None:
    first = verify_report(
        ds, "C01", "CK01", "2024-03", value=Decimal("5.1"), reason="统计局 data", actor=OFFICE, now=T1
    )
    second = verify_report(
        ds, "C01", "CK01", "2024-03", value=Decimal("5.4"), reason="revised by 统计局", actor=OFFICE2, now=T2
    )
    report = ds.get(ProgressReport, first.progress_report_id)
    assert report is not None
    assert (report.verified_value, report.verified_by, report.verification_note) == (
        Decimal("5.4"),
        OFFICE2,
        "revised by 统计局",
    )
    assert report.verified_at == T2
    history = verification_history(ds, report_id=report.id)
    assert [(v.seq, v.value, v.previous_value, v.supersedes_id) for v in history] == [
        (1, Decimal("5.1"), None, None),
        (2, Decimal("5.4"), Decimal("5.1"), first.id),
    ]
    assert second.claimed_value == report.reported_value
    events = ds.scalars(
        select(AuditEvent).where(AuditEvent.action == "verification.progress_report").order_by(AuditEvent.seq)
    ).all()
    assert [json.loads(e.payload)["value"] for e in events] == ["5.1", "5.4"]
    assert [e.seq for e in events] == [first.audit_seq, second.audit_seq]
    assert audit.verify(ds).ok


def test_a_project_claim_is_cut_never_raised(ds: Session) -> None:
    event = ds.scalars(select(Event).where(Event.code == "PRJ-02")).one()
    assert (event.quantity, event.verified_quantity) == (Decimal("15600"), Decimal("15600"))  # imported
    with pytest.raises(
        Invalid, match=re.escape("between 0 and the claimed 15600.0000, not 16000: verification cuts")
    ):
        verify_event(ds, "PRJ-02", quantity=Decimal(16000), reason="r", actor=OFFICE, now=T1)
    row = verify_event(
        ds, "PRJ-02", quantity=Decimal(900), reason="below the 10 million line", actor=OFFICE, now=T1
    )
    assert (row.seq, row.previous_value, row.supersedes_id) == (1, Decimal("15600"), None)
    assert (event.verified_quantity, event.verified_by, event.verification_note) == (
        Decimal(900),
        OFFICE,
        "below the 10 million line",
    )
    again = verify_event(ds, "PRJ-02", quantity=Decimal(0), reason="no document", actor=OFFICE2, now=T2)
    assert (again.seq, again.supersedes_id, event.verified_quantity) == (2, row.id, Decimal(0))
    assert [v.value for v in verification_history(ds, event_id=event.id)] == [Decimal(900), Decimal(0)]
    assert audit.verify(ds).ok


def test_refusals(ds: Session) -> None:
    with pytest.raises(Invalid, match="HON-01 is a honour, not a project claim"):
        verify_event(ds, "HON-01", quantity=Decimal(1), reason="r", actor=OFFICE, now=T1)
    with pytest.raises(NotFound, match="no event NOPE"):
        verify_event(ds, "NOPE", quantity=Decimal(1), reason="r", actor=OFFICE, now=T1)
    with pytest.raises(NotFound, match="no 2024-13 report of target C01 × CK01"):
        verify_report(ds, "C01", "CK01", "2024-13", value=Decimal(1), reason="r", actor=OFFICE, now=T1)
    with pytest.raises(Invalid, match="reason is required"):
        verify_report(ds, "C01", "CK01", "2024-03", value=Decimal(1), reason="", actor=OFFICE, now=T1)
    with pytest.raises(Invalid, match="at most four decimal places"):
        verify_report(
            ds, "C01", "CK01", "2024-03", value=Decimal("1.00001"), reason="r", actor=OFFICE, now=T1
        )
    assert ds.scalar(select(Verification.id)) is None


def test_only_the_office_outside_the_unit_verifies(ds: Session) -> None:
    account(ds, "reporter.c01", "reporter", "C01")
    account(ds, "office.c01", "office", "C01")
    with pytest.raises(
        Forbidden, match=re.escape("reporter.c01 lacks the role office that verification.set needs")
    ):
        verify_report(
            ds, "C01", "CK01", "2024-03", value=Decimal(1), reason="r", actor="reporter.c01", now=T1
        )
    with pytest.raises(Forbidden, match=re.escape("office.c01 is a member of the assessed unit C01")):
        verify_event(ds, "PRJ-01", quantity=Decimal(1), reason="r", actor="office.c01", now=T1)


def test_a_sealed_scheme_is_not_verified_again(ds: Session) -> None:
    find_target(ds, "C01", "CK01").scheme.status = "sealed"
    with pytest.raises(
        Conflict, match="scheme DEMO-2024 is sealed: the 2024-03 report of C01 × CK01 can no longer"
    ):
        verify_report(ds, "C01", "CK01", "2024-03", value=Decimal(1), reason="r", actor=OFFICE, now=T1)
    with pytest.raises(Conflict, match="scheme DEMO-2024 is sealed: event PRJ-01"):
        verify_event(ds, "PRJ-01", quantity=Decimal(1), reason="r", actor=OFFICE, now=T1)
