"""Who may see and do what: roles and unit scope, enforced on the server for every page and endpoint.

Every view is wrapped by :func:`allow` (or :func:`public`); a view that is neither is refused by
the app (``web.app`` checks at start-up that none is missing). Staff roles read every unit; a
reporter reads and reports only for the units of its scope; anonymous readers see published
results only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select

from audit.who import authenticated
from store import Account, AccountUnit
from store.models.vocab import ROLES
from web.extensions import db
from workflows.accounts import account_for_token

STAFF = frozenset({"admin", "office", "auditor", "reviewer", "committee"})
# Who may import files and create runs (the office's work), and who may report progress.
OFFICE = frozenset({"admin", "office"})
REPORTERS = frozenset({"admin", "office", "reporter"})
# Who reads the audit ledger and a run's export bundle, and who may compute a draft rule pack's impact.
AUDITORS = frozenset({"admin", "office", "auditor", "reviewer", "committee"})
IMPACT_ROLES = frozenset({"admin", "office", "auditor", "committee"})
ALL_ROLES = frozenset(ROLES)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    account_id: int | None = None
    username: str = ""
    display_name: str = ""
    roles: frozenset[str] = frozenset()
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    via_token: bool = False

    @property
    def authenticated(self) -> bool:
        return self.account_id is not None

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF)

    def has(self, roles: frozenset[str] | set[str]) -> bool:
        return bool(self.roles & roles)

    def can_read_unit(self, unit_id: int) -> bool:
        return self.is_staff or unit_id in self.unit_ids

    def can_report_for(self, unit_id: int) -> bool:
        if self.has(OFFICE):
            return True
        return "reporter" in self.roles and unit_id in self.unit_ids


ANONYMOUS = Principal()


def current() -> Principal:
    p: Principal = g.get("principal", ANONYMOUS)
    return p


def principal_of(account: Account, *, via_token: bool = False) -> Principal:
    units = db.session().scalars(select(AccountUnit.unit_id).where(AccountUnit.account_id == account.id))
    return Principal(account.id, account.username, account.display_name, frozenset(account.role_names),
                     frozenset(units), via_token)


def load_principal() -> None:
    """before_request: a bearer token (API only) or the session's account, else anonymous; the
    request's ledger events by that account say which (``auth``: "token:<prefix>" or "session")."""
    g.principal = ANONYMOUS
    auth = request.headers.get("Authorization", "")
    if auth:
        if not request.path.startswith("/api/"):
            return
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            abort(401, description="Authorization must be 'Bearer <token>'")
        account = account_for_token(db.session(), secret.strip())
        if account is None:
            abort(401, description="the API token is unknown or revoked")
        g.principal = principal_of(account, via_token=True)
        authenticated(db.session(), account.username, f"token:{secret.strip()[:10]}")
        return
    account_id = session.get("account_id")
    if isinstance(account_id, int):
        account = db.session().get(Account, account_id)
        if account is None or not account.active:
            session.clear()
            return
        g.principal = principal_of(account)
        authenticated(db.session(), account.username, "session")


def _refuse_anonymous() -> Any:
    if request.path.startswith("/api/") or request.method != "GET":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def allow(*roles: str) -> Callable[[F], F]:
    """Only authenticated accounts holding one of ``roles`` (all roles if none are named)."""
    wanted = frozenset(roles) or ALL_ROLES
    unknown = wanted - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            p = current()
            if not p.authenticated:
                return _refuse_anonymous()
            if not p.has(wanted):
                abort(403)
            return view(*args, **kwargs)

        wrapper._kaohe_policy = wanted  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def public(view: F) -> F:
    """Open to anonymous readers too (the view itself shows published data only to them)."""
    view._kaohe_policy = "public"  # type: ignore[attr-defined]
    return view


def policy_of(view: Callable[..., Any]) -> object:
    return getattr(view, "_kaohe_policy", None)


def require_unit(unit_id: int) -> None:
    """Refuse (403) a principal outside ``unit_id``'s scope."""
    if not current().can_read_unit(unit_id):
        abort(403)


def require_report_scope(unit_id: int) -> None:
    if not current().can_report_for(unit_id):
        abort(403)
