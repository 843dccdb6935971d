"""Migration 0011 rewrites firing's status check in place: stored firings, the cases that reference
them and the ledger stay as they were, and an unknown status is still refused."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import audit
from store import migrate as store_migrate
from tests.cases.conftest import RUN_ID
from tests.conftest import IS_POSTGRES
from workflows.cases import open_cases

OFFICE = "office.zhao"
COPY = (
    "INSERT INTO firing (run_id, seq, rule_id, rule_version, pack_sha256, unit_id, indicator_code, "
    "period, effect, bucket, matched_facts, raw_points, points, text_zh, text_en, detail, status, "
    "override) SELECT run_id, seq + 1000000, rule_id, rule_version, pack_sha256, unit_id, "
    "indicator_code, period, effect, bucket, matched_facts, raw_points, points, text_zh, text_en, "
    "detail, :status, override FROM firing WHERE seq = 1"
)


def _status_check(engine: Engine) -> str:
    sql = (
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_firing_status'"
        if IS_POSTGRES
        else "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'firing'"
    )
    with engine.connect() as conn:
        return str(conn.scalar(text(sql)))


def _firings(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM firing ORDER BY id")).all())


def _refuses(engine: Engine, status: str) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(text(COPY), {"status": status})
        except IntegrityError:
            return True
        finally:
            conn.rollback()
    return False


def test_migration_0011_keeps_firings_their_cases_and_the_status_check(demo_engine: Engine) -> None:
    with Session(demo_engine) as session, session.begin():
        assert open_cases(session, RUN_ID, actor=OFFICE).opened  # cases reference firings
    with demo_engine.connect() as conn:  # dropped by going down past its migration (below)
        cutoffs = conn.execute(text("SELECT id, previous_cutoff_date FROM scheme")).all()
    cfg = store_migrate.alembic_config()
    with demo_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    before = _firings(demo_engine)
    assert " OR " not in _status_check(demo_engine)
    assert _refuses(demo_engine, "bogus") and not _refuses(demo_engine, "voided")

    store_migrate.upgrade(demo_engine)
    check = _status_check(demo_engine)
    assert "IN (" not in check and "ANY" not in check and check.count(" OR ") >= 2
    assert _firings(demo_engine) == before and len(before) > 1000
    assert _refuses(demo_engine, "bogus") and not _refuses(demo_engine, "voided")
    for status in ("applied", "adjusted"):
        assert not _refuses(demo_engine, status)
    store_migrate.check(demo_engine)
    with Session(demo_engine) as session:  # the ledger sees the scheme row without its dropped value
        brk = audit.verify(session).first_break
        assert brk is not None and (brk.kind, brk.table) == ("row_changed", "scheme")
    with demo_engine.begin() as conn:  # put back, the rows are exactly as bound: nothing else moved
        for scheme_id, cutoff in cutoffs:
            conn.execute(text("UPDATE scheme SET previous_cutoff_date = :d WHERE id = :i"),
                         {"d": cutoff, "i": scheme_id})
    with Session(demo_engine) as session:
        assert audit.verify(session).ok
