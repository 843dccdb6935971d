"""Pages of data coming in: a reporter's monthly progress report for its units' targets, and the
office's import of a workbook or CSV file (refused as a whole, each row's problem shown)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from web.domain_text import localized, translated
from web.extensions import db
from web.files.imports import import_upload
from web.pages.blueprint import bp, lang
from web.security.policy import OFFICE, REPORTERS, allow, current, require_report_scope
from workflows.errors import DomainError
from workflows.freeze import cutoff_passed
from workflows.imports import ImportRejected
from workflows.imports.sheets import KIND_ORDER
from workflows.progress import get_target, parse_value, submit_report, targets_of_units

UPLOAD_SUFFIXES = ("xlsx", "csv")


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
            if sub.previous is None:
                flash(_("Report saved: %(unit)s %(indicator)s %(period)s = %(value)s",
                        unit=target.unit.code, indicator=target.indicator.code, period=sub.report.period,
                        value=_plain(sub.report.reported_value)), "success")
            else:
                flash(_("Report replaced: %(unit)s %(indicator)s %(period)s, previous value %(old)s → new "
                        "value %(new)s", unit=target.unit.code, indicator=target.indicator.code,
                        period=sub.report.period, old=_plain(sub.previous),
                        new=_plain(sub.report.reported_value)), "success")
            return redirect(url_for("pages.progress"))
    elif request.method == "POST":
        status = 422
    schemes = {t.scheme.id: t.scheme for t in targets}.values()
    closed = [s for s in schemes if s.status == "sealed" or cutoff_passed(s, dt.datetime.now(dt.UTC))]
    return render_template("progress.html", form=form, targets=targets, closed=closed), status


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
            issues = [replace(i, message=translated(i.message)) for i in exc.errors]
            status = 422
        else:
            flash(_("Imported %(name)s.", name=name), "success")
    elif request.method == "POST":
        status = 422
    return render_template("imports.html", form=form, issues=issues, summary=summary), status
