"""Web fixtures: a migrated database with the demo city, its runs and demo accounts, and apps on it.

The demo is loaded once per test session into a template database; a test that writes gets its
own copy (``demo_url``), read-mostly tests share one per module (``module_demo_url``).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from store import make_engine
from tests.conftest import IS_POSTGRES, _pg_admin, _pg_url
from web.app import create_app
from web.cli.demo import DEMO_DIR
from web.config import Settings
from workflows.demo import load_demo
from workflows.demo_web import DEMO_ACCOUNTS, prepare_demo_web

PASSWORDS = {a.username: a.password for a in DEMO_ACCOUNTS}
ROLE_USERS = {a.role: a.username for a in DEMO_ACCOUNTS}
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _copy_db(source_url: str, target_dir: Path) -> str:
    if IS_POSTGRES:
        name = f"kaohe_w_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(source_url).database}"'))
        admin.dispose()
        return _pg_url(name)
    target = target_dir / f"{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(make_url(source_url).database or "", target)
    return f"sqlite:///{target}"


def _drop_db(url: str) -> None:
    if IS_POSTGRES:
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def demo_template_url(template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _copy_db(template_url, tmp_path_factory.mktemp("demo"))
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        load_demo(session, DEMO_DIR / "city")
        prepare_demo_web(session, actor="test")
    engine.dispose()
    yield url
    _drop_db(url)


@pytest.fixture
def demo_url(demo_template_url: str, tmp_path: Path) -> Iterator[str]:
    url = _copy_db(demo_template_url, tmp_path)
    yield url
    _drop_db(url)


@pytest.fixture(scope="module")
def module_demo_url(demo_template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _copy_db(demo_template_url, tmp_path_factory.mktemp("module"))
    yield url
    _drop_db(url)


def settings_for(url: str, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url, "env": "test", "instance_path": tmp, "log_level": "WARNING",
        "actor": "test", "secret_key": "t" * 64, "lockout_threshold": 3, "lockout_minutes": 15,
        "max_upload_bytes": 256 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def make_app(url: str, tmp: Path, **overrides: object) -> tuple[Flask, Engine]:
    engine = make_engine(url)
    return create_app(settings_for(url, tmp, **overrides), engine=engine), engine


@pytest.fixture
def app(demo_url: str, tmp_path: Path) -> Iterator[Flask]:
    flask_app, engine = make_app(demo_url, tmp_path)
    yield flask_app
    engine.dispose()


@pytest.fixture(scope="module")
def shared_app(module_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    flask_app, engine = make_app(module_demo_url, tmp_path_factory.mktemp("inst"))
    yield flask_app
    engine.dispose()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF_INPUT.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str | None = None) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password or PASSWORDS[username],
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
