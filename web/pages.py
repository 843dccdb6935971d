"""The ``pages`` blueprint: server-rendered HTML for every role, Chinese by default.

Each view names who may open it (web.policy) and checks unit scope on the server; anonymous
readers reach only the public disclosure page and login.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from store import Publication, Run, Scheme, Unit
from web.app_support import chart_available
from web.domain_text import localized
from web.extensions import db
from web.policy import OFFICE, REPORTERS, STAFF, allow, current, public, require_report_scope, require_unit
from web.uploads import import_upload
from web.visibility import publications
from workflows import readmodels as rm
from workflows.errors import DomainError
from workflows.imports import ImportRejected
from workflows.imports.sheets import KIND_ORDER
from workflows.progress import get_target, parse_value, submit_report, targets_of_units
from workflows.runs import create_run

bp = Blueprint("pages", __name__)
UPLOAD_SUFFIXES = ("xlsx", "csv")


def lang() -> str:
    return str(get_locale() or "zh")


def _schemes() -> list[Scheme]:
    return list(db.session().scalars(select(Scheme).order_by(Scheme.year.desc(), Scheme.code)))


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"lang": lang(), "principal": current(), "STAFF": STAFF, "OFFICE": OFFICE,
            "REPORTERS": REPORTERS}


@bp.route("/")
@public
def home() -> Any:
    p = current()
    if p.is_staff:
        return redirect(url_for("pages.dashboard"))
    if p.authenticated:
        return redirect(url_for("pages.my_units"))
    return redirect(url_for("pages.public_results"))


@bp.route("/public")
@public
def public_results() -> Any:
    """公示: published results for everyone; staff also see a preview of unpublished runs."""
    session = db.session()
    pubs = publications(session)
    shown: list[tuple[Run, Publication | None]] = [(p.run, p) for p in pubs]
    preview = False
    if not shown and current().is_staff:
        latest = [r for s in _schemes() for r in rm.current_runs(session, s)][:1]
        shown, preview = [(r, None) for r in latest], bool(latest)
    now = dt.datetime.now(dt.UTC)
    blocks = []
    for run, pub in shown:
        left = pub.window_ends_at - now if pub is not None else None
        for cat in rm.categories(session, run.scheme):
            blocks.append((run, pub, left, cat, rm.ranking(session, run, cat.code)))
    return render_template("public.html", preview=preview, blocks=blocks)


@bp.route("/dashboard")
@allow(*STAFF)
def dashboard() -> Any:
    session = db.session()
    schemes = _schemes()
    if not schemes:
        return render_template("dashboard.html", scheme=None, run=None)
    code = request.args.get("scheme") or schemes[0].code
    scheme = rm.get_scheme(session, code)
    run_id = request.args.get("run", type=int)
    run = rm.get_run(session, run_id) if run_id else rm.latest_run(session, scheme)
    if run is not None and run.scheme_id != scheme.id:
        abort(404)
    cats = rm.categories(session, scheme)
    cat_code = request.args.get("category") or (cats[0].code if cats else "")
    category = next((c for c in cats if c.code == cat_code), None)
    if cats and category is None:
        abort(404)
    rows = rm.ranking(session, run, cat_code) if run is not None else []
    heat = rm.heat_map(session, run, rows) if run is not None else None
    chart = {
        "labels": [r.unit.name for r in rows],
        "totals": [float(r.sheet.total) for r in rows],
        "label": _("Total score"),
    }
    return render_template("dashboard.html", schemes=schemes, scheme=scheme, run=run,
                           runs=rm.current_runs(session, scheme), categories=cats, category=category,
                           rows=rows, counts=rm.grade_counts(rows), heat=heat,
                           chart_json=json.dumps(chart, ensure_ascii=False),
                           chart_available=chart_available(),
                           names=rm.indicators_by_code(session, scheme))


PERIOD = r"^\d{4}(-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$"


class RunForm(FlaskForm):
    scheme = SelectField(_l("Scheme"), validators=[DataRequired()])
    period = StringField(_l("Period (2024, 2024-H1, 2024-Q3, 2024-07)"),
                         validators=[DataRequired(),
                                     Regexp(PERIOD, message=_l("Use 2024, 2024-H1, 2024-Q3 or 2024-07."))])


@bp.route("/runs", methods=["GET", "POST"])
@allow(*STAFF)
def runs() -> Any:
    """The runs; the office runs a period of a scheme here (under its approved rule pack)."""
    form = RunForm()
    form.scheme.choices = [(s.code, f"{s.code} {s.name}") for s in _schemes()]
    status = 200
    if request.method == "POST":
        if not current().has(OFFICE):
            abort(403)
        if form.validate_on_submit():
            try:
                outcome = create_run(db.session(), form.scheme.data or "", form.period.data or "",
                                     actor=current().username)
            except DomainError as exc:
                form.period.errors = [*form.period.errors, localized(exc)]
                status = 409
            else:
                flash(_("Run %(run)s made: %(firings)s firings.", run=outcome.run.id,
                        firings=outcome.result.firing_count), "success")
                return redirect(url_for("pages.case_queue", run_id=outcome.run.id))
        else:
            status = 400 if form.csrf_token.errors else 422
    return render_template("runs.html", runs=rm.runs_of(db.session()), form=form), status


@bp.route("/me")
@allow()
def my_units() -> Any:
    """A reporter's units with their latest scorecards; staff are sent to the dashboard."""
    p = current()
    if p.is_staff:
        return redirect(url_for("pages.dashboard"))
    session = db.session()
    units = list(session.scalars(select(Unit).where(Unit.id.in_(p.unit_ids)).order_by(Unit.code)))
    latest = {u.id: rm.latest_run(session, u.scheme) for u in units}
    return render_template("my_units.html", units=units, latest=latest)


