"""Pages of the deduction workflow: the office's review and approval queue (batch actions in one
CSRF-protected form, each case's problem shown on its row), a case's detail and history,
publication, appeal filing by a unit's reporter inside the window (evidence upload, countdown),
and appeal review by the reviewer.

Every action goes through the same workflow functions as the API and the CLI; the checkbox of a
case carries the version it was shown at, so a case changed since is refused (412) rather than
acted on blind.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (wtforms 3.3; not in the stubs yet)
from wtforms.validators import DataRequired, Length, Optional

from store import Appeal, AppealFiring, Case, Firing, Publication, Run
from web.domain_text import localized, localized_message
from web.errors import domain_status
from web.extensions import db
from web.files.evidence import EVIDENCE_TYPES, evidence_label, save_evidence, send_evidence, stored_evidence
from web.pages.blueprint import bp
from web.pages.common import ActionForm, listed, require_valid
from web.security.policy import STAFF, allow, current, require_report_scope, require_unit
from web.transitions import stale_versions
from workflows import readmodels as rm
from workflows.cases.appeals import decide_appeal, file_appeal, get_appeal, take_appeal
from workflows.cases.machine import CASE
from workflows.cases.publication import publish
from workflows.cases.review import approve_cases, case_history, open_cases, reject_cases, review_cases
from workflows.cases.supersede import current_run
from workflows.errors import BatchRefused, DomainError, Forbidden, NotFound
from workflows.progress import parse_value

# What each role works on in the queue by default.
QUEUE_STATE = {"auditor": "proposed", "office": "reviewed"}


class QueueForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    points = StringField(_l("Adjusted points (review only)"), validators=[Optional(), Length(max=20)])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _publication(run: Run) -> Publication | None:
    return db.session().scalars(select(Publication).where(Publication.run_id == run.id)).one_or_none()


def _selected() -> dict[int, int]:
    """The checked cases as {id: version shown}; 400 for anything but "id:version" numbers."""
    out: dict[int, int] = {}
    for raw in request.form.getlist("case"):
        sid, _sep, version = raw.partition(":")
        if not (sid.isdigit() and version.isdigit() and len(sid) < 10 and len(version) < 10):
            abort(400, description=f"a selected case must be id:version, not {raw[:40]!r}")
        out[int(sid)] = int(version)
    return out


def _act(run: Run, action: str, form: QueueForm, chosen: dict[int, int]) -> tuple[dict[int, str], int]:
    """Apply ``action`` to the chosen cases; per-case problems and the status (200 when done)."""
    session = db.session()
    rows = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(chosen), Case.run_id == run.id))}
    missing = sorted(set(chosen) - set(rows))
    if missing:
        return {sid: _("Case %(id)s is not a case of this run.", id=sid) for sid in missing}, 404
    stale = stale_versions({c.id: c.version for c in rows.values()}, chosen, "case")
    if stale:
        return {p["id"]: p["message"] for p in stale}, 412
    actor, ids, reason = current().username, sorted(chosen), (form.reason.data or "").strip() or None
    try:
        if action == "review":
            points = parse_value(form.points.data or "") if (form.points.data or "").strip() else None
            review_cases(session, ids, actor=actor, reason=reason, adjusted_points=points)
        elif action == "approve":
            approve_cases(session, ids, actor=actor, reason=reason)
        else:
            reject_cases(session, ids, actor=actor, reason=reason or "")
    except BatchRefused as exc:
        return {sid: localized_message(msg) for sid, msg in exc.errors}, 409
    except Forbidden as exc:
        return dict.fromkeys(ids, localized(exc)), 403
    except DomainError as exc:
        return dict.fromkeys(ids, localized(exc)), 409 if "version" in str(exc) else 422
    return {}, 200


@bp.route("/runs/<int:run_id>/cases", methods=["GET", "POST"])
@allow(*STAFF)
def case_queue(run_id: int) -> Any:
    """The review and approval queue of a run's cases, with batch actions."""
    session = db.session()
    run = rm.get_run(session, run_id)
    p = current()
    default = next((QUEUE_STATE[r] for r in ("office", "auditor") if r in p.roles), "")
    state = request.args.get("state", default)
    if state and state not in CASE.states:
        abort(404)
    form = QueueForm()
    problems: dict[int, str] = {}
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "")
        if action not in ("review", "approve", "reject"):
            abort(400, description="the action must be review, approve or reject")
        chosen = _selected()
        if not form.validate_on_submit():
            status = 400 if form.csrf_token.errors else 422
        elif not chosen:
            flash(_("Select at least one case."), "error")
            status = 422
        else:
            problems, status = _act(run, action, form, chosen)
            if status == 200:
                flash(_("%(n)s case(s): %(action)s done.", n=len(chosen), action=_action_label(action)),
                      "success")
                return redirect(url_for("pages.case_queue", run_id=run.id, state=state))
            flash(_("Nothing was changed: %(n)s case(s) were refused.", n=len(problems)), "error")
    query = select(Case).where(Case.run_id == run.id).options(joinedload(Case.firing), joinedload(Case.unit))
    if state:
        query = query.where(Case.state == state)
    cases = list(session.scalars(query.order_by(Case.id)))
    counts = _counts(run)
    return render_template("cases.html", run=run, cases=cases, state=state, states=CASE.states, form=form,
                           problems=problems, counts=counts, action_form=ActionForm(),
                           publication=_publication(run)), status


