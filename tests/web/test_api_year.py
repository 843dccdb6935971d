"""The API of the year's other cases: target adjustments (a reporter for its own units, the office
decides, never the requester), verification by the office, supervision notices (the unit's
reporter responds, the office closes or escalates); If-Match, Idempotency-Key and scope.

Each test works on its own copy of the demo database; the demo reporter is scoped to C01.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, Event, ProgressReport, Scheme, SupervisionNotice, Target, Unit, make_engine
from tests.web.test_api_cases import Api
from workflows.accounts import create_account, issue_token
from workflows.year import raise_notices


@pytest.fixture
def apis(app: Flask, demo_url: str) -> Iterator[dict[str, Api]]:
    """Bearer-token clients of admin, office, office2, auditor, reviewer, committee and reporter."""
    engine = make_engine(demo_url)
    secrets: dict[str, str] = {}
    with Session(engine) as s, s.begin():
        create_account(s, "office2", "second-office-pw-2024", display_name="市考核办 周强", roles=["office"],
                       actor="test")
        for name in ("admin", "office", "office2", "auditor", "reviewer", "committee", "reporter"):
            account = s.scalars(select(Account).where(Account.username == name)).one()
            secrets[name] = issue_token(s, account, "tests", actor="test")[1]
    engine.dispose()
    yield {name: Api(app.test_client(), secret) for name, secret in secrets.items()}


@pytest.fixture
def db(demo_url: str) -> Iterator[Session]:
    engine = make_engine(demo_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _open_adjustments(db: Session) -> None:
    """The demo scheme's cut-off (2024-09-30) is long past: lift it for these tests."""
    with db.begin():
        for scheme in db.scalars(select(Scheme)):
            scheme.adjustment_cutoff_date = None


def _target(db: Session, unit: str) -> Target:
    return db.scalars(select(Target).join(Unit, Target.unit_id == Unit.id).where(Unit.code == unit)
                      .order_by(Target.id)).first()  # type: ignore[return-value]


def _request(api: Api, target: Target, **extra: Any) -> Any:
    value = target.annual_value + 1
    body: dict[str, Any] = {"unit": target.unit.code, "indicator": target.indicator.code,
                            "reason": "flood damage", "annual_value": str(value), **extra}
    if target.milestones:  # the year-end milestone moves with the annual value
        year_end = max(target.milestones)
        body["milestones"] = {**{k: str(v) for k, v in target.milestones.items()}, year_end: str(value)}
    return api.post("/adjustments", body)


def test_a_reporter_requests_for_its_own_unit_and_the_office_decides(
    apis: dict[str, Api], db: Session
) -> None:
    _open_adjustments(db)
    own, other = _target(db, "C01"), _target(db, "C02")
    new_value = own.annual_value + 1
    assert _request(apis["reporter"], other).status_code == 403
    assert _request(apis["auditor"], own).status_code == 403
    made = _request(apis["reporter"], own)
    assert made.status_code == 201, made.get_json()
    adj = made.get_json()
    assert adj["state"] == "requested" and adj["requested_by"] == "reporter"

    assert apis["reporter"].post(f"/adjustments/{adj['id']}/approve", {}).status_code == 403
    office = apis["office"]
    assert office.post(f"/adjustments/{adj['id']}/approve", {}).status_code == 428
    stale = office.post(f"/adjustments/{adj['id']}/approve", {}, headers={"If-Match": '"9"'})
    assert stale.status_code == 412 and stale.get_json()["error"] == "precondition_failed"
    first = {"If-Match": f'"{adj["version"]}"'}
    no_reason = office.post(f"/adjustments/{adj['id']}/reject", {}, headers=first)
    assert no_reason.status_code == 422
    approved = office.post(f"/adjustments/{adj['id']}/approve", {"reason": "ok"},
                           headers={"If-Match": f'"{adj["version"]}"'})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["state"] == "approved" and approved.get_json()["decided_by"] == "office"
    again = office.post(f"/adjustments/{adj['id']}/reject", {"reason": "no"},
                        headers={"If-Match": f'"{approved.get_json()["version"]}"'})
    assert again.status_code == 409
    db.expire_all()
    assert db.get(Target, own.id).annual_value == new_value  # type: ignore[union-attr]

    detail = apis["reporter"].get(f"/adjustments/{adj['id']}")
    assert detail.status_code == 200 and [h["action"] for h in detail.get_json()["history"]] == [
        "request", "approve"]
    assert detail.headers["ETag"] == f'"{approved.get_json()["version"]}"'


