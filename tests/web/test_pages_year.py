"""The pages of the year's other cases: target adjustment requests and decisions, verification by
the office, supervision notices (respond, close, escalate) and the committee's seal of a run —
each allowed to its role and unit scope and refused to the others, with CSRF and stated versions.

Each test works on its own copy of the demo database; the demo reporter is scoped to C01.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import (
    Case,
    Publication,
    Run,
    Scheme,
    SupervisionNotice,
    Target,
    TargetAdjustment,
    Unit,
    Verification,
    make_engine,
)
from tests.web.conftest import csrf_token, login
from workflows.accounts import create_account
from workflows.cases import approve_cases, open_cases, publish, review_cases
from workflows.demo import DEMO_SCHEME_CODE
from workflows.year import raise_notices

RUN = 2


def _steps(page: str) -> list[tuple[str, str, str]]:
    """(actor, action, reason) of each row of a detail page's history table."""
    return re.findall(r'<td class="actor">([^<]*)</td><td class="action">([^<]*)</td><td>[^<]*</td>'
                      r'<td class="reason">([^<]*)</td>', page)


def _client(app: Flask, username: str, password: str | None = None) -> FlaskClient:
    client = app.test_client()
    login(client, username, password)
    return client


@contextmanager
def _session(url: str) -> Iterator[Session]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _target_form_data(url: str, code: str) -> tuple[int, dict[str, str]]:
    with _session(url) as s:
        target = s.scalars(select(Target).join(Unit, Target.unit_id == Unit.id).where(Unit.code == code)
                           .order_by(Target.id)).first()
        assert target is not None
        value = target.annual_value + 1
        data = {"unit": str(target.unit_id), "indicator": target.indicator.code, "annual_value": str(value),
                "reason": "flood damage"}
        if target.milestones:
            year_end = max(target.milestones)
            data["milestones"] = "\n".join(f"{m} {value if m == year_end else v}"
                                           for m, v in sorted(target.milestones.items()))
        return target.id, data


def _lift_cutoff(url: str) -> None:
    with _session(url) as s, s.begin():
        for scheme in s.scalars(select(Scheme)):
            scheme.adjustment_cutoff_date = None


def _adjustment(url: str, adjustment_id: int) -> tuple[str, int]:
    with _session(url) as s:
        a = s.get(TargetAdjustment, adjustment_id)
        assert a is not None
        return a.state, a.version


