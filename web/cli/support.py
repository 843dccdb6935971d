"""What every ``kaohe`` command shares, so that no command module imports another or the group.

:class:`AppContext` (the settings and a lazily made engine, one transaction per block, and who
acts, proven by :meth:`AppContext.prove`), a
transaction whose refusal is printed and exits 1 (:func:`transaction_or_exit`, :func:`fail`),
:data:`KEY_OPTION` and :func:`run_once` (an action done once per idempotency key), and
:func:`serve_app` (the web app on the development server, for ``kaohe serve`` and ``kaohe demo``).
It imports none of the command modules.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from audit.who import authenticated
from store import make_engine, make_session_factory
from web.config import Settings
from workflows.credentials import Proof, Unauthenticated, prove_by_password, prove_by_token
from workflows.errors import BatchRefused, DomainError
from workflows.idempotency import once


class AppContext:
    """Settings and a lazily made engine, shared by the commands of one invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self.token_file: Path | None = None  # `kaohe --token-file FILE`
        self.password_stdin = False  # `kaohe --password-stdin`
        self.auth: str | None = None  # how settings.actor was proven, once it was

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
            authenticated(session, self.settings.actor, self.auth or self._unproven())
            yield session

    def _unproven(self) -> str:
        return "development-name" if self.settings.trusts_named_actor else "name"

    def prove(self, action: str, *, required: bool = True) -> None:
        """Who acts, proven once per invocation: by an API token (``KAOHE_TOKEN`` or
        ``--token-file``), or by the account's password (``--password-stdin``, or asked at a
        terminal), under the web login's lockout. ``KAOHE_ACTOR`` alone is enough only on a
        development instance, or when not ``required`` (account administration: the first admin
        has nobody to prove). A refusal is printed and exits 1 with nothing done; afterwards
        ``settings.actor`` is the proven account and every event it records says how (``auth``)."""
        if self.auth is not None:
            return
        secret = self._token()
        if secret and self.password_stdin:
            fail("give an API token or --password-stdin, not both: nothing was done")
        if secret:
            proof = self._proven(lambda s: prove_by_token(s, secret))
            if self.settings.actor_given and self.settings.actor != proof.username:
                fail(f"KAOHE_ACTOR is {self.settings.actor} but the API token is {proof.username}'s: "
                     f"unset KAOHE_ACTOR, or use {self.settings.actor}'s own token; nothing was done")
        elif self.password_stdin or (required and not self.settings.trusts_named_actor
                                     and interactive()):
            proof = self._proven(self._password_check())
        elif self.settings.trusts_named_actor or not required:
            self.auth = self._unproven()
            return
        else:
            fail(f"{action} needs proof of who you are: this is a {self.settings.env} instance, where "
                 f"KAOHE_ACTOR ({self.settings.actor}) alone is not enough (only with "
                 "KAOHE_ENV=development). Give your own API token (KAOHE_TOKEN=… or "
                 "`kaohe --token-file FILE …`), or your password (asked at a terminal, or "
                 "`kaohe --password-stdin …` in a script) with KAOHE_ACTOR set to your username. "
                 "Nothing was done.")
        self.settings = dataclasses.replace(self.settings, actor=proof.username)
        self.auth = proof.method

    def _token(self) -> str:
        if self.token_file is None:
            return self.settings.token
        try:
            lines = self.token_file.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"--token-file {self.token_file}: cannot read it ({exc}); nothing was done")
        if not lines:
            fail(f"--token-file {self.token_file} is empty: put the token printed by "
                 "`kaohe token issue` in it; nothing was done")
        return lines[0]

    def _password_check(self) -> Callable[[Session], Proof]:
        """The password read (before any transaction is open), then checked as the web login does."""
        if not self.settings.actor_given:
            fail("a password proves an account: set KAOHE_ACTOR to your username (or give your API "
                 "token instead); nothing was done")
        username = self.settings.actor
        if self.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = str(click.prompt(f"Password for {username}", hide_input=True, err=True))
        return lambda session: prove_by_password(session, username, password,
                                                 threshold=self.settings.lockout_threshold,
                                                 lock_minutes=self.settings.lockout_minutes)

    def _proven(self, check: Callable[[Session], Proof]) -> Proof:
        """``check`` in a transaction of its own, committed whatever it says: a wrong password's
        failure count and lock are kept, as the web login keeps them."""
        outcome: Proof | Unauthenticated
        with make_session_factory(self.engine)() as session, session.begin():
            try:
                outcome = check(session)
            except Unauthenticated as exc:
                outcome = exc
        if isinstance(outcome, Unauthenticated):
            fail(f"{outcome}; nothing was done")
        return outcome


pass_app = click.make_pass_decorator(AppContext)


def interactive() -> bool:
    """Whether a password can be asked for: stdin is a terminal."""
    return sys.stdin.isatty()


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