def test_the_requester_may_not_decide_its_own_request(apis: dict[str, Api], db: Session) -> None:
    _open_adjustments(db)
    adj = _request(apis["office"], _target(db, "C02")).get_json()
    own = apis["office"].post(f"/adjustments/{adj['id']}/approve", {},
                              headers={"If-Match": f'"{adj["version"]}"'})
    assert own.status_code == 403 and "requester" in own.get_json()["message"]
    other = apis["office2"].post(f"/adjustments/{adj['id']}/reject", {"reason": "not justified"},
                                 headers={"If-Match": f'"{adj["version"]}"'})
    assert other.status_code == 200 and other.get_json()["state"] == "rejected"


def test_after_the_cut_off_a_request_is_refused(apis: dict[str, Api], db: Session) -> None:
    late = _request(apis["reporter"], _target(db, "C01"))
    assert late.status_code == 409 and "cut-off" in late.get_json()["message"]
    assert apis["office"].get("/adjustments").get_json()["total"] == 0


def test_adjustments_are_listed_within_scope(apis: dict[str, Api], db: Session) -> None:
    _open_adjustments(db)
    assert _request(apis["reporter"], _target(db, "C01")).status_code == 201
    other = _request(apis["office"], _target(db, "C02")).get_json()
    mine = apis["reporter"].get("/adjustments").get_json()
    assert mine["total"] == 1 and mine["items"][0]["unit"] == "C01"
    assert apis["auditor"].get("/adjustments?state=requested").get_json()["total"] == 2
    assert apis["office"].get("/adjustments?unit=C02").get_json()["total"] == 1
    assert apis["reporter"].get(f"/adjustments/{other['id']}").status_code == 403
    assert apis["office"].get("/adjustments/999999").status_code == 404
    assert apis["office"].post("/adjustments", {"unit": "C01"}).status_code == 422


def _other_scheme(db: Session) -> None:
    """A second scheme holding a namesake of the reporter's C01 and a unit Z09 of its own."""
    import datetime as dt

    with db.begin():
        other = Scheme(code="OTHER-2025", year=2025, name="另一方案", status="draft",
                       cutoff_date=dt.date(2025, 12, 31), publication_days=7, appeal_days=5)
        db.add(other)
        db.flush()
        db.add_all([Unit(scheme_id=other.id, code="C01", name="同名县", level="county"),
                    Unit(scheme_id=other.id, code="Z09", name="外方案单位", level="county")])


def test_a_request_finds_its_unit_within_the_scheme_before_the_scope_check(
    apis: dict[str, Api], db: Session
) -> None:
    """Failed before: units were looked up by code across schemes and each had to be in scope, so
    another scheme's unit or namesake made a scope 403 instead of a 404, a 422 or the request."""
    _open_adjustments(db)
    _other_scheme(db)
    own = _target(db, "C01")
    scheme = own.scheme.code
    foreign = _request(apis["reporter"], own, unit="Z09", scheme=scheme)
    assert foreign.status_code == 404, foreign.get_json()
    assert foreign.get_json()["message"] == f"no unit 'Z09' in scheme {scheme}"
    ambiguous = _request(apis["reporter"], own)
    assert ambiguous.status_code == 422 and "name the scheme" in ambiguous.get_json()["message"]
    assert apis["office"].get("/adjustments").get_json()["total"] == 0
    made = _request(apis["reporter"], own, scheme=scheme)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["unit"] == "C01" and made.get_json()["target"] == own.id
    # out of scope inside the named scheme is still the scope's 403
    assert _request(apis["reporter"], _target(db, "C02"), scheme=scheme).status_code == 403


def test_the_office_verifies_reports_and_claims(apis: dict[str, Api], db: Session) -> None:
    report = db.scalars(select(ProgressReport).join(Target).join(Unit, Target.unit_id == Unit.id)
                        .where(Unit.code == "C01").order_by(ProgressReport.id)).first()
    assert report is not None
    body = {"unit": "C01", "indicator": report.target.indicator.code, "period": report.period,
            "source": report.source, "value": "1", "reason": "on-site check"}
    assert apis["reporter"].post("/verifications/reports", body).status_code == 403
    assert apis["auditor"].post("/verifications/reports", body).status_code == 403
    assert apis["office"].post("/verifications/reports", {**body, "reason": ""}).status_code == 422
    done = apis["office"].post("/verifications/reports", body)
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["value"] == "1" and done.get_json()["seq"] == 1
    history = apis["reporter"].get(f"/progress-reports/{report.id}/verifications")
    assert history.status_code == 200 and [v["seq"] for v in history.get_json()["items"]] == [1]
    assert apis["office"].get("/progress-reports/999999/verifications").status_code == 404
    missing = apis["office"].post("/verifications/reports", {**body, "period": "2024-01", "source": "nobody"})
    assert missing.status_code == 404

    claim = db.scalars(select(Event).where(Event.kind == "project_claim").order_by(Event.id)).first()
    if claim is not None and claim.quantity is not None:
        ev = {"code": claim.code, "quantity": str(claim.quantity + 1), "reason": "over the claim"}
        assert apis["office"].post("/verifications/events", ev).status_code == 422
        cut = apis["office"].post("/verifications/events", {**ev, "quantity": "0", "reason": "not built"})
        assert cut.status_code == 201, cut.get_json()
        assert apis["office"].get(f"/events/{claim.id}/verifications").get_json()["items"][0]["value"] == "0"
    assert apis["office"].post("/verifications/events", {"code": "NOPE", "quantity": "1",
                                                         "reason": "x"}).status_code == 404