def test_adjustment_request_and_decision_pages(app: Flask, demo_url: str) -> None:
    _lift_cutoff(demo_url)
    own_target, own = _target_form_data(demo_url, "C01")
    _other_target, other = _target_form_data(demo_url, "C02")
    reporter = _client(app, "reporter")
    page = reporter.get("/adjustments")
    assert page.status_code == 200 and 'id="adjustment-form"' in page.get_data(as_text=True)
    token = csrf_token(reporter, "/adjustments")
    assert reporter.post("/adjustments", data=own).status_code == 400  # no CSRF token
    # another unit's id is not among the reporter's choices: the form refuses it without writing
    assert reporter.post("/adjustments", data={**other, "csrf_token": token}).status_code in (403, 422)
    made = reporter.post("/adjustments", data={**own, "csrf_token": token})
    assert made.status_code == 302, made.get_data(as_text=True)[-2000:]
    with _session(demo_url) as s:
        adj = s.scalars(select(TargetAdjustment)).one()
        adj_id, version = adj.id, adj.version
        assert adj.target_id == own_target and adj.requested_by == "reporter"

    auditor = _client(app, "auditor")
    atoken = csrf_token(auditor, "/login")
    assert auditor.post("/adjustments", data={**own, "csrf_token": atoken}).status_code == 403
    decision = {"csrf_token": token, "action": "approve", "version": str(version)}
    assert reporter.post(f"/adjustments/{adj_id}/decide", data=decision).status_code == 403
    office = _client(app, "office")
    assert f'id="adjustment-{adj_id}"' in office.get("/adjustments").get_data(as_text=True)
    otoken = csrf_token(office, "/adjustments")
    stale = office.post(f"/adjustments/{adj_id}/decide",
                        data={"csrf_token": otoken, "action": "approve", "version": str(version + 5)})
    assert stale.status_code == 412 and _adjustment(demo_url, adj_id)[0] == "requested"
    no_reason = office.post(f"/adjustments/{adj_id}/decide",
                            data={"csrf_token": otoken, "action": "reject", "version": str(version)})
    assert no_reason.status_code == 422 and _adjustment(demo_url, adj_id)[0] == "requested"
    done = office.post(f"/adjustments/{adj_id}/decide",
                       data={"csrf_token": otoken, "action": "approve", "version": str(version)})
    assert done.status_code == 302 and _adjustment(demo_url, adj_id)[0] == "approved"
    again = office.post(f"/adjustments/{adj_id}/decide",
                        data={"csrf_token": otoken, "action": "reject", "reason": "x",
                              "version": str(_adjustment(demo_url, adj_id)[1])})
    assert again.status_code == 409
    # the reporter sees its own unit's request, not others', and its page with the whole history
    listing = reporter.get("/adjustments").get_data(as_text=True)
    assert f'id="adjustment-{adj_id}"' in listing and f'href="/adjustments/{adj_id}"' in listing
    detail = reporter.get(f"/adjustments/{adj_id}")
    assert detail.status_code == 200
    shown = detail.get_data(as_text=True)
    assert _steps(shown) == [("reporter", "request", "flood damage"), ("office", "approve", "")]
    assert '<dd id="adjustment-state">approved</dd>' in shown and 'class="inline decide-form"' not in shown


def test_the_requester_cannot_decide_on_the_page(app: Flask, demo_url: str) -> None:
    _lift_cutoff(demo_url)
    with _session(demo_url) as s, s.begin():
        create_account(s, "office2", "second-office-pw-2024", display_name="市考核办 周强", roles=["office"],
                       actor="test")
    _tid, other = _target_form_data(demo_url, "C02")
    office = _client(app, "office")
    token = csrf_token(office, "/adjustments")
    assert office.post("/adjustments", data={**other, "csrf_token": token}).status_code == 302
    with _session(demo_url) as s:
        adj = s.scalars(select(TargetAdjustment)).one()
        adj_id, version = adj.id, adj.version
    own = office.post(f"/adjustments/{adj_id}/decide",
                      data={"csrf_token": token, "action": "approve", "version": str(version)})
    # the workflow's refusal in Chinese, with its details (who, which part); in English as it is
    assert own.status_code == 403
    assert "office 是本事项的申请人：须由另一人办理（职责分离）。" in own.get_data(as_text=True)
    office.get("/lang/en")
    in_english = office.post(f"/adjustments/{adj_id}/decide",
                             data={"csrf_token": token, "action": "approve", "version": str(version)})
    assert in_english.status_code == 403 and ("office is the requester: a different person must act "
                                              "(separation of duties)") in in_english.get_data(as_text=True)
    office.get("/lang/zh")
    assert _adjustment(demo_url, adj_id)[0] == "requested"
    # its page: the office reads it with the decision form; C01's reporter may not read C02's
    page = office.get(f"/adjustments/{adj_id}").get_data(as_text=True)
    assert 'class="inline decide-form"' in page and _steps(page) == [("office", "request", "flood damage")]
    assert _client(app, "reporter").get(f"/adjustments/{adj_id}").status_code == 403
    assert _client(app, "auditor").get(f"/adjustments/{adj_id}").status_code == 200
    assert app.test_client().get(f"/adjustments/{adj_id}").status_code == 302  # to the login page
    assert office.get("/adjustments/999999").status_code == 404
    office2 = _client(app, "office2", "second-office-pw-2024")
    decided = office2.post(f"/adjustments/{adj_id}/decide",
                           data={"csrf_token": csrf_token(office2, "/login"), "action": "reject",
                                 "reason": "not justified", "version": str(version)})
    assert decided.status_code == 302 and decided.headers["Location"].endswith(f"/adjustments/{adj_id}")
    assert _steps(office.get(f"/adjustments/{adj_id}").get_data(as_text=True)) == [
        ("office", "request", "flood damage"), ("office2", "reject", "not justified")]


