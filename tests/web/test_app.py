"""The app itself: health, readiness, request ids, error shapes, security headers, the policy check."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from audit.note import generate
from tests.web.conftest import login, make_app, settings_for
from web.app import create_app
from web.security.policy import allow
from web.signing import write_key


def test_health_and_readiness(shared_app: Flask) -> None:
    client = shared_app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["database"] == "ok"


def test_readiness_fails_without_a_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}"
    app, engine = make_app(url, tmp_path)
    response = app.test_client().get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "unavailable" and body["request_id"] == response.headers["X-Request-ID"]


def test_request_id_is_echoed_or_made(shared_app: Flask) -> None:
    client = shared_app.test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <with> spaces"}).headers["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()


def test_api_errors_are_json_and_pages_html(shared_app: Flask) -> None:
    client = shared_app.test_client()
    api = client.get("/api/v1/runs")
    assert api.status_code == 401 and api.is_json
    assert set(api.get_json()) == {"error", "message", "request_id"}
    login(client, "office")
    missing = client.get("/api/v1/runs/99999")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert "no run 99999" in missing.get_json()["message"]
    page = client.get("/runs/99999/units/C01")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "不存在考核运算 99999。" in page.get_data(as_text=True)  # the page in the reader's language
    invalid = client.get("/api/v1/runs?page=0")
    assert invalid.status_code == 422 and invalid.get_json()["details"]


def test_security_headers_and_cookie_flags(shared_app: Flask) -> None:
    client = shared_app.test_client()
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_production_cookies_are_secure(module_demo_url: str, tmp_path: Path) -> None:
    key = tmp_path / "ledger.key"  # production needs the ledger's signing key (test_checkpoint_pages.py)
    write_key(key, generate("kaohe.test/ledger"))
    app = create_app(settings_for(module_demo_url, tmp_path, env="production", signing_key_path=key))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_every_view_declares_a_policy(module_demo_url: str, tmp_path: Path) -> None:
    from web.app import _check_policies

    app, engine = make_app(module_demo_url, tmp_path)
    engine.dispose()
    _check_policies(app)  # the real app passes

    @app.route("/__unguarded_probe")
    def unguarded() -> str:
        return "x"

    with pytest.raises(RuntimeError, match="unguarded"):
        _check_policies(app)
    with pytest.raises(ValueError, match="unknown roles"):
        allow("mayor")


def test_openapi_document_is_generated(shared_app: Flask) -> None:
    doc = shared_app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["info"]["title"].startswith("Kaohe")
    paths = doc["paths"]
    for path in ("/api/v1/schemes", "/api/v1/runs", "/api/v1/runs/{run_id}/firings",
                 "/api/v1/progress-reports", "/api/v1/imports",
                 "/api/v1/runs/{run_id}/units/{code}/explanation"):
        assert path in paths, path
    assert "post" in paths["/api/v1/progress-reports"] and "post" in paths["/api/v1/runs"]
    assert "bearer" in doc["components"]["securitySchemes"]
