"""End-to-end journeys in a real browser: Debian's chromium, headless, driven by Playwright.

The app runs in a thread on a free loopback port against a fresh copy of the demo database.
Screenshots of the key pages go to artifacts/screenshots/ (kept by CI). Chromium is installed by
`make browser` (apt), never by `playwright install`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.web.conftest import PASSWORDS, make_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() and os.environ.get("CI") != "true",
                       reason="no /usr/bin/chromium: run `make browser`"),
]


@pytest.fixture(scope="module")
def base_url(module_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app, engine = make_app(module_demo_url, tmp_path_factory.mktemp("browser"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _page(browser: object, base_url: str) -> object:
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=base_url, viewport={"width": 1400, "height": 900}, locale="zh-CN")
    return context.new_page()


def _shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _login(page: object, username: str) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORDS[username])  # type: ignore[attr-defined]
    page.click("#login-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def test_anonymous_reader_is_refused_non_public_pages(browser: object, base_url: str) -> None:
    page = _page(browser, base_url)
    page.goto("/dashboard")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    _shot(page, "01-login")
    page.goto("/public")  # type: ignore[attr-defined]
    assert page.locator("#nothing-published").is_visible()  # type: ignore[attr-defined]
    _shot(page, "02-public-anonymous")
    page.context.close()  # type: ignore[attr-defined]


def test_office_dashboard_scorecard_explanation_and_english(browser: object, base_url: str) -> None:
    page = _page(browser, base_url)
    _login(page, "office")
    assert "/dashboard" in page.url  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#score-chart').width > 0")  # type: ignore[attr-defined]
    _shot(page, "03-dashboard-office")
    page.click("#ranking tbody tr:first-child a")  # type: ignore[attr-defined]
    assert "/units/" in page.url  # type: ignore[attr-defined]
    _shot(page, "04-scorecard")
    page.click("a.points >> nth=0")  # type: ignore[attr-defined]
    assert "/firings/" in page.url  # type: ignore[attr-defined]
    assert page.locator("#rule pre").is_visible()  # type: ignore[attr-defined]
    _shot(page, "05-explanation")
    page.click("#lang-switch")  # type: ignore[attr-defined]
    assert page.locator("html").get_attribute("lang") == "en"  # type: ignore[attr-defined]
    assert "Matched facts" in page.content()  # type: ignore[attr-defined]
    _shot(page, "06-explanation-en")
    page.goto("/public")  # type: ignore[attr-defined]
    _shot(page, "07-public-preview-en")
    page.context.close()  # type: ignore[attr-defined]


def test_reporter_reports_progress(browser: object, base_url: str) -> None:
    page = _page(browser, base_url)
    _login(page, "reporter")
    assert "/me" in page.url  # type: ignore[attr-defined]
    _shot(page, "08-reporter-home")
    page.goto("/progress")  # type: ignore[attr-defined]
    page.fill("input[name=period]", "2024-10")  # type: ignore[attr-defined]
    page.fill("input[name=value]", "33.3")  # type: ignore[attr-defined]
    page.fill("input[name=evidence]", "青统〔2024〕10号")  # type: ignore[attr-defined]
    page.click("#progress-form button[type=submit]")  # type: ignore[attr-defined]
    assert page.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    _shot(page, "09-progress-saved")
    response = page.goto("/dashboard")  # type: ignore[attr-defined]
    assert response.status == 403
    _shot(page, "10-reporter-refused-dashboard")
    page.context.close()  # type: ignore[attr-defined]


def test_import_with_errors(browser: object, base_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "进度.csv"
    bad.write_text("方案代码,单位代码,指标代码,报送期,累计完成值,报送来源,报送时间\n"
                   "DEMO-2024,C01,CK01,2024-13,abc,,2024-02-04 17:45:00\n", encoding="utf-8-sig")
    page = _page(browser, base_url)
    _login(page, "office")
    page.goto("/imports")  # type: ignore[attr-defined]
    page.set_input_files("input[name=file]", str(bad))  # type: ignore[attr-defined]
    page.select_option("select[name=kind]", "progress")  # type: ignore[attr-defined]
    page.click("#import-form button[type=submit]")  # type: ignore[attr-defined]
    assert page.locator("#import-errors").is_visible()  # type: ignore[attr-defined]
    _shot(page, "11-import-errors")
    page.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("username", ["admin", "auditor", "reviewer", "committee"])
def test_each_role_lands_on_its_home(browser: object, base_url: str, username: str) -> None:
    page = _page(browser, base_url)
    _login(page, username)
    assert "/dashboard" in page.url  # type: ignore[attr-defined]
    _shot(page, f"12-home-{username}")
    page.context.close()  # type: ignore[attr-defined]


# --- the year's workflow, end to end -------------------------------------------------------------

JOURNEY_UNIT = "D46"  # rank 17 of the departments in the demo year, with three schedule-lag deductions
EXTRA = {"office.head": ("office-head-pw-2024", "office", ()),
         "reporter.d46": ("reporter-d46-pw-2024", "reporter", (JOURNEY_UNIT,))}
PDF = b"%PDF-1.4\n% rectification report\n%%EOF\n"


@pytest.fixture(scope="module")
def journey_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from sqlalchemy.orm import Session

    from store import make_engine
    from tests.web.conftest import _copy_db, _drop_db
    from workflows.accounts import create_account
    from workflows.demo import DEMO_SCHEME_CODE

    url = _copy_db(demo_template_url, tmp_path_factory.mktemp("journey"))
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        for name, (password, role, units) in EXTRA.items():
            create_account(s, name, password, display_name=name, roles=[role], actor="test",
                           scheme_code=DEMO_SCHEME_CODE if units else None, unit_codes=units)
    engine.dispose()
    yield url
    _drop_db(url)


@pytest.fixture(scope="module")
def journey_base(journey_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app, engine = make_app(journey_url, tmp_path_factory.mktemp("journey-app"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    engine.dispose()


def _as(browser: object, base: str, username: str) -> object:
    page = _page(browser, base)
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", EXTRA[username][0] if username in EXTRA else PASSWORDS[username])  # type: ignore[attr-defined]
    page.click("#login-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    return page


def _select_all_and(page: object, button: str) -> None:
    page.check("#select-all")  # type: ignore[attr-defined]
    page.click(button)  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def test_the_year_from_run_to_superseding_rank(browser: object, journey_base: str, tmp_path: Path) -> None:
    """The office runs the year; an auditor asks why a unit was deducted and reviews; the office may
    not approve its own run's cases (four eyes) and a second member approves; published; the unit
    appeals inside the window with evidence; a reviewer overturns; the superseding run's rank moves."""
    office = _as(browser, journey_base, "office")
    office.goto("/runs")  # type: ignore[attr-defined]
    office.fill("#run-form input[name=period]", "2024")  # type: ignore[attr-defined]
    office.click("#run-form button[type=submit]")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert "/cases" in office.url  # type: ignore[attr-defined]
    run_id = int(office.url.split("/runs/")[1].split("/")[0])  # type: ignore[attr-defined]
    office.click("#open-form button")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert office.locator("#cases tbody tr").count() > 100  # type: ignore[attr-defined]
    _shot(office, "20-queue-opened")

    auditor = _as(browser, journey_base, "auditor")
    auditor.goto(f"/runs/{run_id}/units/{JOURNEY_UNIT}")  # type: ignore[attr-defined]
    old_rank = int(auditor.inner_text("#rank"))  # type: ignore[attr-defined]
    auditor.click(".effect-deduction a.points >> nth=0")  # type: ignore[attr-defined]
    assert auditor.locator("#history").is_visible()  # type: ignore[attr-defined]
    assert "proposed" in auditor.inner_text("#history")  # type: ignore[attr-defined]
    _shot(auditor, "21-why-deducted")
    auditor.goto(f"/runs/{run_id}/cases?state=proposed")  # type: ignore[attr-defined]
    _select_all_and(auditor, "#do-review")
    assert auditor.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    _shot(auditor, "22-reviewed")

    office.goto(f"/runs/{run_id}/cases?state=reviewed")  # type: ignore[attr-defined]
    _select_all_and(office, "#do-approve")
    assert office.locator(".flash.error").is_visible()  # type: ignore[attr-defined]
    assert "office 是本事项的提出人：须由另一人办理（职责分离）。" in office.content()  # type: ignore[attr-defined]
    _shot(office, "23-same-person-refused")

    head = _as(browser, journey_base, "office.head")
    head.goto(f"/runs/{run_id}/cases?state=reviewed")  # type: ignore[attr-defined]
    _select_all_and(head, "#do-approve")
    assert head.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    head.click("#publish-form button")  # type: ignore[attr-defined]
    head.wait_for_load_state()  # type: ignore[attr-defined]
    assert "/public" in head.url and head.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    _shot(head, "24-published")

    evidence = tmp_path / "整改报告.pdf"
    evidence.write_bytes(PDF)
    unit = _as(browser, journey_base, "reporter.d46")
    unit.goto(f"/runs/{run_id}/units/{JOURNEY_UNIT}/appeal")  # type: ignore[attr-defined]
    assert unit.locator(".countdown").is_visible()  # type: ignore[attr-defined]
    for box in unit.locator("input[name=firing]").all():  # type: ignore[attr-defined]
        box.check()
    unit.fill("textarea[name=grounds]", "三项进度滞后已于年底前整改完毕，见整改报告。")  # type: ignore[attr-defined]
    unit.set_input_files("input[name=evidence]", str(evidence))  # type: ignore[attr-defined]
    _shot(unit, "25-appeal-filing")
    unit.click("#appeal-form button[type=submit]")  # type: ignore[attr-defined]
    unit.wait_for_load_state()  # type: ignore[attr-defined]
    assert unit.inner_text("#appeal-state") == "filed"  # type: ignore[attr-defined]
    appeal_path = unit.url.split(journey_base)[1]  # type: ignore[attr-defined]

    reviewer = _as(browser, journey_base, "reviewer")
    reviewer.goto("/appeals")  # type: ignore[attr-defined]
    _shot(reviewer, "26-appeals")
    reviewer.goto(appeal_path)  # type: ignore[attr-defined]
    reviewer.select_option("#decide-form select[name=outcome]", "overturned")  # type: ignore[attr-defined]
    reviewer.fill("#decide-form textarea[name=reason]", "整改报告属实，撤销扣分。")  # type: ignore[attr-defined]
    reviewer.click("#decide-form button[type=submit]")  # type: ignore[attr-defined]
    reviewer.wait_for_load_state()  # type: ignore[attr-defined]
    assert reviewer.inner_text("#appeal-state") == "overturned"  # type: ignore[attr-defined]
    _shot(reviewer, "27-overturned")
    reviewer.click("#superseding-run")  # type: ignore[attr-defined]
    reviewer.wait_for_load_state()  # type: ignore[attr-defined]
    new_rank = int(reviewer.inner_text("#rank"))  # type: ignore[attr-defined]
    assert new_rank < old_rank, (old_rank, new_rank)
    _shot(reviewer, "28-superseding-scorecard")
    reviewer.goto("/dashboard?category=department")  # type: ignore[attr-defined]
    assert JOURNEY_UNIT in reviewer.inner_text("#ranking")  # type: ignore[attr-defined]
    _shot(reviewer, "29-dashboard-after-appeal")
    for p in (office, auditor, head, unit, reviewer):
        p.context.close()  # type: ignore[attr-defined]


