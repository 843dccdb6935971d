"""Engine and session factory for a given URL. Sessions never autocommit: callers own the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite turn on foreign keys (off by default there) and WAL."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def driver_rows(connection: Connection, statement: ClauseElement) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` as the driver gives them (plain tuples), read through the
    driver's own cursor on ``connection``, in its transaction: no Row objects, no result
    processors — the caller converts the values that need it (``store.types.exact_decimal``).
    A province snapshot reads a million rows: SQLAlchemy's processing of them took 1.2 s more."""
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler)
    params = compiled.construct_params()
    cursor = driver_connection(connection).cursor()
    try:
        if compiled.positiontup is not None:  # SQLite's qmark style
            cursor.execute(str(compiled), [params[name] for name in compiled.positiontup])
        else:  # psycopg's named style
            cursor.execute(str(compiled), params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


def driver_connection(connection: Connection | Session) -> Any:
    """The DB-API connection (sqlite3's or psycopg's) under a Core connection or a session's, for
    what SQLAlchemy does not do in bulk (COPY, a serialized database, plain tuples): statements on
    it run in the same transaction."""
    core = connection.connection() if isinstance(connection, Session) else connection
    raw = core.connection.driver_connection
    assert raw is not None, "a connection checked out of the pool has its driver's"
    return raw


def sqlite_write_lock(session: Session, table: str, column: str = "id") -> None:
    """Take SQLite's database write lock now, in the session's transaction, with a write that
    changes nothing: until it commits or rolls back no other connection can commit, so all this
    transaction reads from here on is one state. (SQLite's driver begins a transaction only at
    the first write; reads before it each see the latest commit.)"""
    session.execute(text(f'UPDATE "{table}" SET "{column}" = "{column}" WHERE 0 = 1'))
