"""Proving who acts from a shell: the person's API token, or their password under the web
login's lockout rules. Takes a Session, never commits.

A refusal is :class:`Unauthenticated`, whose message says what to do instead. A password that
fails still counts towards the lockout (and may lock the account), so the caller commits the
proving transaction on every outcome, as the web login does, and acts in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, ApiToken
from workflows.accounts import TOKEN_PREFIX, authenticate, token_digest
from workflows.errors import DomainError


class Unauthenticated(DomainError):
    """A credential that does not prove who acts: wrong, revoked, or its account inactive or locked."""


@dataclass(frozen=True)
class Proof:
    """Who acts (an account's username) and how it was proven, as the ledger records it."""

    username: str
    method: str  # "token:<prefix>" or "password"


def prove_by_token(session: Session, secret: str) -> Proof:
    """The live token's account; a token marks its use as the web API's do."""
    secret = secret.strip()
    if not secret.startswith(TOKEN_PREFIX):
        raise Unauthenticated(f"that is not a Kaohe API token (they begin with {TOKEN_PREFIX!r}): "
                              "check KAOHE_TOKEN or the --token-file")
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_sha256 == token_digest(secret))
    ).one_or_none()
    if token is None:
        raise Unauthenticated(f"API token {secret[:10]}… is unknown: ask an admin for one "
                              "(`kaohe token issue USERNAME --name cli`)")
    if token.revoked_at is not None:
        raise Unauthenticated(f"API token {token.prefix}… of {token.account.username} was revoked on "
                              f"{token.revoked_at:%Y-%m-%d}: ask an admin for a new one")
    if not token.account.active:
        raise Unauthenticated(f"account {token.account.username} is deactivated: its tokens act for "
                              "nobody; ask an admin to reactivate it")
    token.last_used_at = dt.datetime.now(dt.UTC)
    session.flush()
    return Proof(token.account.username, f"token:{token.prefix}")


def prove_by_password(session: Session, username: str, password: str, *, threshold: int,
                      lock_minutes: int) -> Proof:
    """The web login's check (:func:`workflows.accounts.authenticate`): the same failure count,
    the same lock. The caller must commit whatever this raises."""
    account = session.scalars(select(Account).where(Account.username == username)).one_or_none()
    if account is None:
        raise Unauthenticated(f"there is no account {username!r}: set KAOHE_ACTOR to your own "
                              "username, or give your API token (KAOHE_TOKEN or --token-file)")
    if not account.active:
        raise Unauthenticated(f"account {username} is deactivated: ask an admin to reactivate it")
    result = authenticate(session, username, password, threshold=threshold, lock_minutes=lock_minutes)
    if result.outcome == "locked" and result.locked_until is not None:
        raise Unauthenticated(f"account {username} is locked after repeated wrong passwords until "
                              f"{result.locked_until.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC: wait, "
                              "or use your API token (KAOHE_TOKEN or --token-file)")
    if result.outcome != "ok":
        raise Unauthenticated(f"wrong password for {username} (after {threshold} failures in a row "
                              f"the account is locked for {lock_minutes} minutes)")
    return Proof(username, "password")
