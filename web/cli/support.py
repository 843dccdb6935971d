"""What every ``kaohe`` command shares, so that no command module imports another or the group.

:class:`AppContext` (the settings and a lazily made engine, one transaction per block, and who
acts, proven by :meth:`AppContext.prove` through :mod:`web.cli.identity`), a transaction whose
refusal is printed and exits 1 (:func:`transaction_or_exit`, :func:`fail`), :data:`KEY_OPTION`
and :func:`run_once` (an action done once per idempotency key, by the proven actor), and
:func:`serve_app` (the web app on the development server, for ``kaohe serve`` and ``kaohe demo``).
It imports none of the command modules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audit.who import authenticated
from store import make_engine, make_session_factory
from web.cli import identity
from web.config import Settings
from workflows.errors import BatchRefused, DomainError
from workflows.idempotency import once


class AppContext:
    """Settings and a lazily made engine, shared by the commands of one invocation."""

    def __init__(self, settings: Settings) -> None:
        self.credentials = identity.Credentials()  # `kaohe --token-file FILE`, `--password-stdin`
        self.auth: str | None = None  # how settings.actor was proven, once it was
        self.settings = settings
        self._engine: Engine | None = None

    def close(self) -> None:
        """Dispose of the engine's pool when the command ends (no connection outlives it)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.database_url.startswith("sqlite:///"):
                self.settings.instance_path.mkdir(parents=True, exist_ok=True)
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit when the block ends normally, roll back on any exception."""
        factory = make_session_factory(self.engine)
        with factory() as session, session.begin():
            authenticated(session, self.settings.actor, self.auth or identity.unproven(self.settings))
            yield session

    def prove(self, action: str, *, required: bool = True) -> None:
        """Who acts, proven once per invocation (:func:`web.cli.identity.prove`): afterwards
        ``settings.actor`` is the proven account and every event it records says how (``auth``);
        a refusal is printed and exits 1 with nothing done."""
        if self.auth is not None:
            return
        try:
            proof = identity.prove(self.settings, self.credentials, self.engine, action,
                                   required=required)
        except identity.NotProven as exc:
            fail(str(exc))
        self.settings = dataclasses.replace(self.settings, actor=proof.username)
        self.auth = proof.method


pass_app = click.make_pass_decorator(AppContext)


def fail(message: str) -> NoReturn:
    """Print ``message`` on stderr and exit 1."""
    click.echo(message, err=True)
    raise SystemExit(1)


@contextmanager
def transaction_or_exit(app: AppContext) -> Iterator[Session]:
    """:meth:`AppContext.transaction`, whose domain error (a refusal, a missing subject) is printed
    on stderr and exits 1, nothing changed."""
    try:
        with app.transaction() as session:
            yield session
    except DomainError as exc:
        fail(str(exc))

KEY_OPTION = click.option("--idempotency-key", "key",
                          help="Repeat-safe: the same key again returns the first result.")


def run_once(app: AppContext, action: str, request: Mapping[str, Any],
             perform: Callable[[Session], Mapping[str, Any]], key: str | None) -> dict[str, Any]:
    """``perform`` in one transaction, once per idempotency ``key``, by the proven actor
    (:meth:`AppContext.prove`); a refusal is printed (each refused item of a batch on its own
    line) and exits 1 with nothing changed."""
    app.prove(action)
    try:
        with app.transaction() as session:
            actor = app.settings.actor
            done = once(session, key=key, actor=actor, action=action, request=request,
                        perform=lambda: perform(session))
    except BatchRefused as exc:
        for sid, message in exc.errors:
            click.echo(f"{sid}: {message}", err=True)
        fail(f"{action}: refused for {len(exc.errors)} item(s), nothing changed")
    except DomainError as exc:
        fail(str(exc))
    if done.replayed:
        click.echo(f"(idempotency key {key}: already done, nothing changed)")
    return done.response


def serve_app(app: AppContext, host: str, port: int) -> None:
    """The web app on Werkzeug's development server, on the command's engine."""
    from web.app import create_app  # the Flask app only when it is served: `kaohe --help` stays quick

    flask_app = create_app(app.settings, engine=app.engine)
    click.echo(f"serving Kaohe on http://{host}:{port}/ (Ctrl-C stops it; use gunicorn in production)")
    flask_app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
