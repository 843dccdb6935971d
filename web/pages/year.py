"""Pages of the year's other cases: target adjustment requests (a reporter for its own units; the
office approves or rejects, never the requester), verification by the office, supervision
notices (the unit's reporter responds; the office closes or escalates), and the committee's seal
of a published run.

Every action goes through the same workflow functions as the API. A form carries the version it
was shown at: a request or notice changed since is refused (412) rather than acted on blind. A
refused action changes nothing and shows the page again with the reason and its status.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (wtforms 3.3; not in the stubs yet)
from wtforms.validators import DataRequired, Length, Optional

from store import Run, Scheme, SupervisionNotice, Target, TargetAdjustment, Unit, Verification
from web.domain_text import localized
from web.errors import domain_status
from web.extensions import db
from web.pages.blueprint import bp
from web.pages.common import listed, require_valid
from web.security.policy import OFFICE, STAFF, allow, current, require_report_scope, require_unit
from workflows.cases import seal
from workflows.errors import DomainError, Invalid
from workflows.freeze import published_runs
from workflows.progress import parse_value
from workflows.year.adjustments import (
    adjustment_history,
    approve_adjustment,
    get_adjustment,
    reject_adjustment,
    request_adjustment,
)
from workflows.year.lifecycle import get_scheme, lifecycle, lock_scheme
from workflows.year.notices import (
    DEFAULT_DUE_DAYS,
    close_notice,
    escalate_notice,
    get_notice,
    notice_history,
    raise_notices,
    respond_notice,
)
from workflows.year.verification import verify_event, verify_report

REQUESTERS = frozenset({"office", "reporter"})


class AdjustmentForm(FlaskForm):
    unit = SelectField(_l("Unit"), validators=[DataRequired()])
    indicator = StringField(_l("Indicator"), validators=[DataRequired(), Length(max=40)])
    annual_value = StringField(_l("New annual value"), validators=[Optional(), Length(max=30)])
    milestones = TextAreaField(_l("New milestones (one \"YYYY-MM value\" a line)"),
                               validators=[Optional(), Length(max=600)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    evidence_ref = StringField(_l("Evidence reference"), validators=[Optional(), Length(max=300)])


class DecideForm(FlaskForm):
    action = SelectField(_l("Decision"), choices=[SelectChoice("approve", _l("Approve")),
                                                       SelectChoice("reject", _l("Reject"))])
    version = StringField(validators=[DataRequired(), Length(max=9)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class ReportVerifyForm(FlaskForm):
    unit = StringField(_l("Unit"), validators=[DataRequired(), Length(max=40)])
    indicator = StringField(_l("Indicator"), validators=[DataRequired(), Length(max=40)])
    period = StringField(_l("Period"), validators=[DataRequired(), Length(max=20)])
    source = StringField(_l("Source"), validators=[Optional(), Length(max=60)])
    value = StringField(_l("Verified value"), validators=[DataRequired(), Length(max=30)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class EventVerifyForm(FlaskForm):
    code = StringField(_l("Project claim"), validators=[DataRequired(), Length(max=60)])
    quantity = StringField(_l("Verified quantity"), validators=[DataRequired(), Length(max=30)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class NoticeActionForm(FlaskForm):
    version = StringField(validators=[DataRequired(), Length(max=9)])
    text = TextAreaField(_l("Text"), validators=[Optional(), Length(max=5000)])
    evidence_ref = StringField(_l("Evidence reference"), validators=[Optional(), Length(max=300)])


class RaiseForm(FlaskForm):
    run = SelectField(_l("Run"), validators=[DataRequired()])
    due_days = StringField(_l("Days to respond"), validators=[Optional(), Length(max=3)])


def _csrf_or_400(form: FlaskForm) -> None:
    if form.csrf_token.errors:
        abort(400, description="the form's CSRF token is missing or stale")


def _submitted(form: FlaskForm, required: str) -> None:
    """422 (``required``) unless ``form`` was posted complete; 400 when its CSRF token is stale."""
    if not form.validate_on_submit():
        _csrf_or_400(form)
        abort(422, description=required)


def _stated_version(raw: str | None) -> int:
    text = (raw or "").strip()
    if not text.isdigit():
        abort(400, description="the form's version must be a number")
    return int(text)


def _refused(exc: DomainError) -> int:
    db.session().rollback()
    flash(localized(exc), "error")
    return domain_status(exc)


def _milestones(text: str) -> dict[str, Decimal] | None:
    out: dict[str, Decimal] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        month, _sep, value = line.strip().partition(" ")
        if not value.strip():
            raise Invalid(f"a milestone line must be \"YYYY-MM value\", not {line.strip()[:40]!r}")
        out[month.strip()] = parse_value(value.strip())
    return out or None


# --- target adjustments ------------------------------------------------------------------------


def _request_units() -> list[Unit]:
    p = current()
    query = select(Unit).order_by(Unit.code)
    if not p.has(frozenset({"office"})):
        query = query.where(Unit.id.in_(p.unit_ids or {-1}))
    return list(db.session().scalars(query))


@bp.route("/adjustments", methods=["GET", "POST"])
@allow()
def adjustments() -> Any:
    """Target adjustment requests (reporters: their own units'); the request form; the office's
    approve and reject."""
    session = db.session()
    p = current()
    form = AdjustmentForm()
    units = _request_units() if p.has(REQUESTERS) else []
    form.unit.choices = [SelectChoice(str(u.id), f"{u.code} {u.name}") for u in units]
    status = 200
    if request.method == "POST":
        if not p.has(REQUESTERS):
            abort(403)
        if form.validate_on_submit():
            unit = session.get(Unit, int(form.unit.data or 0))
            if unit is None:
                abort(404)
            require_report_scope(unit.id)
            try:
                raw = (form.annual_value.data or "").strip()
                value = parse_value(raw) if raw else None
                made = request_adjustment(
                    session, unit.code, (form.indicator.data or "").strip(), actor=p.username,
                    reason=form.reason.data or "", annual_value=value,
                    milestones=_milestones(form.milestones.data or ""),
                    evidence_ref=form.evidence_ref.data or None, scheme_code=unit.scheme.code)
            except DomainError as exc:
                status = _refused(exc)
            else:
                flash(_("Adjustment request %(id)s made.", id=made.id), "success")
                return redirect(url_for("pages.adjustments"))
        else:
            _csrf_or_400(form)
            status = 422
    query = select(TargetAdjustment).join(Target, TargetAdjustment.target_id == Target.id)
    rows, state = listed(query, Target.unit_id, TargetAdjustment.state, TargetAdjustment.id, 200)
    return render_template("adjustments.html", rows=rows, form=form, decide=DecideForm(formdata=None),
                           state=state, may_request=p.has(REQUESTERS) and bool(units)), status


@bp.route("/adjustments/<int:adjustment_id>")
@allow()
def adjustment_detail(adjustment_id: int) -> Any:
    """One request: what it asks, who requested and decided it, and its history (who did what
    when and why, each step's audit event); the office decides it here too."""
    session = db.session()
    adjustment = get_adjustment(session, adjustment_id)
    require_unit(adjustment.target.unit_id)
    history = adjustment_history(session, adjustment.id)
    return render_template("adjustment.html", a=adjustment, history=history, decide=DecideForm(formdata=None))


@bp.route("/adjustments/<int:adjustment_id>/decide", methods=["POST"])
@allow("office")
def decide_adjustment(adjustment_id: int) -> Any:
    session = db.session()
    form = DecideForm()
    _submitted(form, "the decision and the version are required")
    adjustment = get_adjustment(session, adjustment_id)
    require_unit(adjustment.target.unit_id)
    stated = _stated_version(form.version.data)
    if stated != adjustment.version:
        abort(412, description=_("Request %(id)s changed since you read it (version %(now)s, not %(then)s): "
                                 "reload it.", id=adjustment.id, now=adjustment.version, then=stated))
    # a refusal (403 four eyes, 409 decided or the target moved, 422 no reason) is the error page
    if form.action.data == "approve":
        approve_adjustment(session, adjustment.id, actor=current().username, reason=form.reason.data)
    else:
        reject_adjustment(session, adjustment.id, actor=current().username, reason=form.reason.data or "")
    flash(_("Request %(id)s: %(state)s.", id=adjustment.id, state=adjustment.state), "success")
    return redirect(url_for("pages.adjustment_detail", adjustment_id=adjustment.id))


# --- verification ------------------------------------------------------------------------------


@bp.route("/verification", methods=["GET", "POST"])
@allow(*OFFICE)
def verification() -> Any:
    """The office sets verified values of progress reports and verified quantities of project
    claims (only the office role may: an admin reads)."""
    session = db.session()
    report_form, event_form = ReportVerifyForm(), EventVerifyForm()
    status = 200
    if request.method == "POST":
        if "office" not in current().roles:
            abort(403)
        form: FlaskForm = report_form if request.form.get("kind") == "report" else event_form
        if form.validate_on_submit():
            try:
                if form is report_form:
                    done = verify_report(session, (report_form.unit.data or "").strip(),
                                         (report_form.indicator.data or "").strip(),
                                         (report_form.period.data or "").strip(),
                                         value=parse_value(report_form.value.data or ""),
                                         reason=report_form.reason.data or "", actor=current().username,
                                         source=(report_form.source.data or "").strip() or None)
                else:
                    done = verify_event(session, (event_form.code.data or "").strip(),
                                        quantity=parse_value(event_form.quantity.data or ""),
                                        reason=event_form.reason.data or "", actor=current().username)
            except DomainError as exc:
                status = _refused(exc)
            else:
                old = done.previous_value if done.previous_value is not None else done.claimed_value
                flash(_("Verification recorded: %(old)s → %(new)s.", old=_plain(old), new=_plain(done.value)),
                      "success")
                return redirect(url_for("pages.verification"))
        else:
            _csrf_or_400(form)
            status = 422
    recent = list(session.scalars(select(Verification).order_by(Verification.id.desc()).limit(50)))
    return render_template("verification.html", report_form=report_form, event_form=event_form,
                           recent=recent), status


# --- supervision notices -----------------------------------------------------------------------


def _raise_form() -> RaiseForm:
    """The office's form to raise notices from a run's schedule warnings (current and sealed runs)."""
    form = RaiseForm()
    rows = db.session().execute(
        select(Run.id, Run.period, Scheme.code).join(Scheme, Run.scheme_id == Scheme.id)
        .where(Run.status.in_(("complete", "sealed"))).order_by(Run.id.desc()).limit(100))
    form.run.choices = [SelectChoice(str(rid), f"#{rid} {code} {period}") for rid, code, period in rows]
    return form


@bp.route("/notices", methods=["GET", "POST"])
@allow()
def notices() -> Any:
    """Supervision notices (reporters: their own units'), with the unit's response and the
    office's close and escalate; the office raises them from a run's schedule warnings."""
    p = current()
    raise_form = _raise_form() if "office" in p.roles else None
    status = 200
    if request.method == "POST":
        if raise_form is None:
            abort(403)
        if raise_form.validate_on_submit():
            days = (raise_form.due_days.data or "").strip()
            if days and not days.isdigit():
                abort(422, description=_("The days to respond must be a whole number."))
            try:
                raised = raise_notices(db.session(), int(raise_form.run.data or 0), actor=p.username,
                                       due_days=int(days) if days else DEFAULT_DUE_DAYS)
            except DomainError as exc:
                status = _refused(exc)
            else:
                flash(_("Run %(run)s: %(opened)s notices issued, %(escalated)s escalated, %(already)s "
                        "already raised.", run=raised.run_id, opened=len(raised.opened),
                        escalated=len(raised.escalated), already=raised.already), "success")
                return redirect(url_for("pages.notices"))
        else:
            _csrf_or_400(raise_form)
            status = 422
    rows, state = listed(select(SupervisionNotice), SupervisionNotice.unit_id, SupervisionNotice.state,
                         SupervisionNotice.id, 200)
    return render_template("notices.html", rows=rows, form=NoticeActionForm(formdata=None), state=state,
                           raise_form=raise_form), status


@bp.route("/notices/<int:notice_id>")
@allow()
def notice_detail(notice_id: int) -> Any:
    """One notice: the lag it is about, the unit's response, the notices it escalated from and to,
    and its history (who did what when and why); the unit responds and the office acts here too."""
    session = db.session()
    notice = get_notice(session, notice_id)
    require_unit(notice.unit_id)
    escalated_to = session.scalars(select(SupervisionNotice)
                                   .where(SupervisionNotice.escalated_from_id == notice.id)).first()
    return render_template("notice.html", n=notice, history=notice_history(session, notice.id),
                           escalated_to=escalated_to, form=NoticeActionForm(formdata=None))


@bp.route("/notices/<int:notice_id>/<action>", methods=["POST"])
@allow("reporter", "office")
def notice_action(notice_id: int, action: str) -> Any:
    """respond (the unit's reporter), close or escalate (the office)."""
    needed = {"respond": "reporter", "close": "office", "escalate": "office"}.get(action)
    if needed is None:
        abort(404)
    p = current()
    if needed not in p.roles:
        abort(403)
    session = db.session()
    form = NoticeActionForm()
    _submitted(form, "the version is required")
    notice = get_notice(session, notice_id)
    require_unit(notice.unit_id)
    stated = _stated_version(form.version.data)
    if stated != notice.version:
        abort(412, description=_("Notice %(id)s changed since you read it (version %(now)s, not %(then)s): "
                                 "reload it.", id=notice.id, now=notice.version, then=stated))
    text = form.text.data or ""
    # a refusal (403 not the unit or the responder, 409 the state, 422 no text) is the error page
    if action == "respond":
        respond_notice(session, notice.id, actor=p.username, text=text,
                       evidence_ref=form.evidence_ref.data or None)
    elif action == "close":
        close_notice(session, notice.id, actor=p.username, reason=text or None)
    else:
        escalate_notice(session, notice.id, actor=p.username, reason=text)
    flash(_("Notice %(id)s: %(state)s.", id=notice.id, state=notice.state), "success")
    return redirect(url_for("pages.notice_detail", notice_id=notice.id))


# --- the committee's seal ----------------------------------------------------------------------


@bp.route("/runs/<int:run_id>/seal", methods=["POST"])
@allow("committee")
def seal_run(run_id: int) -> Any:
    """The committee seals a published run after its publication window (no appeal pending)."""
    require_valid()
    run = seal(db.session(), run_id, actor=current().username)  # 409 inside the window, an appeal open
    flash(_("Run %(run)s sealed.", run=run.id), "success")
    return redirect(url_for("pages.runs"))


# --- a scheme's lifecycle ----------------------------------------------------------------------


class LockForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


@bp.route("/schemes/<code>", methods=["GET", "POST"])
@allow(*STAFF)
def scheme_lifecycle(code: str) -> Any:
    """方案状态: draft → in force → sealed, its cut-offs, its published runs and its ledger steps; the
    office puts a draft scheme in force here."""
    session = db.session()
    scheme = get_scheme(session, code)
    form = LockForm()
    status = 200
    if request.method == "POST":
        if "office" not in current().roles:
            abort(403)
        if form.validate_on_submit():
            try:
                lock_scheme(session, scheme.code, actor=current().username, reason=form.reason.data or "")
            except DomainError as exc:
                status = _refused(exc)
            else:
                flash(_("Scheme %(scheme)s is in force.", scheme=scheme.code), "success")
                return redirect(url_for("pages.scheme_lifecycle", code=scheme.code))
        else:
            _csrf_or_400(form)
            status = 422
    published = published_runs(session, scheme.id)
    return render_template("scheme.html", scheme=scheme, form=form, published=published,
                           steps=lifecycle(session, scheme)), status


def _plain(value: Decimal | None) -> str:
    return "—" if value is None else format(value.normalize(), "f")