def test_a_late_request_shows_the_cut_off(app: Flask, demo_url: str) -> None:
    _tid, own = _target_form_data(demo_url, "C01")
    reporter = _client(app, "reporter")
    late = reporter.post("/adjustments", data={**own, "csrf_token": csrf_token(reporter, "/adjustments")})
    shown = late.get_data(as_text=True)
    assert late.status_code == 409 and "的目标调整已于 2024-09-30 日终截止（调整截止日，北京时间）" in shown
    assert re.search(r"今天是 \d{4}-\d\d-\d\d：目标 C01 × \S+ 保持原值。", shown), shown[-3000:]


def test_verification_page_is_the_offices(app: Flask, demo_url: str) -> None:
    for name in ("reporter", "auditor", "committee", "reviewer"):
        assert _client(app, name).get("/verification").status_code == 403, name
    admin = _client(app, "admin")
    assert admin.get("/verification").status_code == 200
    assert admin.post("/verification", data={"csrf_token": csrf_token(admin, "/login")}).status_code == 403
    office = _client(app, "office")
    page = office.get("/verification")
    assert page.status_code == 200 and 'id="verify-report-form"' in page.get_data(as_text=True)
    token = csrf_token(office, "/verification")
    with _session(demo_url) as s:
        from store import ProgressReport

        report = s.scalars(select(ProgressReport).join(Target).join(Unit, Target.unit_id == Unit.id)
                           .where(Unit.code == "C01").order_by(ProgressReport.id)).first()
        assert report is not None
        data = {"csrf_token": token, "kind": "report", "unit": "C01",
                "indicator": report.target.indicator.code, "period": report.period, "source": report.source,
                "value": "1", "reason": "on-site check"}
    bad = office.post("/verification", data={**data, "value": "lots"})
    assert bad.status_code == 422 and "&#39;lots&#39; 不是数字。" in bad.get_data(as_text=True)
    assert office.post("/verification", data={**data, "reason": ""}).status_code == 422
    done = office.post("/verification", data=data)
    assert done.status_code == 302
    with _session(demo_url) as s:
        assert [v.value for v in s.scalars(select(Verification))] == [1]
    assert "on-site check" in office.get("/verification").get_data(as_text=True)


def _raise(url: str) -> list[tuple[int, str, int]]:
    with _session(url) as s, s.begin():
        raise_notices(s, RUN, actor="demo:office")
    with _session(url) as s:
        rows = s.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id))
        return [(n.id, n.unit.code, n.version) for n in rows]


def _notice_state(url: str, notice_id: int) -> tuple[str, int]:
    with _session(url) as s:
        n = s.get(SupervisionNotice, notice_id)
        assert n is not None
        return n.state, n.version


