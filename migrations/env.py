"""Alembic environment: migrate the connection Kaohe hands over, or KAOHE_DATABASE_URL when run by hand."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import store
from store.db import make_engine

target_metadata = store.Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="store.types.",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        from web.config import load_settings

        url = load_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Kaohe migrations run online only (they need a real connection).")
run_migrations_online()
