"""Who may act: roles from the actor's account, and separation of duties.

The actor is a name: the web's logged-in username or token's account, the CLI's proven account
(or, on a development instance only, its bare KAOHE_ACTOR). When an account of that name exists
its roles and unit scopes count: the role for the action is required, and a member of the
assessed unit may never review, approve or decide anything about that unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Account, AccountUnit
from workflows.cases.machine import ROLE_FOR
from workflows.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    name: str
    has_account: bool
    roles: frozenset[str]
    unit_ids: frozenset[int]


def resolve_actor(session: Session, name: str) -> Actor:
    """The actor with its account's roles and units; an inactive account may do nothing."""
    name = name.strip()
    if not name:
        raise Forbidden("an actor is required (set KAOHE_ACTOR or log in)")
    account = session.scalars(select(Account).where(Account.username == name)).one_or_none()
    if account is None:
        return Actor(name, False, frozenset(), frozenset())
    if not account.active:
        raise Forbidden(f"account {name} is deactivated")
    units = session.scalars(select(AccountUnit.unit_id).where(AccountUnit.account_id == account.id))
    return Actor(name, True, frozenset(account.role_names), frozenset(units))


def role_problem(actor: Actor, action: str) -> str | None:
    role = ROLE_FOR.get(action)
    if role is None or not actor.has_account or role in actor.roles:
        return None
    return f"{actor.name} lacks the role {role} that {action} needs"


def member_problem(actor: Actor, unit_id: int, unit_code: str) -> str | None:
    if unit_id in actor.unit_ids:
        return f"{actor.name} is a member of the assessed unit {unit_code}"
    return None


def involvement_problem(actor: Actor, roles: Iterable[tuple[str, str | None]]) -> str | None:
    """``roles`` is (what, who) pairs such as ("proposer", "office.li"): the actor may be none."""
    for what, who in roles:
        if who is not None and who == actor.name:
            return f"{actor.name} is the {what}: a different person must act (separation of duties)"
    return None


def require(problem: str | None) -> None:
    if problem is not None:
        raise Forbidden(problem)