@bp.route("/runs/<int:run_id>/units/<code>")
@allow()
def scorecard(run_id: int, code: str) -> Any:
    session = db.session()
    run = rm.get_run(session, run_id)
    unit = rm.get_unit(session, run.scheme, code)
    require_unit(unit.id)
    card = rm.scorecard(session, run, unit)
    return render_template("scorecard.html", card=card, run=run, unit=unit,
                           names=rm.indicators_by_code(session, run.scheme))


@bp.route("/runs/<int:run_id>/firings/<int:seq>")
@allow()
def explanation(run_id: int, seq: int) -> Any:
    session = db.session()
    run = rm.get_run(session, run_id)
    firing = rm.get_firing(session, run, seq)
    require_unit(firing.unit_id)
    exp = rm.explain_firing(session, run, seq)
    facts = [(m.get("id"), m.get("type"), sorted((m.get("values") or {}).items()))
             for m in firing.matched_facts]
    from web.pages_cases import firing_trail

    trail, history = firing_trail(run, firing)
    return render_template("explanation.html", run=run, exp=exp, f=firing, facts=facts, trail=trail,
                           history=history)


class ProgressForm(FlaskForm):
    target = SelectField(_l("Target"), coerce=int, validators=[DataRequired()])
    period = StringField(_l("Month (YYYY-MM)"),
                         validators=[DataRequired(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$",
                                                            message=_l("Use the form YYYY-MM."))])
    value = StringField(_l("Cumulative value"), validators=[DataRequired(), Length(max=30)])
    evidence = StringField(_l("Evidence (document number or link)"),
                           validators=[Optional(), Length(max=500)])


def _scope_ids() -> set[int] | None:
    p = current()
    return None if p.has(OFFICE) else set(p.unit_ids)


@bp.route("/progress", methods=["GET", "POST"])
@allow(*REPORTERS)
def progress() -> Any:
    session = db.session()
    targets = targets_of_units(session, _scope_ids())
    form = ProgressForm()
    form.target.choices = [
        (t.id, f"{t.unit.code} {t.unit.name} · {t.indicator.code} "
               f"{t.indicator.name_zh if lang() == 'zh' else t.indicator.name_en}")
        for t in targets
    ]
    status = 200
    if form.validate_on_submit():
        target = get_target(session, form.target.data or 0)
        require_report_scope(target.unit_id)
        try:
            value = parse_value(form.value.data or "")
            sub = submit_report(session, target, form.period.data or "", value, source=target.unit.code,
                                actor=current().username, evidence_ref=form.evidence.data)
        except DomainError as exc:
            form.value.errors = [*form.value.errors, localized(exc)]
            status = 422
        else:
            flash(_("Report saved: %(unit)s %(indicator)s %(period)s = %(value)s",
                    unit=target.unit.code, indicator=target.indicator.code, period=sub.report.period,
                    value=_plain(sub.report.reported_value)), "success")
            return redirect(url_for("pages.progress"))
    elif request.method == "POST":
        status = 422
    return render_template("progress.html", form=form, targets=targets), status


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


class ImportForm(FlaskForm):
    file = FileField(_l("Workbook or CSV file"),
                     validators=[FileRequired(), FileAllowed(list(UPLOAD_SUFFIXES),
                                                             _l("Only .xlsx and .csv files."))])
    kind = SelectField(_l("Kind (for a CSV file)"), validators=[Optional()])


@bp.route("/imports", methods=["GET", "POST"])
@allow(*OFFICE)
def imports() -> Any:
    form = ImportForm()
    form.kind.choices = [("", _("(from the workbook's sheet names)")), *((k, k) for k in KIND_ORDER)]
    issues: list[Any] = []
    summary = None
    status = 200
    if form.validate_on_submit():
        try:
            name, summary = import_upload(form.file.data, form.kind.data or None)
        except ImportRejected as exc:
            issues = exc.errors
            status = 422
        else:
            flash(_("Imported %(name)s.", name=name), "success")
    elif request.method == "POST":
        status = 422
    return render_template("imports.html", form=form, issues=issues, summary=summary), status