def test_the_office_issues_notices_from_the_notices_page(app: Flask, demo_url: str) -> None:
    reporter, office = _client(app, "reporter"), _client(app, "office")
    assert 'id="raise-form"' not in reporter.get("/notices").get_data(as_text=True)
    assert reporter.post("/notices", data={"csrf_token": csrf_token(reporter, "/login"),
                                           "run": str(RUN)}).status_code == 403
    page = office.get("/notices").get_data(as_text=True)
    assert 'id="raise-form"' in page and 'id="no-notices"' in page
    token = csrf_token(office, "/notices")
    assert office.post("/notices", data={"run": str(RUN)}).status_code == 400  # no CSRF token
    assert office.post("/notices", data={"csrf_token": token, "run": "999999"}).status_code == 422
    assert office.post("/notices", data={"csrf_token": token, "run": str(RUN),
                                         "due_days": "soon"}).status_code == 422
    with _session(demo_url) as s:
        assert s.scalars(select(SupervisionNotice)).first() is None
    issued = office.post("/notices", data={"csrf_token": token, "run": str(RUN), "due_days": "10"})
    assert issued.status_code == 302
    with _session(demo_url) as s:
        rows = list(s.scalars(select(SupervisionNotice)))
        assert rows and {(n.due_at - n.issued_at).days for n in rows} == {10}
        assert {n.issued_by for n in rows} == {"office"}
    listing = office.get("/notices").get_data(as_text=True)
    assert f"运算 {RUN}：新下发 {len(rows)} 份通知，升级 0 份，0 项此前已下发。" in listing
    assert all(f'id="notice-{n.id}"' in listing for n in rows)
    again = office.post("/notices", data={"csrf_token": token, "run": str(RUN)}, follow_redirects=True)
    done = again.get_data(as_text=True)
    assert f"运算 {RUN}：新下发 0 份通知，升级 0 份，{len(rows)} 项此前已下发。" in done
    with _session(demo_url) as s:
        assert len(list(s.scalars(select(SupervisionNotice)))) == len(rows)


def test_notice_pages_respond_close_escalate(app: Flask, demo_url: str) -> None:
    notices = _raise(demo_url)
    assert notices
    other = next(n for n in notices if n[1] != "C01")
    reporter, office = _client(app, "reporter"), _client(app, "office")
    listing = reporter.get("/notices").get_data(as_text=True)
    assert f'id="notice-{other[0]}"' not in listing
    assert f'id="notice-{other[0]}"' in office.get("/notices").get_data(as_text=True)
    rtoken, otoken = csrf_token(reporter, "/login"), csrf_token(office, "/login")
    refused = reporter.post(f"/notices/{other[0]}/respond",
                            data={"csrf_token": rtoken, "version": str(other[2]), "text": "we act"})
    assert refused.status_code == 403 and _notice_state(demo_url, other[0])[0] == "issued"
    assert office.post(f"/notices/{other[0]}/respond",
                       data={"csrf_token": otoken, "version": str(other[2]), "text": "x"}).status_code == 403
    auditor = _client(app, "auditor")
    assert auditor.post(f"/notices/{other[0]}/escalate",
                        data={"csrf_token": csrf_token(auditor, "/login"), "version": "1",
                              "text": "x"}).status_code == 403
    assert office.post(f"/notices/{other[0]}/nothing", data={"csrf_token": otoken}).status_code == 404
    assert office.post(f"/notices/{other[0]}/close",
                       data={"csrf_token": otoken, "version": str(other[2])}).status_code == 409
    stale = {"csrf_token": otoken, "version": str(other[2] + 3), "text": "late"}
    assert office.post(f"/notices/{other[0]}/escalate", data=stale).status_code == 412
    assert office.post(f"/notices/{other[0]}/escalate",
                       data={"csrf_token": otoken, "version": str(other[2])}).status_code == 422
    up = office.post(f"/notices/{other[0]}/escalate",
                     data={"csrf_token": otoken, "version": str(other[2]), "text": "no answer"})
    assert up.status_code == 302 and _notice_state(demo_url, other[0])[0] == "escalated"
    assert up.headers["Location"].endswith(f"/notices/{other[0]}")
    # the notice's page: its history and the notice it was escalated to, within scope only
    assert f'href="/notices/{other[0]}"' in office.get("/notices").get_data(as_text=True)
    page = office.get(f"/notices/{other[0]}").get_data(as_text=True)
    assert _steps(page)[-1] == ("office", "escalate", "no answer")
    assert '<dd id="notice-state">escalated</dd>' in page and 'id="escalated-to"' in page
    higher = re.search(r'id="escalated-to" href="/notices/(\d+)"', page)
    assert higher
    assert f'id="escalated-from" href="/notices/{other[0]}"' in office.get(
        f"/notices/{higher.group(1)}").get_data(as_text=True)
    assert reporter.get(f"/notices/{other[0]}").status_code == 403
    assert office.get("/notices/999999").status_code == 404

    # C01 has no notice in the demo year: a reporter of another warned unit answers its own
    nid, unit, version = next(n for n in notices if n[1] not in ("C01", other[1]))
    with _session(demo_url) as s, s.begin():
        create_account(s, "reporter.u", "unit-reporter-pw-2024", display_name=unit, roles=["reporter"],
                       actor="test", scheme_code=DEMO_SCHEME_CODE, unit_codes=(unit,))
    unit_reporter = _client(app, "reporter.u", "unit-reporter-pw-2024")
    page = unit_reporter.get(f"/notices/{nid}").get_data(as_text=True)
    assert 'class="inline respond-form"' in page and 'class="inline escalate-form"' not in page
    assert unit_reporter.get(f"/notices/{other[0]}").status_code == 403
    answered = unit_reporter.post(f"/notices/{nid}/respond",
                                  data={"csrf_token": csrf_token(unit_reporter, f"/notices/{nid}"),
                                        "version": str(version), "text": "we act"})
    assert answered.status_code == 302 and _notice_state(demo_url, nid)[0] == "responded"
    closed = office.post(f"/notices/{nid}/close",
                         data={"csrf_token": otoken, "version": str(_notice_state(demo_url, nid)[1]),
                               "text": "accepted"})
    assert closed.status_code == 302 and _notice_state(demo_url, nid)[0] == "closed"
    mine = unit_reporter.get(f"/notices/{nid}").get_data(as_text=True)
    assert _steps(mine)[-2:] == [("reporter.u", "respond", "we act"), ("office", "close", "accepted")]
    assert "we act · reporter.u" in mine and 'class="inline respond-form"' not in mine


