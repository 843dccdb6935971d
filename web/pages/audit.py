"""Pages of rule-pack versions (a diff between two versions' YAML, a draft's impact table) and of
the audit ledger (the latest events, a verify button, each run's export bundle)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from sqlalchemy import func, select

from audit import verify
from store import AuditEvent, RulePack, Scheme
from web.domain_text import localized
from web.extensions import db
from web.files.bundles import send_bundle
from web.packs import impact_of, pack_diff, pack_version
from web.pages.blueprint import bp
from web.pages.common import ActionForm, require_valid
from web.security.policy import AUDITORS, IMPACT_ROLES, STAFF, allow, current
from workflows import readmodels as rm
from workflows.errors import DomainError

EVENTS_PER_PAGE = 50


@bp.route("/rule-packs")
@allow(*STAFF)
def rule_packs() -> Any:
    packs = list(db.session().scalars(select(RulePack).order_by(RulePack.name, RulePack.id)))
    return render_template("packs.html", packs=packs)


@bp.route("/rule-packs/<name>/<version>", methods=["GET", "POST"])
@allow(*STAFF)
def rule_pack(name: str, version: str) -> Any:
    """One version: its YAML, the diff from another version, and (on request) its impact."""
    session = db.session()
    pack = pack_version(session, name, version)
    versions = list(session.scalars(select(RulePack).where(RulePack.name == name).order_by(RulePack.id)))
    earlier = [v for v in versions if v.id < pack.id]
    against = request.args.get("against") or (earlier[-1].version if earlier else "")
    diff = pack_diff(pack_version(session, name, against), pack) if against else None
    impact, error, status = None, None, 200
    form = ActionForm()
    if request.method == "POST":
        if not current().has(IMPACT_ROLES):
            abort(403)
        require_valid(form)
        scheme = pack.scheme_code or next(iter(session.scalars(select(Scheme.code).limit(1))), "")
        try:
            impact = impact_of(session, pack, scheme, None)
        except DomainError as exc:
            error, status = localized(exc), 409
    return render_template("pack.html", pack=pack, versions=versions, against=against, diff=diff,
                           impact=impact, error=error, form=form,
                           can_impact=current().has(IMPACT_ROLES)), status


@bp.route("/audit", methods=["GET", "POST"])
@allow(*AUDITORS)
def audit_ledger() -> Any:
    """The ledger's latest events; POST verifies the whole chain and every run's roots."""
    session = db.session()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1_000_000))
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())
                                  .offset((page - 1) * EVENTS_PER_PAGE).limit(EVENTS_PER_PAGE)))
    form = ActionForm()
    report = None
    if request.method == "POST":
        require_valid(form)
        report = verify(session)
    runs = rm.runs_of(session)
    return render_template("audit.html", events=events, page=page, total=total, per_page=EVENTS_PER_PAGE,
                           form=form, report=report, runs=runs), 200


@bp.route("/runs/<int:run_id>/audit-bundle")
@allow(*AUDITORS)
def audit_bundle(run_id: int) -> Any:
    return send_bundle(db.session(), run_id)
