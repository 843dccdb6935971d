"""The API of rule-pack versions: the stored versions, one version's YAML, the diff between two
versions, and a draft's impact on the scheme's latest snapshot (which approval requires)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from store import RulePack
from web.api.common import action, listing, paginate, reading
from web.extensions import db
from web.packs import impact_of, pack_diff, pack_version
from web.security.policy import IMPACT_ROLES, STAFF
from workflows.packs import get_pack as find_pack


class PackSchema(ma.Schema):
    name = ma.fields.String()
    version = ma.fields.String()
    scheme_code = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String()
    status = ma.fields.String()
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()
    approved_by = ma.fields.String(allow_none=True)


class PackDetailSchema(PackSchema):
    yaml_text = ma.fields.String()


class DiffQuery(ma.Schema):
    against = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))


class DiffOut(ma.Schema):
    old = ma.fields.String()
    new = ma.fields.String()
    diff = ma.fields.String()


class ImpactIn(ma.Schema):
    scheme = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    period = ma.fields.String(validate=ma.validate.Length(min=4, max=10))


class UnitChangeOut(ma.Schema):
    unit = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    old_total = ma.fields.Decimal(as_string=True, allow_none=True)
    new_total = ma.fields.Decimal(as_string=True, allow_none=True)
    delta = ma.fields.Decimal(as_string=True, allow_none=True)
    old_grade = ma.fields.String(allow_none=True)
    new_grade = ma.fields.String(allow_none=True)
    old_rank = ma.fields.Integer(allow_none=True)
    new_rank = ma.fields.Integer(allow_none=True)


class ImpactOut(ma.Schema):
    scheme = ma.fields.String()
    period = ma.fields.String()
    run_id = ma.fields.Integer()
    snapshot_sha256 = ma.fields.String()
    draft = ma.fields.String()
    draft_sha256 = ma.fields.String()
    baseline = ma.fields.String(allow_none=True)
    baseline_sha256 = ma.fields.String(allow_none=True)
    units = ma.fields.Integer()
    changes = ma.fields.List(ma.fields.Nested(UnitChangeOut))


@listing("/rule-packs", PackSchema, "PackPage", *STAFF)
def list_packs(args: dict[str, Any]) -> Any:
    return paginate(db.session(), select(RulePack).order_by(RulePack.name, RulePack.id), args)


@reading("/rule-packs/<name>/<version>", PackDetailSchema, *STAFF)
def get_pack(name: str, version: str) -> Any:
    return pack_version(db.session(), name, version)


@reading("/rule-packs/<name>/<version>/diff", DiffOut, *STAFF, query=DiffQuery, missing=True)
def get_pack_diff(args: dict[str, Any], name: str, version: str) -> Any:
    """The unified diff of the YAML from version ``against`` to this one."""
    session = db.session()
    new = pack_version(session, name, version)
    old = pack_version(session, name, args["against"])
    return {"old": f"{old.name}@{old.version}", "new": f"{new.name}@{new.version}",
            "diff": "\n".join(pack_diff(old, new))}


@action("/rule-packs/<name>/<version>/impact", ImpactOut, *IMPACT_ROLES, body=ImpactIn, status=200,
        refusals=(404, 409), once=False)
def post_pack_impact(body: dict[str, Any], name: str, version: str) -> Any:
    """Re-evaluate the scheme's latest snapshot under this version and the approved one: every unit
    whose score, grade or rank changes (recorded as ``pack.impact``, which approval requires)."""
    session = db.session()
    draft = find_pack(session, f"{name}@{version}")
    report = impact_of(session, draft, body["scheme"], body.get("period"))
    return {**report.__dict__, "changes": [{**c.__dict__, "delta": c.delta} for c in report.changes]}
