"""Rule-pack versions: store a pack (validated, content-hashed, immutable) and approve it.

A stored version's text never changes: loading the same name and version again with the same
content is a no-op, with different content an error — a changed method needs a new version.
Approval takes a second person (four eyes): the approver may not be who stored it, and when the
version would replace an approved one, the approver must first have seen its impact
(``workflows.impact.pack_impact``, recorded as a ``pack.impact`` event against that baseline).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from engine import RulePack as EnginePack
from engine import load_pack, parse_period, validate_pack
from store import AuditEvent, RulePack
from workflows.errors import Conflict, Invalid, NotFound
from workflows.snapshot import build_snapshot, find_scheme

IMPACT_ACTION = "pack.impact"


@dataclass(frozen=True)
class StoredPack:
    row: RulePack
    created: bool  # False: the same version with the same content was already stored


def parse_ref(ref: str) -> tuple[str, str]:
    name, sep, version = ref.rpartition("@")
    if not sep or not name or not version:
        raise Invalid(f"rule pack reference {ref!r} is not NAME@VERSION")
    return name, version


def store_pack(session: Session, text: str, filename: str, *, actor: str) -> StoredPack:
    """Parse, validate against its scheme's definitions, and store a new pack version."""
    pack = load_pack(text, filename)  # PackError names file, line, rule id and field
    if pack.scheme is not None:
        scheme = find_scheme(session, pack.scheme)
        definitions = build_snapshot(session, scheme, parse_period(str(scheme.year)), with_facts=False)
        validate_pack(pack, definitions)
    existing = session.scalars(
        select(RulePack).where(RulePack.name == pack.name, RulePack.version == str(pack.version))
    ).one_or_none()
    if existing is not None:
        if existing.sha256 != pack.sha256:
            raise Conflict(
                f"rule pack {pack.ref} is already stored with different content "
                f"(sha256 {existing.sha256[:12]}…, this file {pack.sha256[:12]}…): "
                "a stored version never changes; give the new text a new version"
            )
        return StoredPack(existing, created=False)
    row = RulePack(
        name=pack.name,
        version=str(pack.version),
        scheme_code=pack.scheme,
        yaml_text=text,
        sha256=pack.sha256,
        status="draft",
        created_at=dt.datetime.now(dt.UTC),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="pack.version", subject_type="rule_pack",
                 subject_id=row.id, payload={"name": row.name, "version": row.version,
                                             "sha256": row.sha256, "scheme": row.scheme_code})
    return StoredPack(row, created=True)


def get_pack(session: Session, ref: str) -> RulePack:
    name, version = parse_ref(ref)
    row = session.scalars(
        select(RulePack).where(RulePack.name == name, RulePack.version == version)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no rule pack {ref}")
    return row


def approve_pack(session: Session, ref: str, *, approver: str) -> RulePack:
    row = get_pack(session, ref)
    if row.status != "draft":
        raise Conflict(f"rule pack {ref} is {row.status}, not draft: only a draft can be approved")
    if approver == row.created_by:
        raise Conflict(f"rule pack {ref} was stored by {approver}: a second person must approve it")
    current = _current_approved(session, row.scheme_code)
    if current is not None and not impact_seen(session, row, current, approver):
        raise Conflict(
            f"rule pack {ref} would replace {current.name}@{current.version} for scheme "
            f"{row.scheme_code}: {approver} must first see its impact (`kaohe pack impact {ref}`)"
        )
    row.status = "approved"
    row.approved_by = approver
    session.flush()
    audit.record(session, actor=approver, action="pack.approve", subject_type="rule_pack",
                 subject_id=row.id, payload={"name": row.name, "version": row.version,
                                             "sha256": row.sha256})
    return row


def _current_approved(session: Session, scheme_code: str | None) -> RulePack | None:
    if scheme_code is None:
        return None
    try:
        return approved_pack_for(session, scheme_code)
    except NotFound:
        return None


def impact_seen(session: Session, draft: RulePack, baseline: RulePack, approver: str) -> bool:
    """Whether ``approver`` has seen ``draft``'s impact against exactly ``baseline``'s text."""
    payloads = session.scalars(select(AuditEvent.payload).where(
        AuditEvent.action == IMPACT_ACTION, AuditEvent.subject_type == "rule_pack",
        AuditEvent.subject_id == str(draft.id), AuditEvent.actor == approver))
    return any(
        (seen.get("draft_sha256"), seen.get("baseline_sha256")) == (draft.sha256, baseline.sha256)
        for seen in map(json.loads, payloads)
    )


def approved_pack_for(session: Session, scheme_code: str) -> RulePack:
    """The scheme's newest approved pack version (by numeric version where it is a number)."""
    rows = session.scalars(
        select(RulePack).where(RulePack.scheme_code == scheme_code, RulePack.status == "approved")
    ).all()
    if not rows:
        raise NotFound(
            f"scheme {scheme_code} has no approved rule pack: store one with `kaohe pack load FILE` "
            "and have a second person approve it with `kaohe pack approve NAME@VERSION`"
        )
    return max(rows, key=lambda r: (int(r.version) if r.version.isdigit() else -1, r.version, r.id))


def engine_pack(row: RulePack) -> EnginePack:
    """The stored text, parsed again; its hash must still be the one stored."""
    pack = load_pack(row.yaml_text, f"{row.name}@{row.version}")
    if pack.sha256 != row.sha256:
        raise Conflict(f"rule pack {row.name}@{row.version}: stored text no longer hashes to its sha256")
    return pack
