"""What the API and the pages share about workflow transitions: stated versions, idempotency keys
and the JSON shape of cases and appeals.

A client states the version it saw: ``If-Match: "3"`` on a single case or appeal, or each
item's ``version`` in a batch. A stated version that is not the current one is refused with 412
(``precondition_failed``) before anything changes; a transition without ``If-Match`` is refused
with 428. Two requests that both state the current version race in the workflow, where the
version column lets exactly one win and the other gets 409 (``conflict``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from flask import abort, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import PreconditionFailed

from store import Appeal, Case, CaseEvent
from web.security.policy import current
from workflows.idempotency import Once, once

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def if_match() -> int:
    """The version named by ``If-Match`` (``"3"``, ``W/"3"`` or ``3``); 428 without it, 400 if malformed."""
    raw = request.headers.get("If-Match")
    if raw is None:
        abort(428, description='this transition needs an If-Match header with the version you read, e.g. "3"')
    text = raw.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip().strip('"')
    if not text.isdigit() or len(text) > 9:
        abort(400, description=f"If-Match must be a version number such as \"3\", not {raw[:40]!r}")
    return int(text)


def idempotency_key() -> str | None:
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    if not raw.strip() or len(raw.strip()) > 200:
        abort(400, description=f"{IDEMPOTENCY_HEADER} must be 1 to 200 characters")
    return raw.strip()


def stale_versions(found: Mapping[int, int], stated: Mapping[int, int], what: str) -> list[dict[str, Any]]:
    """Each subject whose stated version differs from its current one (missing ones are left to
    the workflow, which names them)."""
    return [
        {"id": sid, "message": f"{what} {sid} is at version {found[sid]}, not {version}: reload it",
         "version": found[sid]}
        for sid, version in sorted(stated.items()) if sid in found and found[sid] != version
    ]


class StaleVersion(PreconditionFailed):
    """412 with each stale subject in ``details`` (web.errors renders it)."""

    def __init__(self, problems: Sequence[dict[str, Any]]) -> None:
        super().__init__(description="; ".join(p["message"] for p in problems))
        self.details = list(problems)


def refuse_stale(problems: Sequence[dict[str, Any]]) -> None:
    if problems:
        raise StaleVersion(problems)


def check_version(what: str, sid: int, current_version: int, stated: int | None = None) -> None:
    """Refuse (412) a transition of one subject whose stated version (``If-Match`` when ``stated`` is
    None) is not its current one."""
    version = if_match() if stated is None else stated
    refuse_stale(stale_versions({sid: current_version}, {sid: version}, what))


def run_once(session: Session, action: str, body: Mapping[str, Any],
             perform: Callable[[], Mapping[str, Any]], *, key: str | None = None) -> Once:
    """``perform`` through :func:`workflows.idempotency.once` under the request's Idempotency-Key."""
    request_id = {"path": request.path, "if_match": request.headers.get("If-Match"), **body}
    return once(session, key=key if key is not None else idempotency_key(), actor=current().username,
                action=action, request=request_id, perform=perform)


def replay_headers(done: Once, etag: int | None = None) -> dict[str, str]:
    headers = {REPLAYED_HEADER: "true"} if done.replayed else {}
    if etag is not None and not done.replayed:
        headers["ETag"] = f'"{etag}"'
    return headers


def _stamp(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def plain_number(value: Decimal | None) -> str | None:
    """A decimal as people write it (no exponent, no trailing zeros), or None."""
    return None if value is None else format(value.normalize(), "f")


def case_json(case: Case) -> dict[str, Any]:
    f = case.firing
    return {
        "id": case.id, "run": case.run_id, "unit": case.unit.code, "unit_name": case.unit.name,
        "kind": case.kind, "state": case.state, "version": case.version, "firing_seq": f.seq,
        "rule_id": f.rule_id, "indicator": f.indicator_code, "points": plain_number(f.points),
        "adjusted_points": plain_number(case.adjusted_points), "proposer": case.proposer,
        "reviewer": case.reviewer, "approver": case.approver, "review_reason": case.review_reason,
        "decision": case.decision, "decision_reason": case.decision_reason,
        "created_at": _stamp(case.created_at), "updated_at": _stamp(case.updated_at),
    }


def history_json(events: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    return [{"case": e.case_id, "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
             "actor": e.actor, "reason": e.reason, "at": _stamp(e.at), "audit_seq": e.audit_seq}
            for e in events]


def appeal_json(appeal: Appeal) -> dict[str, Any]:
    from web.files.evidence import evidence_label, stored_evidence

    return {
        "id": appeal.id, "run": appeal.run_id, "unit": appeal.unit.code, "unit_name": appeal.unit.name,
        "state": appeal.state, "version": appeal.version, "filed_by": appeal.filed_by,
        "filed_at": _stamp(appeal.filed_at), "grounds": appeal.grounds,
        "evidence": evidence_label(appeal.evidence_ref) or None,
        "evidence_file": stored_evidence(appeal.evidence_ref) is not None,
        "reviewer": appeal.reviewer, "decided_at": _stamp(appeal.decided_at),
        "decision_reason": appeal.decision_reason, "superseding_run": appeal.superseding_run_id,
        "firings": [{"seq": af.firing.seq, "rule_id": af.firing.rule_id,
                     "points": plain_number(af.firing.points), "new_points": plain_number(af.new_points)}
                    for af in sorted(appeal.firings, key=lambda af: af.firing.seq)],
    }