def _counts(run: Run) -> dict[str, int]:
    rows = db.session().execute(select(Case.state, func.count()).where(Case.run_id == run.id)
                                .group_by(Case.state)).all()
    return {state: int(n) for state, n in rows}


def _action_label(action: str) -> str:
    return str({"review": _("review"), "approve": _("approve"), "reject": _("reject")}[action])


@bp.route("/runs/<int:run_id>/cases/open", methods=["POST"])
@allow("office")
def open_run_cases(run_id: int) -> Any:
    require_valid()
    try:
        opened = open_cases(db.session(), run_id, actor=current().username)
    except DomainError as exc:
        flash(localized(exc), "error")
        return redirect(url_for("pages.case_queue", run_id=run_id))
    flash(_("%(n)s case(s) opened.", n=len(opened.opened)), "success")
    return redirect(url_for("pages.case_queue", run_id=run_id, state="proposed"))


@bp.route("/runs/<int:run_id>/publish", methods=["POST"])
@allow("office")
def publish_run(run_id: int) -> Any:
    require_valid()
    try:
        done = publish(db.session(), run_id, actor=current().username)
    except DomainError as exc:
        flash(localized(exc), "error")
        return redirect(url_for("pages.case_queue", run_id=run_id))
    flash(_("Run %(run)s published; appeals are accepted until %(close)s.", run=done.run.id,
            close=done.publication.appeals_close_at.strftime("%Y-%m-%d %H:%M UTC")), "success")
    return redirect(url_for("pages.public_results"))


@bp.route("/cases/<int:case_id>")
@allow(*STAFF)
def case_detail(case_id: int) -> Any:
    session = db.session()
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return render_template("case.html", case=case, history=case_history(session, case.id))


# --- appeals -----------------------------------------------------------------------------------


class AppealForm(FlaskForm):
    grounds = TextAreaField(_l("Grounds"), validators=[DataRequired(), Length(max=5000)])
    evidence_ref = StringField(_l("Evidence reference (document number)"), validators=[Optional(),
                                                                                      Length(max=300)])
    evidence = FileField(_l("Evidence file (PDF, PNG or JPEG)"),
                         validators=[FileAllowed([s.lstrip(".") for s in EVIDENCE_TYPES],
                                                 _l("Only PDF, PNG and JPEG files."))])


def _appealable(run: Run, unit_id: int) -> list[Firing]:
    return list(db.session().scalars(
        select(Firing).where(Firing.run_id == run.id, Firing.unit_id == unit_id,
                             Firing.effect.in_(("deduction", "veto")), Firing.status == "applied")
        .order_by(Firing.seq)))


@bp.route("/runs/<int:run_id>/units/<code>/appeal", methods=["GET", "POST"])
@allow("reporter", "office")
def appeal_new(run_id: int, code: str) -> Any:
    """A unit's reporter appeals deductions of a published run, inside the appeal window."""
    session = db.session()
    run = rm.get_run(session, run_id)
    unit = rm.get_unit(session, run.scheme, code)
    require_report_scope(unit.id)
    if run.status == "superseded":
        return redirect(url_for("pages.appeal_new", run_id=current_run(session, run).id, code=code))
    pub = _publication(run)
    now = _now()
    form = AppealForm()
    firings = _appealable(run, unit.id)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        seqs = [int(s) for s in request.form.getlist("firing") if s.isdigit() and len(s) < 10]
        if not form.validate_on_submit():
            status = 400 if form.csrf_token.errors else 422
        elif not seqs:
            errors.append(_("Select at least one deduction to appeal."))
            status = 422
        else:
            try:
                upload = form.evidence.data
                ref = save_evidence(upload) if upload and upload.filename else form.evidence_ref.data
                appeal = file_appeal(session, run.id, unit.code, seqs, grounds=form.grounds.data or "",
                                     actor=current().username, evidence_ref=ref)
            except DomainError as exc:
                errors.append(localized(exc))
                status = 403 if isinstance(exc, Forbidden) else 409
            else:
                flash(_("Appeal %(id)s filed.", id=appeal.id), "success")
                return redirect(url_for("pages.appeal_detail", appeal_id=appeal.id))
    left = pub.appeals_close_at - now if pub is not None else None
    window_open = pub is not None and pub.published_at <= now < pub.appeals_close_at
    return render_template("appeal_new.html", run=run, unit=unit, pub=pub, left=left, form=form,
                           firings=firings, errors=errors, window_open=window_open,
                           close_iso=pub.appeals_close_at.isoformat() if pub else ""), status


