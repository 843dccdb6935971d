"""The API of the audit ledger: verify the hash chain and every run's roots, the ledger's events,
a run's self-contained export bundle, and (public) the latest signed checkpoint with its keys."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from audit import verify
from audit.checkpoint import latest as latest_checkpoint
from store import AuditEvent
from web.anchoring import published_keys
from web.api.blueprint import bp
from web.api.common import ApiErrorSchema, PageArgs, listing, paginate, reading, where_given
from web.extensions import db
from web.files.bundles import send_bundle
from web.security.policy import AUDITORS, allow, public


class BreakOut(ma.Schema):
    seq = ma.fields.Integer()
    kind = ma.fields.String()
    detail = ma.fields.String()
    run_id = ma.fields.Integer(allow_none=True)
    table = ma.fields.String(allow_none=True)
    row = ma.fields.String(allow_none=True)


class VerifyOut(ma.Schema):
    ok = ma.fields.Boolean()
    events_checked = ma.fields.Integer()
    runs_checked = ma.fields.Integer()
    rows_checked = ma.fields.Integer()
    head_seq = ma.fields.Integer()
    head_hash = ma.fields.String()
    first_break = ma.fields.Nested(BreakOut, allow_none=True)


class AuditEventOut(ma.Schema):
    seq = ma.fields.Integer()
    recorded_at = ma.fields.DateTime()
    actor = ma.fields.String()
    action = ma.fields.String()
    subject_type = ma.fields.String()
    subject_id = ma.fields.String()
    payload = ma.fields.String()
    prev_hash = ma.fields.String()
    hash = ma.fields.String()


class AuditQuery(PageArgs):
    action = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    subject_type = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    subject_id = ma.fields.String(validate=ma.validate.Length(min=1, max=100))


@reading("/audit/verify", VerifyOut, *AUDITORS)
def get_audit_verify() -> Any:
    """Check the whole hash chain and every run's Merkle roots (read-only); ``ok`` false names the
    first broken event."""
    return verify(db.session()).as_dict()


@listing("/audit/events", AuditEventOut, "AuditEventPage", *AUDITORS, query=AuditQuery)
def list_audit_events(args: dict[str, Any]) -> Any:
    """The ledger, newest first, filtered by action and subject."""
    query = where_given(select(AuditEvent), args, action=AuditEvent.action,
                        subject_type=AuditEvent.subject_type, subject_id=AuditEvent.subject_id)
    return paginate(db.session(), query.order_by(AuditEvent.seq.desc()), args)


@bp.route("/runs/<int:run_id>/audit-bundle")
@allow(*AUDITORS)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema)
def get_audit_bundle(run_id: int) -> Any:
    """The run's self-contained export bundle (zip, docs/audit-format.md §5) for verify-bundle."""
    return send_bundle(db.session(), run_id)


class CheckpointOut(ma.Schema):
    note = ma.fields.String(allow_none=True, metadata={
        "description": "The latest signed checkpoint (C2SP tlog-checkpoint, docs/audit-format.md §6)"})
    tree_size = ma.fields.Integer(allow_none=True)
    signed_at = ma.fields.DateTime(allow_none=True)
    verifier_keys = ma.fields.List(ma.fields.String(), metadata={
        "description": "Verifier keys, this instance's first, then the earlier ones still published"})


@bp.route("/audit/checkpoint")
@public
@bp.response(200, CheckpointOut)
def get_audit_checkpoint() -> Any:
    """The ledger's latest signed checkpoint and the verifier keys to check it with; public, so
    that anyone can keep a copy and later prove the ledger still extends it."""
    row = latest_checkpoint(db.session())
    return {"note": row.note if row else None, "tree_size": row.tree_size if row else None,
            "signed_at": row.made_at if row else None,
            "verifier_keys": [key.text for key in published_keys()]}
