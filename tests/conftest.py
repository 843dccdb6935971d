"""Database fixtures: every test runs on the backend named by KAOHE_TEST_DATABASE_URL.

Unset (or ``sqlite``): a SQLite file per test session. A ``postgresql://`` URL: a server on which
the suite creates its own throw-away databases. Either way the schema is made by the Alembic
migrations, never by ``create_all``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from store import make_engine
from store import migrate as store_migrate

BACKEND_URL = os.environ.get("KAOHE_TEST_DATABASE_URL", "sqlite").strip() or "sqlite"
IS_POSTGRES = BACKEND_URL.startswith("postgresql")


def _pg_admin() -> Engine:
    return make_engine(BACKEND_URL, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    url = make_url(make_engine(BACKEND_URL).url)
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database that fresh databases are copied from."""
    if IS_POSTGRES:
        name = f"kaohe_tpl_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _pg_url(name)
        engine = make_engine(url)
        store_migrate.upgrade(engine)
        engine.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        store_migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def fresh_url(template_url: str, tmp_path: Path) -> Iterator[str]:
    """A new migrated, empty database for a test that commits (CLI commands, imports)."""
    if IS_POSTGRES:
        name = f"kaohe_t_{uuid.uuid4().hex[:12]}"
        template_name = make_url(template_url).database
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        yield _pg_url(name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        source = Path(make_url(template_url).database or "")
        target = tmp_path / "kaohe.db"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        trans = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            trans.rollback()
