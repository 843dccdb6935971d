"""Pages through the test client: dashboard, scorecard → explanation, progress, imports, English,
escaping of user-supplied text, upload limits."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import AuditEvent, ProgressReport, Scheme, Target, Unit, make_engine
from tests.web.conftest import csrf_token, login, make_app
from workflows.accounts import create_account


def test_dashboard_ranking_chart_and_heat_map(shared_app: Flask) -> None:
    client = shared_app.test_client()
    login(client, "auditor")
    page = client.get("/dashboard?scheme=DEMO-2024&category=county").get_data(as_text=True)
    assert 'id="ranking"' in page and "青溪县" in page
    assert 'id="score-chart"' in page and "/static/vendor/chart.umd.js" in page
    assert 'id="heatmap"' in page and "heat-" in page
    assert "https://" not in page  # nothing from a CDN
    with client.get("/static/vendor/chart.umd.js") as chart:
        assert chart.status_code == 200 and b"Chart" in chart.data


def test_scorecard_numbers_link_to_explanations(shared_app: Flask) -> None:
    client = shared_app.test_client()
    login(client, "office")
    page = client.get("/runs/2/units/C01").get_data(as_text=True)
    links = re.findall(r'href="(/runs/2/firings/\d+)"', page)
    assert len(links) > 20
    for link in links[:5] + links[-5:]:
        exp = client.get(link)
        assert exp.status_code == 200
        text = exp.get_data(as_text=True)
        assert 'id="rule"' in text and "- id:" in text and 'id="facts"' in text


def test_english_switch(shared_app: Flask) -> None:
    client = shared_app.test_client()
    login(client, "office")
    assert "考核总览" in client.get("/dashboard").get_data(as_text=True)
    switched = client.get("/lang/en?next=/dashboard")
    assert switched.status_code == 302 and switched.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Dashboard" in page and "考核总览" not in page and 'lang="en"' in page
    client.get("/lang/zh")
    assert "考核总览" in client.get("/dashboard").get_data(as_text=True)


def test_anonymous_sees_nothing_unpublished(shared_app: Flask) -> None:
    page = shared_app.test_client().get("/public").get_data(as_text=True)
    assert 'id="nothing-published"' in page and "青溪县" not in page


def _c01_target(demo_url: str) -> int:
    engine = make_engine(demo_url)
    with Session(engine) as s:
        target_id = s.scalars(select(Target.id).join(Unit, Unit.id == Target.unit_id)
                              .where(Unit.code == "C01").order_by(Target.id)).first()
    engine.dispose()
    assert target_id is not None
    return target_id


def test_reporter_reports_progress(app: Flask, demo_url: str) -> None:
    target_id = _c01_target(demo_url)
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():  # the demo year is over: reopen it (test_freeze_web: refused)
        s.execute(update(Scheme).values(cutoff_date=dt.date(2099, 12, 31)))
    engine.dispose()
    client = app.test_client()
    login(client, "reporter")
    form = client.get("/progress").get_data(as_text=True)
    assert "C01" in form and "C02 " not in form  # only its own unit's targets are offered
    response = client.post("/progress", data={"target": target_id, "period": "2024-11", "value": "12.5",
                                              "evidence": "青统〔2024〕11号",
                                              "csrf_token": csrf_token(client, "/progress")})
    assert response.status_code == 302
    saved = client.get("/progress").get_data(as_text=True)  # the demo has a 2024-11 report: replaced
    assert "已替换报送：C01" in saved and "2024-11，原值 " in saved and " → 新值 12.5" in saved
    bad = client.post("/progress", data={"target": target_id, "period": "2023-11", "value": "1",
                                         "csrf_token": csrf_token(client, "/progress")})
    assert bad.status_code == 422 and "outside the scheme" in bad.get_data(as_text=True)
    engine = make_engine(demo_url)
    with Session(engine) as s:
        report = s.scalars(select(ProgressReport).where(ProgressReport.target_id == target_id,
                                                        ProgressReport.period == "2024-11")).one()
        assert str(report.reported_value) == "12.5000" and report.source == "C01"
        bind, last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(2)).all()
        assert (last.action, last.actor) == ("progress.report", "reporter")
        assert (bind.action, bind.actor) == ("rows.bind", "reporter")  # the report's row, bound
        assert list(json.loads(bind.payload)["tables"]) == ["progress_report"]
    engine.dispose()


def test_reporter_cannot_report_for_another_unit(app: Flask, demo_url: str) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s:
        other = s.scalars(select(Target.id).join(Unit, Unit.id == Target.unit_id)
                          .where(Unit.code == "C02")).first()
    engine.dispose()
    client = app.test_client()
    login(client, "reporter")
    response = client.post("/progress", data={"target": other, "period": "2024-11", "value": "1",
                                              "csrf_token": csrf_token(client, "/progress")})
    assert response.status_code in (403, 422)  # not even offered as a choice
    token = csrf_token(client, "/progress")
    api = client.post("/api/v1/progress-reports",
                      json={"target_id": other, "period": "2024-11", "value": "1"},
                      headers={"X-CSRFToken": token})
    assert api.status_code == 403


def test_import_lists_row_level_errors(app: Flask) -> None:
    client = app.test_client()
    login(client, "office")
    bad_csv = ("方案代码,单位代码,指标代码,报送期,累计完成值,报送来源,报送时间\n"
               "DEMO-2024,C01,CK01,2024-13,abc,,2024-02-04 17:45:00\n"
               "DEMO-2024,NOPE,CK01,2024-05,1,,2024-06-04 17:45:00\n").encode("utf-8-sig")
    response = client.post("/imports", data={"file": (io.BytesIO(bad_csv), "进度.csv"), "kind": "progress",
                                             "csrf_token": csrf_token(client, "/imports")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="import-errors"' in page
    rows = re.findall(r"<tr><td>[^<]*</td><td>[^<]*</td><td>(\d+)</td>", page)
    assert {"2", "3"} <= set(rows)


def test_upload_type_and_size_limits(app: Flask) -> None:
    client = app.test_client()
    login(client, "office")
    wrong = client.post("/imports", data={"file": (io.BytesIO(b"x"), "evil.exe"),
                                          "csrf_token": csrf_token(client, "/imports")},
                        content_type="multipart/form-data")
    assert wrong.status_code == 422 and "xlsx" in wrong.get_data(as_text=True)
    token = csrf_token(client, "/imports")
    api_wrong = client.post("/api/v1/imports", data={"file": (io.BytesIO(b"x"), "evil.exe")},
                            content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert api_wrong.status_code == 415 and api_wrong.get_json()["error"] == "unsupported_media_type"
    big = b"a" * (300 * 1024)  # the test app takes 256 KiB
    too_big = client.post("/api/v1/imports", data={"file": (io.BytesIO(big), "big.csv")},
                          content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert too_big.status_code == 413 and too_big.get_json()["error"] == "payload_too_large"
    fake = client.post("/api/v1/imports", data={"file": (io.BytesIO(b"PK\x03\x04 not really"), "x.xlsx")},
                       content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert fake.status_code == 422 and fake.get_json()["details"]


def test_user_text_is_escaped(demo_url: str, tmp_path: Path) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        create_account(s, "mallory", "long-enough-1", display_name='<script>alert("x")</script>',
                       roles=["auditor"], actor="test")
    engine.dispose()
    app, eng = make_app(demo_url, tmp_path)
    client = app.test_client()
    login(client, "mallory", "long-enough-1")
    page = client.get("/dashboard").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(" in page
    login_page = client.get('/login?next="><script>x</script>').get_data(as_text=True)
    assert "<script>x</script>" not in login_page
    eng.dispose()


def test_published_results_are_public_with_the_window_countdown(demo_url: str, tmp_path: Path) -> None:
    import datetime as dt

    from store import Publication

    now = dt.datetime.now(dt.UTC)
    engine = make_engine(demo_url)
    with Session(engine) as s, s.begin():
        s.add(Publication(run_id=2, published_at=now, published_by="office",
                          window_ends_at=now + dt.timedelta(days=7, hours=1),
                          appeals_close_at=now + dt.timedelta(days=5)))
    engine.dispose()
    app, eng = make_app(demo_url, tmp_path)
    client = app.test_client()
    page = client.get("/public").get_data(as_text=True)
    assert "青溪县" in page and 'class="countdown"' in page and "剩余 7 天" in page
    # the server's text is the fallback; countdown.js ticks it with the translated format
    assert 'data-format="剩余 {d} 天 {h} 小时 {m} 分 {s} 秒"' in page and "/static/countdown.js" in page
    assert client.get("/api/v1/published").get_json()["runs"][0]["id"] == 2
    assert client.get("/dashboard").status_code == 302  # the rest stays closed
    eng.dispose()
