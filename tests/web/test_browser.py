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
