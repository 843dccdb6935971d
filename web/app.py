"""The Flask application factory: ``create_app(settings)`` binds the extensions and blueprints.

Blueprints: ``auth`` (login, logout, language: web.security.login), ``pages`` (server-rendered
HTML: web.pages) and ``api`` (JSON under /api/v1 with its OpenAPI document: web.api), each with
the modules that add their routes to it. ``/healthz`` says the process is up and ``/readyz`` that
the database answers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Flask, Response, jsonify, send_from_directory
from sqlalchemy import Engine, text
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter, Map

from web import errors, reqlog
from web.anchoring import ledger_signing
from web.api import audit as api_audit
from web.api import cases as api_cases
from web.api import packs as api_packs
from web.api import reporting as api_reporting
from web.api import runs as api_runs
from web.api import schemes as api_schemes
from web.api import year as api_year
from web.api.blueprint import bp as api_bp
from web.assets import ROOT, VENDOR_FILES
from web.config import Settings, load_settings
from web.extensions import api, babel, csrf, db
from web.pages import audit as pages_audit
from web.pages import cases as pages_cases
from web.pages import reporting as pages_reporting
from web.pages import results as pages_results
from web.pages import year as pages_year
from web.pages.blueprint import bp as pages_bp
from web.security.login import bp as auth_bp
from web.security.login import locale
from web.security.policy import current, load_principal, policy_of, public

# The modules that add their routes to the two blueprints when they are imported: every family
# of endpoints and of pages (a module left out here would serve nothing).
ROUTES = (api_schemes, api_reporting, api_runs, api_packs, api_audit, api_cases, api_year,
          pages_results, pages_reporting, pages_cases, pages_year, pages_audit)

# Endpoints that need no policy decorator: static files and the generated OpenAPI document.
UNGUARDED = frozenset({"static", "vendor", "api-docs.openapi_json"})


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        KAOHE_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_NAME="kaohe_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        WTF_CSRF_SSL_STRICT=settings.is_production,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
        API_TITLE="Kaohe (考核) API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Target-responsibility assessment: schemes, targets, progress, "
                                    "runs, firings, score sheets and explanations."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "kaohe_session"},
            }},
            "security": [{"bearer": []}, {"session": []}],
        },
        TEMPLATES_AUTO_RELOAD=not settings.is_production,
    )
    if settings.env == "test":
        app.config["TESTING"] = True

    app.url_map.converters["int"] = IdConverter  # before any route is added
    db.init_app(app, settings.database_url, engine)
    ledger_signing(app, settings)
    reqlog.init_app(app)
    app.before_request(load_principal)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=locale)
    _register_blueprints(app)
    errors.init_app(app)  # after the API, so its JSON shape replaces flask-smorest's
    _register_ops(app)
    app.jinja_env.globals["current_principal"] = current
    app.jinja_env.filters["points"] = points
    app.after_request(_security_headers)
    _check_policies(app)
    return app


def _register_blueprints(app: Flask) -> None:
    app.register_blueprint(auth_bp)
    app.register_blueprint(pages_bp)
    api.init_app(app)
    api.register_blueprint(api_bp)
    # The API authenticates by bearer token or by session; a session call checks the CSRF header
    # itself (web.api.blueprint), a token call needs none.
    csrf.exempt(api_bp)


def _register_ops(app: Flask) -> None:
    @app.get("/healthz")
    @public
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    @public
    def readyz() -> Any:
        try:
            with db.engine(app).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means not ready
            return errors.error_response(503, f"database unreachable: {type(exc).__name__}")
        return jsonify(status="ready", database="ok")

    @app.get("/static/vendor/<name>")
    def vendor(name: str) -> Any:
        path = VENDOR_FILES.get(name)
        if path is None or not path.is_file():
            raise HTTPNotFound()
        return send_from_directory(path.parent, path.name, max_age=3600)


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: 1 … 2**31-1, the range of the database's id columns. A larger
    number names nothing (404) instead of reaching PostgreSQL as an out-of-range integer (500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def points(value: Decimal | int | str | None) -> str:
    """A score as people write it: 97.3979, -6.5, 0 (no trailing zeros, never an exponent)."""
    if value is None:
        return "—"
    d = Decimal(value).normalize()
    return format(d if d != 0 else Decimal(0), "f")


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _check_policies(app: Flask) -> None:
    """Refuse to start with a view that declares no access policy."""
    missing = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in UNGUARDED and policy_of(view) is None
    )
    if missing:
        raise RuntimeError(f"views without an access policy (web.security.policy.allow/public): {missing}")

