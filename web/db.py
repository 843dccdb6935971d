"""One SQLAlchemy session per request; the request owns the transaction.

The session is opened on first use and committed after the view when the response is a success
(status below 400), rolled back otherwise or on any exception. A view that must keep its writes
despite answering 4xx (a failed login counts the failure) calls :func:`keep_on_error`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store import make_engine, make_session_factory

_KEY = "kaohe.db"


class Database:
    """The app's engine and session factory, with the per-request session in ``flask.g``."""

    def init_app(self, app: Flask, database_url: str, engine: Engine | None = None) -> None:
        eng = engine if engine is not None else make_engine(database_url, pool_pre_ping=True)
        app.extensions[_KEY] = _State(eng, make_session_factory(eng))
        app.after_request(_finish)
        app.teardown_request(_teardown)

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        return _state(app).engine

    @staticmethod
    def session_info(app: Flask, info: dict[str, object]) -> None:
        """What every session of the app carries in ``Session.info`` (the ledger's signing key)."""
        _state(app).factory.configure(info=info)

    @staticmethod
    def session() -> Session:
        """The current request's session (a transaction is begun on first use)."""
        sess: Session | None = g.get("_kaohe_session")
        if sess is None:
            sess = _state().factory()
            sess.begin()
            g._kaohe_session = sess
        return sess


class _State:
    def __init__(self, engine: Engine, factory: sessionmaker[Session]) -> None:
        self.engine = engine
        self.factory = factory


def _state(app: Flask | None = None) -> _State:
    state: _State = (app or current_app).extensions[_KEY]
    return state


def keep_on_error() -> None:
    """Commit this request's writes even though the response will be an error status."""
    g._kaohe_keep = True


def _finish(response: Response) -> Response:
    sess: Session | None = g.pop("_kaohe_session", None)
    if sess is None:
        return response
    try:
        if response.status_code < 400 or g.get("_kaohe_keep", False):
            sess.commit()
        else:
            sess.rollback()
    finally:
        sess.close()
    return response


def _teardown(_exc: BaseException | None) -> Any:
    # Reached with a session still open only when the view raised past every handler.
    sess: Session | None = g.pop("_kaohe_session", None)
    if sess is not None:
        sess.rollback()
        sess.close()
    return None
