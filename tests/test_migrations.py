"""The schema comes from the migrations alone and matches the models (`alembic check`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import Base, Scheme, Section
from store import migrate as store_migrate
from tests.conftest import IS_POSTGRES
from tests.factories import make_scheme_with_category


def test_migrated_schema_matches_models(engine: Engine) -> None:
    store_migrate.check(engine)  # raises if autogenerate would find a difference
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_decimals_round_trip_exactly(session: Session) -> None:
    _scheme, category = make_scheme_with_category(session)
    section = Section(category=category, code="q", name_zh="定量", name_en="Quant",
                      weight=Decimal("33.3333"))
    session.add(section)
    session.flush()
    session.expire_all()
    weight = session.scalars(select(Section.weight).where(Section.code == "q")).one()
    assert weight == Decimal("33.3333")
    assert isinstance(weight, Decimal)


def test_binary_floats_are_refused(session: Session) -> None:
    _scheme, category = make_scheme_with_category(session)
    session.add(Section(category=category, code="f", name_zh="f", name_en="f", weight=0.1))
    with pytest.raises(Exception, match="binary floats"):
        session.flush()


def test_check_constraint_refuses_unknown_status(session: Session) -> None:
    scheme, _ = make_scheme_with_category(session)
    scheme.status = "published"
    with pytest.raises(IntegrityError):
        session.flush()


def test_scheme_codes_are_unique(session: Session) -> None:
    scheme, _ = make_scheme_with_category(session)
    session.add(Scheme(code=scheme.code, year=2025, name="dup", cutoff_date=scheme.cutoff_date,
                       publication_days=7, appeal_days=7))
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.postgres
@pytest.mark.skipif(not IS_POSTGRES, reason="column compression is PostgreSQL's")
def test_run_snapshots_are_compressed_with_lz4_where_the_server_has_it(session: Session) -> None:
    has_lz4 = session.scalar(
        text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    )
    compression = session.scalar(
        text("SELECT attcompression FROM pg_attribute WHERE attrelid = 'run_snapshot'::regclass "
             "AND attname = 'body'")
    )
    assert compression == ("l" if has_lz4 else "")
