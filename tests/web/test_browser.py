"""End-to-end journeys in a real browser: Debian's chromium, headless, driven by Playwright.

The app runs in a thread on a free loopback port against a fresh copy of the demo database.
Screenshots of the key pages go to artifacts/screenshots/ (kept by CI). Chromium is installed by
`make browser` (apt), never by `playwright install`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _serving(url: str, instance: Path) -> Iterator[str]:
    """The app on ``url``'s database, served in a thread on a free loopback port."""
    app, engine = make_app(url, instance)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    engine.dispose()


@pytest.fixture(scope="module")
def base_url(module_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serving(module_demo_url, tmp_path_factory.mktemp("browser")) as base:
        yield base


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


def test_reporter_reports_progress(browser: object, base_url: str, module_demo_url: str) -> None:
    import datetime as dt

    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from store import Scheme, make_engine

    engine = make_engine(module_demo_url)
    with Session(engine) as s, s.begin():  # the demo year is over (its cut-off binds): reopen it here
        s.execute(update(Scheme).values(cutoff_date=dt.date(2099, 12, 31)))
    engine.dispose()
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


def _with_accounts(template_url: str, where: Path) -> str:
    """A copy of the demo database with the EXTRA accounts."""
    from sqlalchemy.orm import Session

    from store import make_engine
    from tests.web.conftest import _copy_db
    from workflows.accounts import create_account
    from workflows.demo import DEMO_SCHEME_CODE

    url = _copy_db(template_url, where)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        for name, (password, role, units) in EXTRA.items():
            create_account(s, name, password, display_name=name, roles=[role], actor="test",
                           scheme_code=DEMO_SCHEME_CODE if units else None, unit_codes=units)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def journey_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.web.conftest import _drop_db

    url = _with_accounts(demo_template_url, tmp_path_factory.mktemp("journey"))
    yield url
    _drop_db(url)


@pytest.fixture(scope="module")
def journey_base(journey_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serving(journey_url, tmp_path_factory.mktemp("journey-app")) as base:
        yield base


def _as(browser: object, base: str, username: str, password: str | None = None) -> object:
    page = _page(browser, base)
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    secret = password or (EXTRA[username][0] if username in EXTRA else PASSWORDS[username])
    page.fill("input[name=password]", secret)  # type: ignore[attr-defined]
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
    checkpoint = head.inner_text("#ledger-checkpoint pre.checkpoint")  # type: ignore[attr-defined]
    assert checkpoint.startswith("kaohe.development/ledger\n") and "— kaohe.development/ledger " in checkpoint
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


@pytest.fixture(scope="module")
def year_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo city with the year run's cases approved and published (window open), the extra
    accounts, and the adjustment cut-off lifted (the demo's 2024-09-30 is long past)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store import Case, Scheme, make_engine
    from tests.web.conftest import _drop_db
    from workflows.cases import approve_cases, open_cases, publish, review_cases

    url = _with_accounts(demo_template_url, tmp_path_factory.mktemp("year"))
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
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
    with _serving(year_url, tmp_path_factory.mktemp("year-app")) as base:
        yield base


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


@pytest.fixture(scope="module")
def adjust_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo city with the extra accounts and the adjustment cut-off lifted, nothing published: a
    target adjustment is mid-year business (a published run's months are refused: test_freeze)."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from store import Scheme, make_engine
    from tests.web.conftest import _drop_db

    url = _with_accounts(demo_template_url, tmp_path_factory.mktemp("adjust"))
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        s.execute(update(Scheme).values(adjustment_cutoff_date=None))
    engine.dispose()
    yield url
    _drop_db(url)


@pytest.fixture(scope="module")
def adjust_base(adjust_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serving(adjust_url, tmp_path_factory.mktemp("adjust-app")) as base:
        yield base


def test_a_reporter_requests_a_target_adjustment_and_the_office_approves(
    browser: object, adjust_url: str, adjust_base: str
) -> None:
    from tests.web.test_pages_year import _target_form_data

    year_base = adjust_base
    _target_id, data = _target_form_data(adjust_url, JOURNEY_UNIT)
    unit = _as(browser, year_base, "reporter.d46")
    unit.goto("/adjustments")  # type: ignore[attr-defined]
    form = "#adjustment-form"
    unit.select_option(f"{form} select[name=unit]", data["unit"])  # type: ignore[attr-defined]
    unit.fill(f"{form} input[name=indicator]", data["indicator"])  # type: ignore[attr-defined]
    unit.fill(f"{form} input[name=annual_value]", data["annual_value"])  # type: ignore[attr-defined]
    if "milestones" in data:
        unit.fill(f"{form} textarea[name=milestones]", data["milestones"])  # type: ignore[attr-defined]
    unit.fill(f"{form} textarea[name=reason]", "汛期受灾，项目停工两个月，申请调整年度目标。")  # type: ignore[attr-defined]
    unit.fill(f"{form} input[name=evidence_ref]", "江澄应急〔2024〕7号")  # type: ignore[attr-defined]
    _shot(unit, "42-adjustment-request-form")
    unit.click(f"{form} button[type=submit]")  # type: ignore[attr-defined]
    unit.wait_for_load_state()  # type: ignore[attr-defined]
    assert unit.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    unit.click("#adjustments tbody tr:first-child a.detail")  # type: ignore[attr-defined]
    unit.wait_for_load_state()  # type: ignore[attr-defined]
    assert unit.inner_text("#adjustment-state") == "requested"  # type: ignore[attr-defined]
    assert unit.locator(".decide-form").count() == 0  # type: ignore[attr-defined]
    detail = unit.url.split(year_base)[1]  # type: ignore[attr-defined]
    _shot(unit, "43-adjustment-requested")

    office = _as(browser, year_base, "office")
    office.goto("/adjustments")  # type: ignore[attr-defined]
    _shot(office, "44-adjustments-office")
    office.goto(detail)  # type: ignore[attr-defined]
    office.select_option(".decide-form select[name=action]", "approve")  # type: ignore[attr-defined]
    office.fill(".decide-form input[name=reason]", "灾情属实，同意调整。")  # type: ignore[attr-defined]
    office.click(".decide-form button[type=submit]")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert office.url.endswith(detail)  # type: ignore[attr-defined]
    assert office.inner_text("#adjustment-state") == "approved"  # type: ignore[attr-defined]
    steps = office.locator("#history tr.step td.action").all_inner_texts()  # type: ignore[attr-defined]
    assert steps == ["request", "approve"]
    assert office.locator("#history tr.step td.actor").all_inner_texts() == [  # type: ignore[attr-defined]
        "reporter.d46", "office"]
    _shot(office, "45-adjustment-approved")
    for p in (unit, office):
        p.context.close()  # type: ignore[attr-defined]


def test_the_office_verifies_a_report(browser: object, year_url: str, year_base: str) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store import ProgressReport, Target, Unit, make_engine

    engine = make_engine(year_url)
    with Session(engine) as s:
        report = s.scalars(select(ProgressReport).join(Target).join(Unit, Target.unit_id == Unit.id)
                           .where(Unit.code == JOURNEY_UNIT).order_by(ProgressReport.id)).first()
        assert report is not None
        fields = {"unit": JOURNEY_UNIT, "indicator": report.target.indicator.code, "period": report.period,
                  "source": report.source, "value": format((report.reported_value / 2).normalize(), "f"),
                  "reason": "现场核查：一半工程量未完工，核减。"}
    engine.dispose()
    office = _as(browser, year_base, "office")
    office.goto("/verification")  # type: ignore[attr-defined]
    for name, value in fields.items():
        office.fill(f"#verify-report-form input[name={name}]", value)  # type: ignore[attr-defined]
    _shot(office, "46-verification-form")
    office.click("#verify-report-form button[type=submit]")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert office.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    row = office.inner_text("#verifications tbody tr:first-child")  # type: ignore[attr-defined]
    assert f"{JOURNEY_UNIT} × {fields['indicator']} {fields['period']}" in row and fields["reason"] in row
    _shot(office, "47-verification-recorded")
    office.context.close()  # type: ignore[attr-defined]


def test_the_office_issues_a_notice_and_the_unit_responds(
    browser: object, year_url: str, year_base: str
) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store import SupervisionNotice, make_engine
    from workflows.accounts import create_account
    from workflows.demo import DEMO_SCHEME_CODE

    office = _as(browser, year_base, "office")
    office.goto("/notices")  # type: ignore[attr-defined]
    office.select_option("#raise-form select[name=run]", str(YEAR_RUN))  # type: ignore[attr-defined]
    office.fill("#raise-form input[name=due_days]", "10")  # type: ignore[attr-defined]
    office.click("#raise-form button[type=submit]")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert office.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    assert office.locator("#notices tbody tr").count() > 0  # type: ignore[attr-defined]
    _shot(office, "48-notices-issued")

    engine = make_engine(year_url)
    with Session(engine) as s:
        notice = s.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id)).first()
        assert notice is not None
        notice_id, unit_code = notice.id, notice.unit.code
    with Session(engine) as s, s.begin():  # the warned unit's reporter
        create_account(s, "reporter.warned", "reporter-warned-pw-2024", display_name=unit_code,
                       roles=["reporter"], actor="test", scheme_code=DEMO_SCHEME_CODE,
                       unit_codes=(unit_code,))
    engine.dispose()
    unit = _as(browser, year_base, "reporter.warned", "reporter-warned-pw-2024")
    unit.goto("/notices")  # type: ignore[attr-defined]
    unit.click(f"#notice-{notice_id} a.detail")  # type: ignore[attr-defined]
    unit.wait_for_load_state()  # type: ignore[attr-defined]
    assert unit.inner_text("#notice-state") == "issued"  # type: ignore[attr-defined]
    unit.fill(".respond-form textarea[name=text]", "已制定赶超计划，第四季度加快推进。")  # type: ignore[attr-defined]
    unit.fill(".respond-form input[name=evidence_ref]", "整改方案〔2024〕3号")  # type: ignore[attr-defined]
    unit.click(".respond-form button[type=submit]")  # type: ignore[attr-defined]
    unit.wait_for_load_state()  # type: ignore[attr-defined]
    assert unit.inner_text("#notice-state") == "responded"  # type: ignore[attr-defined]
    _shot(unit, "49-notice-responded")

    office.goto(f"/notices/{notice_id}")  # type: ignore[attr-defined]
    office.fill(".close-form input[name=text]", "整改措施可行，予以办结。")  # type: ignore[attr-defined]
    office.click(".close-form button[type=submit]")  # type: ignore[attr-defined]
    office.wait_for_load_state()  # type: ignore[attr-defined]
    assert office.inner_text("#notice-state") == "closed"  # type: ignore[attr-defined]
    steps = office.locator("#history tr.step td.action").all_inner_texts()  # type: ignore[attr-defined]
    assert steps == ["issue", "respond", "close"], steps
    _shot(office, "50-notice-closed")
    for p in (unit, office):
        p.context.close()  # type: ignore[attr-defined]


def test_the_committee_seals_the_published_run(browser: object, year_url: str, year_base: str) -> None:
    import datetime as dt

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from store import Publication, make_engine

    committee = _as(browser, year_base, "committee")
    committee.goto("/runs")  # type: ignore[attr-defined]
    seal = f'form.seal-form[action="/runs/{YEAR_RUN}/seal"] button'
    committee.click(seal)  # type: ignore[attr-defined]
    committee.wait_for_load_state()  # type: ignore[attr-defined]
    assert "公示期" in committee.inner_text("main")  # type: ignore[attr-defined]  # inside the window: refused
    _shot(committee, "51-seal-refused-inside-window")

    engine = make_engine(year_url)
    with Session(engine) as s, s.begin():  # the publication window has passed
        pub = s.scalars(select(Publication).where(Publication.run_id == YEAR_RUN)).one()
        now = dt.datetime.now(dt.UTC)
        pub.published_at = now - dt.timedelta(days=10)
        pub.appeals_close_at = now - dt.timedelta(days=5)
        pub.window_ends_at = now - dt.timedelta(minutes=1)
    engine.dispose()
    committee.goto("/runs")  # type: ignore[attr-defined]
    _shot(committee, "52-runs-committee")
    committee.click(seal)  # type: ignore[attr-defined]
    committee.wait_for_load_state()  # type: ignore[attr-defined]
    assert committee.locator(".flash.success").is_visible()  # type: ignore[attr-defined]
    assert committee.locator(f'form.seal-form[action="/runs/{YEAR_RUN}/seal"]').count() == 0  # type: ignore[attr-defined]
    _shot(committee, "53-run-sealed")
    committee.context.close()  # type: ignore[attr-defined]
