"""The office puts a scheme in force (draft → in force); the seal follows from the year run's.

The rule itself lives in ``workflows.freeze``; this is the office's own act, with its role
checked, for the CLI, the API and the pages.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import AuditEvent, Scheme
from workflows.cases.duties import require, resolve_actor, role_problem
from workflows.errors import NotFound
from workflows.freeze import put_in_force, stamp
from workflows.year.common import required_text


def get_scheme(session: Session, code: str) -> Scheme:
    scheme = session.scalars(select(Scheme).where(Scheme.code == code)).one_or_none()
    if scheme is None:
        raise NotFound(f"no scheme {code}")
    return scheme


def lock_scheme(session: Session, code: str, *, actor: str, reason: str,
                now: dt.datetime | None = None) -> Scheme:
    """The office puts a draft scheme in force: its definitions are fixed, its cut-off binds."""
    who = resolve_actor(session, actor)
    require(role_problem(who, "scheme.lock"))
    scheme = get_scheme(session, code)
    return put_in_force(session, scheme, actor=who.name, reason=required_text(reason, "a reason"), now=now)


@dataclass(frozen=True)
class Transition:
    """One step of a scheme's lifecycle, as the ledger recorded it."""

    seq: int
    action: str
    from_status: str
    to_status: str
    actor: str
    at: str
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "action": self.action, "from": self.from_status, "to": self.to_status,
                "actor": self.actor, "at": self.at, "detail": self.detail}


def lifecycle(session: Session, scheme: Scheme) -> list[Transition]:
    """The scheme's transitions from the ledger, oldest first."""
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "scheme", AuditEvent.subject_id == str(scheme.id),
        AuditEvent.action.in_(("scheme.lock", "scheme.seal"))).order_by(AuditEvent.seq))
    out = []
    for e in events:
        p = json.loads(e.payload or "{}")
        detail = str(p.get("reason") or (f"run {p['run']}" if p.get("run") else ""))
        out.append(Transition(e.seq, e.action, str(p.get("from")), str(p.get("to")), e.actor,
                              str(p.get("at") or stamp(e.recorded_at)), detail))
    return out
