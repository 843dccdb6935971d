"""Accounts, login with lockout, and API tokens. Takes a Session, never commits.

Passwords are hashed with argon2id (argon2-cffi); a token's secret is shown once and only its
SHA-256 is stored. Every login-relevant act (account made, login, lockout, token issued or
revoked) is an audit event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import Account, AccountRole, AccountUnit, ApiToken, Unit
from store.models.vocab import ROLES
from workflows.errors import Conflict, Invalid, NotFound
from workflows.snapshot import find_scheme

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,59}$")
MIN_PASSWORD = 8
TOKEN_PREFIX = "kh_"
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_account(
    session: Session,
    username: str,
    password: str,
    *,
    display_name: str,
    roles: Iterable[str],
    actor: str,
    scheme_code: str | None = None,
    unit_codes: Sequence[str] = (),
) -> Account:
    """A new account with ``roles``; a reporter is scoped to ``unit_codes`` of ``scheme_code``."""
    role_set = sorted(set(roles))
    if not USERNAME.match(username):
        raise Invalid(f"username {username!r}: 3–60 lower-case letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the password must have at least {MIN_PASSWORD} characters")
    if not display_name.strip():
        raise Invalid("a display name is required")
    unknown = [r for r in role_set if r not in ROLES]
    if unknown or not role_set:
        raise Invalid(f"roles must be some of {', '.join(ROLES)}; got {', '.join(role_set) or 'none'}")
    if "reporter" in role_set and not unit_codes:
        raise Invalid("a reporter must be scoped to at least one unit (--scheme and --unit)")
    if unit_codes and scheme_code is None:
        raise Invalid("unit codes need the scheme they belong to")
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(f"an account named {username!r} already exists")
    units: list[Unit] = []
    if unit_codes:
        assert scheme_code is not None
        scheme = find_scheme(session, scheme_code)
        by_code = {u.code: u for u in session.scalars(select(Unit).where(Unit.scheme_id == scheme.id))}
        missing = [c for c in unit_codes if c not in by_code]
        if missing:
            raise NotFound(f"scheme {scheme.code} has no unit {', '.join(missing)}")
        units = [by_code[c] for c in dict.fromkeys(unit_codes)]
    account = Account(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        created_at=_now(),
        roles=[AccountRole(role=r) for r in role_set],
        units=[AccountUnit(unit_id=u.id) for u in units],
    )
    session.add(account)
    session.flush()
    audit.record(session, actor=actor, action="account.create", subject_type="account",
                 subject_id=account.id, payload={"username": username, "roles": role_set,
                                                 "units": [u.code for u in units]})
    return account


def get_account(session: Session, username: str) -> Account:
    account = session.scalars(select(Account).where(Account.username == username)).one_or_none()
    if account is None:
        raise NotFound(f"no account {username!r}")
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.username)))


@dataclass(frozen=True)
class LoginResult:
    outcome: Literal["ok", "invalid", "locked"]
    account: Account | None
    locked_until: dt.datetime | None = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    threshold: int,
    lock_minutes: int,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a password; ``threshold`` failures in a row lock the account for ``lock_minutes``.

    A locked account is refused without looking at the password, so guessing during the lock
    teaches nothing. The failure counter is written even though the login fails: the caller
    must commit on every outcome.
    """
    now = now or _now()
    account = session.scalars(select(Account).where(Account.username == username)).one_or_none()
    if account is None or not account.active:
        _verify(_DUMMY_HASH, password)
        return LoginResult("invalid", None)
    if account.locked_until is not None and account.locked_until > now:
        return LoginResult("locked", account, account.locked_until)
    if not _verify(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= threshold:
            account.locked_until = now + dt.timedelta(minutes=lock_minutes)
            account.failed_logins = 0
            session.flush()
            audit.record(session, actor=username, action="account.lock", subject_type="account",
                         subject_id=account.id, payload={"until": account.locked_until.isoformat(),
                                                         "failures": threshold})
            return LoginResult("locked", account, account.locked_until)
        session.flush()
        audit.record(session, actor=username, action="account.login_failed", subject_type="account",
                     subject_id=account.id, payload={"failures": account.failed_logins})
        return LoginResult("invalid", account)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    session.flush()
    audit.record(session, actor=username, action="account.login", subject_type="account",
                 subject_id=account.id, payload={})
    return LoginResult("ok", account)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, account: Account, name: str, *, actor: str) -> tuple[ApiToken, str]:
    """A new bearer token for ``account``; the secret is returned once and never stored."""
    if not name.strip():
        raise Invalid("a token needs a name (what uses it)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(account_id=account.id, name=name.strip()[:100], prefix=secret[:10],
                     token_sha256=token_digest(secret), created_at=_now())
    session.add(token)
    session.flush()
    audit.record(session, actor=actor, action="token.issue", subject_type="api_token",
                 subject_id=token.id, payload={"account": account.username, "name": token.name,
                                               "prefix": token.prefix})
    return token, secret


def revoke_token(session: Session, token_id: int, *, actor: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = _now()
        session.flush()
        audit.record(session, actor=actor, action="token.revoke", subject_type="api_token",
                     subject_id=token.id, payload={"prefix": token.prefix})
    return token


TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)
"""How stale ``ApiToken.last_used_at`` may be: a client reading in a loop (a statistics bureau, a
dashboard, a load test) would otherwise write, and on SQLite take the database's write lock, on
every request."""


def account_for_token(session: Session, secret: str) -> Account | None:
    """The active account a live token belongs to, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_sha256 == token_digest(secret))
    ).one_or_none()
    if token is None or token.revoked_at is not None or not token.account.active:
        return None
    now = _now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now  # at most once a minute: a read is not a write on every call
    return token.account