@bp.route("/appeals")
@allow()
def appeals() -> Any:
    """Appeals: reviewers see all, reporters their own units'."""
    query = select(Appeal).options(joinedload(Appeal.unit),
                                   selectinload(Appeal.firings).joinedload(AppealFiring.firing))
    rows, state = listed(query, Appeal.unit_id, Appeal.state, Appeal.id, 500)
    return render_template("appeals.html", appeals=rows, state=state, evidence_label=evidence_label)


class DecisionForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=[SelectChoice("upheld", _l("Upheld")),
                                                  SelectChoice("overturned", _l("Overturned")),
                                                  SelectChoice("adjusted", _l("Adjusted"))],
                          validators=[DataRequired()])
    reason = TextAreaField(_l("Reasons"), validators=[DataRequired(), Length(max=5000)])
    # adjusted only: a "points-<seq>" input per cited firing (the new points of that firing)


@bp.route("/appeals/<int:appeal_id>", methods=["GET", "POST"])
@allow()
def appeal_detail(appeal_id: int) -> Any:
    """One appeal; a reviewer takes and decides it here."""
    session = db.session()
    appeal = get_appeal(session, appeal_id)
    require_unit(appeal.unit_id)
    form = DecisionForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if "reviewer" not in current().roles:
            abort(403)
        version = request.form.get("version", "")
        if form.validate_on_submit() or (request.form.get("take") and ActionForm().validate_on_submit()):
            try:
                if str(appeal.version) != version:
                    errors.append(_("This appeal changed since you opened it: reload and try again."))
                    status = 412
                elif request.form.get("take"):
                    take_appeal(session, appeal.id, actor=current().username)
                    return redirect(url_for("pages.appeal_detail", appeal_id=appeal.id))
                else:
                    points = _decision_points(appeal, form)
                    decided = decide_appeal(session, appeal.id, form.outcome.data or "",
                                            actor=current().username, reason=form.reason.data or "",
                                            points=points)
                    if decided.superseding is not None:
                        flash(_("Decided %(state)s: run %(run)s supersedes the previous run.",
                                state=decided.appeal.state, run=decided.superseding.id), "success")
                    else:
                        flash(_("Decided %(state)s.", state=decided.appeal.state), "success")
                    return redirect(url_for("pages.appeal_detail", appeal_id=appeal.id))
            except DomainError as exc:
                db.session().rollback()
                errors.append(localized(exc))
                status = domain_status(exc)
        else:
            status = 400 if form.csrf_token.errors else 422
    return render_template("appeal.html", appeal=appeal, form=form, errors=errors, version=appeal.version,
                           action_form=ActionForm(), evidence=evidence_label(appeal.evidence_ref),
                           has_file=stored_evidence(appeal.evidence_ref) is not None), status


def _decision_points(appeal: Appeal, form: DecisionForm) -> dict[int, Decimal] | None:
    """The new points of each cited firing for an adjusted decision (``points-<seq>``); a firing
    left empty is left out, and the workflow names each one an adjusted decision still needs."""
    if form.outcome.data != "adjusted":
        return None
    out: dict[int, Decimal] = {}
    for af in appeal.firings:
        text = (request.form.get(f"points-{af.firing.seq}") or "").strip()
        if text:
            out[af.firing.seq] = parse_value(text)
    return out


@bp.route("/appeals/<int:appeal_id>/evidence")
@allow()
def appeal_evidence(appeal_id: int) -> Any:
    appeal = get_appeal(db.session(), appeal_id)
    require_unit(appeal.unit_id)
    stored = stored_evidence(appeal.evidence_ref)
    if stored is None:
        abort(404)
    return send_evidence(stored)