def test_the_committee_seals_a_published_run_from_the_runs_page(app: Flask, demo_url: str) -> None:
    with _session(demo_url) as s, s.begin():
        create_account(s, "auditor2", "second-auditor-pw-2024", display_name="审计 二", roles=["auditor"],
                       actor="test")
    with _session(demo_url) as s, s.begin():
        open_cases(s, RUN, actor="office")
        ids = [c.id for c in s.scalars(select(Case).where(Case.run_id == RUN))]
        review_cases(s, ids, actor="auditor")
        approve_cases(s, ids, actor="demo:approver")
        publish(s, RUN, actor="demo:approver")
    committee = _client(app, "committee")
    page = committee.get("/runs").get_data(as_text=True)
    assert 'class="inline seal-form"' in page
    assert 'class="inline seal-form"' not in _client(app, "office").get("/runs").get_data(as_text=True)
    token = csrf_token(committee, "/login")
    assert committee.post(f"/runs/{RUN}/seal").status_code == 400  # no CSRF token
    early = committee.post(f"/runs/{RUN}/seal", data={"csrf_token": token})
    assert early.status_code == 409
    assert re.search(rf"运算 {RUN} 的公示期至 .+，现在是 .+：考核委员会须在公示期结束后封存。",
                     early.get_data(as_text=True))
    office = _client(app, "office")
    otoken = csrf_token(office, "/login")
    assert office.post(f"/runs/{RUN}/seal", data={"csrf_token": otoken}).status_code == 403
    with _session(demo_url) as s, s.begin():
        pub = s.scalars(select(Publication).where(Publication.run_id == RUN)).one()
        now = dt.datetime.now(dt.UTC)
        pub.published_at = now - dt.timedelta(days=10)
        pub.appeals_close_at = now - dt.timedelta(minutes=2)
        pub.window_ends_at = now - dt.timedelta(minutes=1)
    sealed = committee.post(f"/runs/{RUN}/seal", data={"csrf_token": token})
    assert sealed.status_code == 302
    with _session(demo_url) as s:
        assert s.get(Run, RUN).status == "sealed"  # type: ignore[union-attr]
    assert committee.post(f"/runs/{RUN}/seal", data={"csrf_token": token}).status_code == 409
