"""A year that freezes, on the pages and the API: the demo scheme is in force and its cut-off
(2024-12-31) has passed; a published run's months and a sealed year are refused too. Each refusal
is checked for its message — in Chinese on the pages, with no English left — and for changing
nothing; a replaced report shows old → new.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import ProgressReport, Scheme, Target, Unit, make_engine
from tests.web.conftest import _copy_db, _drop_db, csrf_token, login, make_app
from workflows.cases import approve_cases, open_cases, publish, review_cases, seal

Q3_RUN, YEAR_RUN = 1, 2  # the demo's runs (workflows.demo_web.DEMO_PERIODS)
NOW = dt.datetime.now(dt.UTC)


def _prepared(template: str, tmp: Path, run_id: int, *, sealed: bool) -> str:
    """A copy of the demo whose ``run_id`` is published (cut-off lifted) or, with ``sealed``, sealed."""
    url = _copy_db(template, tmp)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(update(Scheme).values(cutoff_date=dt.date(2099, 12, 31)))
        ids = [c.id for c in open_cases(session, run_id, actor="office").opened]
        review_cases(session, ids, actor="auditor")
        approve_cases(session, ids, actor="office")
        at = NOW - dt.timedelta(days=30)
        publish(session, run_id, actor="office", now=at)
        if sealed:
            seal(session, run_id, actor="committee", now=at + dt.timedelta(days=8))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def cut_off(module_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    flask_app, engine = make_app(module_demo_url, tmp_path_factory.mktemp("cutoff"))
    yield flask_app, module_demo_url
    engine.dispose()


@pytest.fixture(scope="module")
def published(demo_template_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    tmp = tmp_path_factory.mktemp("published")
    url = _prepared(demo_template_url, tmp, Q3_RUN, sealed=False)
    flask_app, engine = make_app(url, tmp)
    yield flask_app, url
    engine.dispose()
    _drop_db(url)


@pytest.fixture(scope="module")
def sealed(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    tmp = tmp_path_factory.mktemp("sealed")
    url = _prepared(demo_template_url, tmp, YEAR_RUN, sealed=True)
    flask_app, engine = make_app(url, tmp)
    yield flask_app, url
    engine.dispose()
    _drop_db(url)


def _client(app: Flask, who: str) -> FlaskClient:
    client = app.test_client()
    login(client, who)
    return client


def _target(url: str, unit: str = "C01", indicator: str = "CQ05") -> int:
    engine = make_engine(url)
    with Session(engine) as s:
        found = s.scalars(select(Target.id).join(Unit, Unit.id == Target.unit_id)
                          .where(Unit.code == unit, Target.indicator.has(code=indicator))).one()
    engine.dispose()
    return found


def _value(url: str, target_id: int, period: str) -> Decimal | None:
    engine = make_engine(url)
    with Session(engine) as s:
        found = s.scalars(select(ProgressReport.reported_value).where(
            ProgressReport.target_id == target_id, ProgressReport.period == period)).first()
    engine.dispose()
    return found


def _post_progress(client: FlaskClient, target_id: int, period: str, value: str) -> tuple[int, str]:
    response = client.post("/progress", data={"target": target_id, "period": period, "value": value,
                                              "csrf_token": csrf_token(client, "/progress")})
    return response.status_code, response.get_data(as_text=True)


def _api_progress(client: FlaskClient, target_id: int, period: str, value: str) -> tuple[int, dict[str, str]]:
    response = client.post("/api/v1/progress-reports", json={"target_id": target_id, "period": period,
                                                             "value": value},
                           headers={"X-CSRFToken": csrf_token(client, "/progress")})
    return response.status_code, response.get_json()


# --- after the cut-off (the demo as it is) -------------------------------------------------------


def test_a_report_after_the_cut_off_is_refused_on_the_page_and_the_api(cut_off: tuple[Flask, str]) -> None:
    app, url = cut_off
    target = _target(url)
    before = _value(url, target, "2024-11")
    reporter = _client(app, "reporter")
    form = reporter.get("/progress").get_data(as_text=True)  # said before anything is typed
    assert "考核方案 DEMO-2024 的进度报送已于 2024-12-31 日终截止（北京时间）：如需更正，请考核办核定。" \
        in form
    status, page = _post_progress(reporter, target, "2024-11", "99")
    assert status == 409 or status == 422
    today = (NOW + dt.timedelta(hours=8)).date().isoformat()
    message = ("考核方案 DEMO-2024 的进度报送已于 2024-12-31 日终截止（截止日期，北京时间）；"
               f"今天是 {today}：C01 × CQ05 2024-11 的报送不再受理；如需更正，请考核办核定。")
    assert message in page
    status, body = _api_progress(reporter, target, "2024-11", "99")
    assert status == 409
    assert body["message"].startswith("progress reports of scheme DEMO-2024 closed at the end of 2024-12-31")
    assert _value(url, target, "2024-11") == before


def test_an_import_after_the_cut_off_is_refused_in_chinese(cut_off: tuple[Flask, str]) -> None:
    app, _url = cut_off
    office = _client(app, "office")
    late = ("方案代码,单位代码,指标代码,报送期,累计完成值,报送来源,报送时间\n"
            "DEMO-2024,C01,CQ05,2024-11,99,统计局,2025-01-05 10:00:00\n").encode("utf-8-sig")
    response = office.post("/imports", data={"file": (io.BytesIO(late), "进度.csv"), "kind": "progress",
                                             "csrf_token": csrf_token(office, "/imports")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "考核方案 DEMO-2024 的进度报送已于 2024-12-31 日终截止" in page
    assert "progress reports of scheme" not in page


def test_the_scheme_page_shows_its_lifecycle_and_the_api_too(cut_off: tuple[Flask, str]) -> None:
    app, _url = cut_off
    office = _client(app, "office")
    page = office.get("/schemes/DEMO-2024").get_data(as_text=True)
    assert 'id="status">已生效<' in page and "江澄市2024年度考核办法印发施行（演示）" in page
    assert 'id="lock-form"' not in page  # already in force
    assert 'href="/schemes/DEMO-2024"' in office.get("/dashboard").get_data(as_text=True)
    life = office.get("/api/v1/schemes/DEMO-2024/lifecycle").get_json()
    assert life["status"] == "locked"
    assert [(t["action"], t["from"], t["to"]) for t in life["transitions"]] == [
        ("scheme.lock", "draft", "locked")]
    again = office.post("/api/v1/schemes/DEMO-2024/lock", json={"reason": "again"},
                        headers={"X-CSRFToken": csrf_token(office, "/progress")})
    assert again.status_code == 409 and "'lock' is not allowed from locked" in again.get_json()["message"]
    reporter = _client(app, "reporter")
    refused = reporter.post("/api/v1/schemes/DEMO-2024/lock", json={"reason": "x"},
                            headers={"X-CSRFToken": csrf_token(reporter, "/progress")})
    assert refused.status_code == 403


# --- after publication ---------------------------------------------------------------------------


def test_a_units_correction_of_a_published_month_is_refused(published: tuple[Flask, str]) -> None:
    app, url = published
    target = _target(url)
    before = _value(url, target, "2024-09")
    reporter = _client(app, "reporter")
    status, page = _post_progress(reporter, target, "2024-09", "99")
    assert status in (409, 422)
    assert re.search(r"C01 × CQ05 2024-09 的报送已用于第 1 次考核计分（2024-Q3，\S+ 公示）：不再受理更正；"
                     r"请对第 1 次考核计分提出申诉，或请考核办核定。", page)
    status, body = _api_progress(reporter, target, "2024-09", "99")
    assert status == 409 and "was read by run 1 (2024-Q3)" in body["message"]
    assert "file an appeal (申诉) against run 1, or ask the office to verify (核定)" in body["message"]
    assert _value(url, target, "2024-09") == before


def test_a_replaced_report_shows_old_and_new(published: tuple[Flask, str]) -> None:
    app, url = published
    target = _target(url)
    old = _value(url, target, "2024-10")
    assert old is not None
    reporter = _client(app, "reporter")
    status, _page = _post_progress(reporter, target, "2024-10", "33.3")
    assert status == 302
    shown = reporter.get("/progress").get_data(as_text=True)
    plain = format(old.normalize(), "f")
    assert f"已替换报送：C01 CQ05 2024-10，原值 {plain} → 新值 33.3" in shown
    status, body = _api_progress(reporter, target, "2024-10", "34")
    assert status == 201 and Decimal(body["previous_value"]) == Decimal("33.3")


# --- after the seal ------------------------------------------------------------------------------


def test_after_the_seal_pages_and_api_refuse_every_write(sealed: tuple[Flask, str]) -> None:
    app, url = sealed
    target = _target(url)
    before = _value(url, target, "2024-11")
    reporter = _client(app, "reporter")
    status, page = _post_progress(reporter, target, "2024-11", "99")
    assert status in (409, 422)
    assert "考核方案 DEMO-2024 已定案：C01 × CQ05 2024-11 的报送 不能再变更。" in page
    form = reporter.get("/progress").get_data(as_text=True)
    assert "考核方案 DEMO-2024 已定案：其进度报送不能再变更。" in form
    status, body = _api_progress(reporter, target, "2024-11", "99")
    assert status == 409
    assert body["message"] == ("scheme DEMO-2024 is sealed: the 2024-11 report of C01 × CQ05 can no longer "
                               "change")
    assert _value(url, target, "2024-11") == before
    office = _client(app, "office")
    verify = office.post("/verification", data={
        "kind": "report", "unit": "C01", "indicator": "CQ05", "period": "2024-12", "value": "1",
        "reason": "更正", "csrf_token": csrf_token(office, "/verification")})
    text = verify.get_data(as_text=True)
    assert verify.status_code == 409
    assert "考核方案 DEMO-2024 已定案：C01 × CQ05 2024-12 的报送 不能再变更。" in text
    api = office.post("/api/v1/verifications/reports", json={
        "unit": "C01", "indicator": "CQ05", "period": "2024-12", "value": "1", "reason": "r"},
        headers={"X-CSRFToken": csrf_token(office, "/progress")})
    assert api.status_code == 409 and "is sealed" in api.get_json()["message"]
    rows = ("方案代码,单位代码,指标代码,报送期,累计完成值,报送来源,报送时间\n"
            "DEMO-2024,C01,CQ05,2024-01,1,统计局,2024-02-05 10:00:00\n").encode("utf-8-sig")
    imported = office.post("/imports", data={"file": (io.BytesIO(rows), "进度.csv"), "kind": "progress",
                                             "csrf_token": csrf_token(office, "/imports")},
                           content_type="multipart/form-data")
    assert imported.status_code == 422
    assert "考核方案 DEMO-2024 已定案：不能再导入任何数据。" in imported.get_data(as_text=True)
    page = office.get("/schemes/DEMO-2024").get_data(as_text=True)
    assert 'id="status">已定案<' in page
    life = office.get("/api/v1/schemes/DEMO-2024/lifecycle").get_json()
    assert [t["action"] for t in life["transitions"]] == ["scheme.lock", "scheme.seal"]


def test_the_backstops_refusal_reads_in_the_offices_words(sealed: tuple[Flask, str]) -> None:
    from web.domain_text import translated

    app, _url = sealed
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert translated("scheme DEMO-2024 is sealed: no new run can be added") == \
            "考核方案 DEMO-2024 已定案：不能再新增考核计分。"
        assert translated("scheme DEMO-2024 is sealed: run_case 12 can no longer change") == \
            "考核方案 DEMO-2024 已定案：扣分事项 12 的记录 不能再变更。"
