"""A demo database with its approved pack and a year run, made once and copied for each test.

Loading the demo and running its year takes seconds; copying a database (a file on SQLite, a
``CREATE DATABASE … TEMPLATE`` on PostgreSQL) takes a fraction of that.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from store import make_engine, make_session_factory
from tests.conftest import IS_POSTGRES, _pg_admin, _pg_url
from workflows.demo import load_demo
from workflows.packs import approve_pack, store_pack
from workflows.runs import create_run

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rulepacks" / "demo-city-2024.yaml"
RUN_ID = 1
PROPOSER = "office.li"  # made the run
T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)


def _copy(source_url: str, tmp: Path) -> str:
    if IS_POSTGRES:
        name = f"kaohe_c_{uuid.uuid4().hex[:12]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(source_url).database}"'))
        admin.dispose()
        return _pg_url(name)
    target = tmp / f"{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(Path(make_url(source_url).database or ""), target)
    return f"sqlite:///{target}"


def _drop(url: str) -> None:
    if IS_POSTGRES:
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def demo_run_url(template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _copy(template_url, tmp_path_factory.mktemp("cases"))
    engine = make_engine(url)
    with make_session_factory(engine)() as session, session.begin():
        load_demo(session, ROOT / "demo" / "city")
        store_pack(session, PACK.read_text(encoding="utf-8"), PACK.name, actor=PROPOSER)
        approve_pack(session, "demo-city-2024@1", approver="director.wang")
        assert create_run(session, "DEMO-2024", "2024", actor=PROPOSER).run.id == RUN_ID
    engine.dispose()
    yield url
    _drop(url)


@pytest.fixture
def demo_url(demo_run_url: str, tmp_path: Path) -> Iterator[str]:
    """A committed copy of the demo run's database, for tests with several connections."""
    url = _copy(demo_run_url, tmp_path)
    yield url
    _drop(url)


@pytest.fixture
def demo_engine(demo_url: str) -> Iterator[Engine]:
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ds(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo run's database inside a transaction rolled back after the test."""
    with demo_engine.connect() as conn:
        trans = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            trans.rollback()
