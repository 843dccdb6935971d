"""How the person acting in a unit of work proved who they are, carried on its Session.

The web (session login or API token) and the CLI (token, password, or a development instance's
bare name) say once, at the start of a transaction, who is acting and how they were
authenticated; every event that person records in it then carries ``auth`` in its payload, so
the ledger shows how each decision's author was known, without the workflows in between taking
or passing anything for it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_KEY = "kaohe.authenticated"


def authenticated(session: Session, actor: str, method: str) -> None:
    """``actor`` acts in ``session``'s transaction, authenticated by ``method`` (e.g. "password",
    "session", "token:kh_AbCdEfG", "development-name")."""
    session.info[_KEY] = (actor, method)


def method_of(session: Session, actor: str) -> str | None:
    """How ``actor`` was authenticated in this session, or None when it is not the one who was."""
    found = session.info.get(_KEY)
    if isinstance(found, tuple) and found[0] == actor:
        return str(found[1])
    return None