# --- the year's other cases: adjustments, verification, notices, seal; the live countdown --------

YEAR_RUN = 2  # the demo year's run, published when this module's database is made
YEAR_EXTRA = {"office.head": ("office-head-pw-2024", "office", ())}


@pytest.fixture(scope="module")
def year_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo city with the year run's cases approved and published (window open), a second
    office account, and the adjustment cut-off lifted (the demo's 2024-09-30 is long past)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store import Case, Scheme, make_engine
    from tests.web.conftest import _copy_db, _drop_db
    from workflows.accounts import create_account
    from workflows.cases import approve_cases, open_cases, publish, review_cases

    url = _copy_db(demo_template_url, tmp_path_factory.mktemp("year"))
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        for name, (password, role, _units) in YEAR_EXTRA.items():
            create_account(s, name, password, display_name=name, roles=[role], actor="test")
        for scheme in s.scalars(select(Scheme)):
            scheme.adjustment_cutoff_date = None
    with Session(engine) as s, s.begin():
        open_cases(s, YEAR_RUN, actor="office")
        ids = [c.id for c in s.scalars(select(Case).where(Case.run_id == YEAR_RUN))]
        review_cases(s, ids, actor="auditor")
        approve_cases(s, ids, actor="office.head")
        publish(s, YEAR_RUN, actor="office.head")
    engine.dispose()
    yield url
    _drop_db(url)


@pytest.fixture(scope="module")
def year_base(year_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app, engine = make_app(year_url, tmp_path_factory.mktemp("year-app"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    engine.dispose()


def _year_as(browser: object, base: str, username: str, password: str | None = None) -> object:
    page = _page(browser, base)
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    secret = password or (YEAR_EXTRA[username][0] if username in YEAR_EXTRA else PASSWORDS[username])
    page.fill("input[name=password]", secret)  # type: ignore[attr-defined]
    page.click("#login-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    return page


def test_the_public_window_countdown_ticks_live(browser: object, year_base: str) -> None:
    """The 公示 page's countdown is rewritten every second by countdown.js; without JavaScript the
    text the server computed at page load stays."""
    import re

    page = _page(browser, year_base)
    page.goto("/public")  # type: ignore[attr-defined]
    left = page.locator(".countdown .left").first  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "document.querySelector('.countdown .left').dataset.state === 'live'")
    first = left.inner_text()
    assert re.fullmatch(r"剩余 \d+ 天 \d+ 小时 \d\d 分 \d\d 秒", first), first
    page.wait_for_function(  # type: ignore[attr-defined]
        "t => document.querySelector('.countdown .left').textContent !== t", arg=first, timeout=5000)
    assert left.inner_text() != first
    _shot(page, "40-public-countdown-live")
    page.context.close()  # type: ignore[attr-defined]

    context = browser.new_context(base_url=year_base, java_script_enabled=False,  # type: ignore[attr-defined]
                                  viewport={"width": 1400, "height": 900}, locale="zh-CN")
    still = context.new_page()
    still.goto("/public")
    text = still.locator(".countdown .left").first.inner_text()
    assert re.fullmatch(r"剩余 \d+ 天 \d+ 小时", text), text
    assert still.locator(".countdown .left").first.get_attribute("data-state") is None
    _shot(still, "41-public-countdown-no-js")
    context.close()
