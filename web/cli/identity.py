"""Who a ``kaohe`` command acts as, and how that was proven.

Outside a development instance a name is not a person: a command that decides or proposes acts
only for the account whose API token (``KAOHE_TOKEN`` or ``--token-file``) or password
(``--password-stdin``, or asked at a terminal) it was given, the password under the web login's
lockout. The method becomes the ``auth`` of every ledger event the person records
(:mod:`audit.who`), so the ledger shows whether a decision's author was proven or only named.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store import make_session_factory
from web.config import Settings
from workflows.credentials import Proof, Unauthenticated, prove_by_password, prove_by_token


@dataclass(frozen=True)
class Credentials:
    """What the command line was given to prove who acts (``kaohe --token-file / --password-stdin``)."""

    token_file: Path | None = None
    password_stdin: bool = False


class NotProven(Exception):
    """No credential, or one that proves nobody: the message says what to do instead."""


def unproven(settings: Settings) -> str:
    """The ``auth`` of a name taken as given: only a development instance trusts one."""
    return "development-name" if settings.trusts_named_actor else "name"


def interactive() -> bool:
    """Whether a password can be asked for: stdin is a terminal."""
    return sys.stdin.isatty()


def prove(settings: Settings, credentials: Credentials, engine: Engine, action: str, *,
          required: bool) -> Proof:
    """The proven account and how; a name as given (``unproven``) only on a development instance
    or when not ``required`` (account administration: the first admin has nobody to prove)."""
    secret = _token(settings, credentials)
    if secret and credentials.password_stdin:
        raise NotProven("give an API token or --password-stdin, not both: nothing was done")
    if secret:
        proof = _checked(engine, lambda s: prove_by_token(s, secret))
        if settings.actor_given and settings.actor != proof.username:
            raise NotProven(f"KAOHE_ACTOR is {settings.actor} but the API token is {proof.username}'s: "
                            f"unset KAOHE_ACTOR, or use {settings.actor}'s own token; nothing was done")
        return proof
    if credentials.password_stdin or (required and not settings.trusts_named_actor and interactive()):
        return _checked(engine, _password_check(settings, credentials))
    if settings.trusts_named_actor or not required:
        return Proof(settings.actor, unproven(settings))
    raise NotProven(
        f"{action} needs proof of who you are: this is a {settings.env} instance, where KAOHE_ACTOR "
        f"({settings.actor}) alone is not enough (only with KAOHE_ENV=development). Give your own "
        "API token (KAOHE_TOKEN=… or `kaohe --token-file FILE …`), or your password (asked at a "
        "terminal, or `kaohe --password-stdin …` in a script) with KAOHE_ACTOR set to your "
        "username. Nothing was done.")


def _token(settings: Settings, credentials: Credentials) -> str:
    path = credentials.token_file
    if path is None:
        return settings.token
    try:
        words = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise NotProven(f"--token-file {path}: cannot read it ({exc}); nothing was done") from None
    if not words:
        raise NotProven(f"--token-file {path} is empty: put the token `kaohe token issue` printed in "
                        "it; nothing was done")
    return words[0]


def _password_check(settings: Settings, credentials: Credentials) -> Callable[[Session], Proof]:
    """The password read before any transaction is open, then checked as the web login does."""
    if not settings.actor_given:
        raise NotProven("a password proves an account: set KAOHE_ACTOR to your username (or give "
                        "your API token instead); nothing was done")
    username = settings.actor
    if credentials.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt(f"Password for {username}", hide_input=True, err=True))
    return lambda session: prove_by_password(session, username, password,
                                             threshold=settings.lockout_threshold,
                                             lock_minutes=settings.lockout_minutes)


def _checked(engine: Engine, check: Callable[[Session], Proof]) -> Proof:
    """``check`` in a transaction of its own, committed whatever it says: a wrong password's
    failure count and lock are kept, as the web login keeps them."""
    outcome: Proof | Unauthenticated
    with make_session_factory(engine)() as session, session.begin():
        try:
            outcome = check(session)
        except Unauthenticated as exc:
            outcome = exc
    if isinstance(outcome, Unauthenticated):
        raise NotProven(f"{outcome}; nothing was done")
    return outcome