def _raise(db: Session) -> list[SupervisionNotice]:
    with db.begin():
        raise_notices(db, 2, actor="demo:office")
    notices = list(db.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id)))
    assert notices, "the demo's year-end run raises notices"
    return notices


def test_the_office_raises_notices_from_a_run(apis: dict[str, Api], db: Session) -> None:
    for name in ("reporter", "auditor", "committee"):
        assert apis[name].post("/runs/2/notices", {}).status_code == 403, name
    assert apis["office"].post("/runs/999999/notices", {}).status_code == 404
    assert apis["office"].post("/runs/2/notices", {"due_days": 0}).status_code == 422
    raised = apis["office"].post("/runs/2/notices", {"due_days": 10}, headers={"Idempotency-Key": "r-1"})
    assert raised.status_code == 201, raised.get_json()
    body = raised.get_json()
    assert body["run"] == 2 and body["opened"] and body["already"] == 0
    assert {n["state"] for n in body["opened"]} == {"issued"}
    stored = list(db.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id)))
    assert [n.id for n in stored] == [n["id"] for n in body["opened"]]
    assert {(n.due_at - n.issued_at).days for n in stored} == {10}
    replay = apis["office"].post("/runs/2/notices", {"due_days": 10}, headers={"Idempotency-Key": "r-1"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json() == body
    again = apis["office"].post("/runs/2/notices", {}).get_json()
    assert again["opened"] == [] and again["escalated"] == [] and again["already"] == len(body["opened"])


def test_notices_respond_close_and_escalate(apis: dict[str, Api], db: Session) -> None:
    notices = _raise(db)
    own = [n for n in notices if n.unit.code == "C01"]
    other = [n for n in notices if n.unit.code != "C01"]
    listed = apis["reporter"].get("/notices?page_size=200").get_json()
    assert listed["total"] == len(own) and {n["unit"] for n in listed["items"]} <= {"C01"}
    assert apis["office"].get("/notices?page_size=200").get_json()["total"] == len(notices)

    target = other[0]
    assert apis["reporter"].get(f"/notices/{target.id}").status_code == 403
    assert apis["reporter"].post(f"/notices/{target.id}/respond", {"text": "we act"},
                                 headers={"If-Match": '"1"'}).status_code == 403
    assert apis["office"].post(f"/notices/{target.id}/respond", {"text": "x"},
                               headers={"If-Match": '"1"'}).status_code == 403
    assert apis["office"].get("/notices/999999").status_code == 404

    version = apis["office"].get(f"/notices/{target.id}").get_json()["version"]
    early = apis["office"].post(f"/notices/{target.id}/close", {}, headers={"If-Match": f'"{version}"'})
    assert early.status_code == 409  # nothing to accept before the unit responds
    esc = apis["office"].post(f"/notices/{target.id}/escalate", {"reason": "no answer"},
                              headers={"If-Match": f'"{version}"', "Idempotency-Key": "esc-1"})
    assert esc.status_code == 200, esc.get_json()
    assert esc.get_json()["escalated"]["state"] == "escalated"
    assert esc.get_json()["issued"]["escalated_from"] == target.id
    replay = apis["office"].post(f"/notices/{target.id}/escalate", {"reason": "no answer"},
                                 headers={"If-Match": f'"{version}"', "Idempotency-Key": "esc-1"})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == esc.get_json()
    assert apis["auditor"].post(f"/notices/{target.id}/escalate", {"reason": "x"},
                                headers={"If-Match": '"1"'}).status_code == 403

    if own:
        mine = apis["reporter"].get(f"/notices/{own[0].id}").get_json()
        assert apis["reporter"].post(f"/notices/{mine['id']}/respond", {"text": "we act"}).status_code == 428
        answered = apis["reporter"].post(f"/notices/{mine['id']}/respond",
                                         {"text": "we act", "evidence_ref": "doc 7"},
                                         headers={"If-Match": f'"{mine["version"]}"'})
        assert answered.status_code == 200 and answered.get_json()["state"] == "responded"
        closed = apis["office"].post(f"/notices/{mine['id']}/close", {"reason": "accepted"},
                                     headers={"If-Match": f'"{answered.get_json()["version"]}"'})
        assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
        history = apis["reporter"].get(f"/notices/{mine['id']}").get_json()["history"]
        assert [h["action"] for h in history][-2:] == ["respond", "close"]
