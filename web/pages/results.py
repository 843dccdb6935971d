"""Pages of results: where each reader lands, the published results (公示) with the ledger's latest
signed checkpoint and its verifier keys (/audit/key), the staff's dashboard,
the runs (the office runs a period here), a reporter's units, a unit's scorecard and one firing's
explanation with what became of it (its case and appeals)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Regexp

from audit.checkpoint import latest as latest_checkpoint
from store import Firing, Publication, Run, Scheme, Unit
from web.anchoring import published_keys
from web.assets import chart_available
from web.domain_text import localized
from web.extensions import db
from web.pages.blueprint import bp
from web.security.policy import OFFICE, STAFF, allow, current, public, require_unit
from web.security.visibility import publications
from workflows import readmodels as rm
from workflows.errors import DomainError
from workflows.runs import create_run
from workflows.trail import workflow_trail


def _schemes() -> list[Scheme]:
    return list(db.session().scalars(select(Scheme).order_by(Scheme.year.desc(), Scheme.code)))


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
    return render_template("public.html", preview=preview, blocks=blocks,
                           checkpoint=latest_checkpoint(session), verifier=published_keys()[0])


@bp.route("/audit/key")
@public
def verifier_keys() -> Any:
    """The verifier keys of the ledger's checkpoints, one a line (this instance's first, then the
    earlier ones still published): what `kaohe audit verify-bundle --key` and third parties use."""
    body = "".join(key.text + "\n" for key in published_keys())
    return Response(body, mimetype="text/plain")


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
    trail, history = firing_trail(run, firing)
    return render_template("explanation.html", run=run, exp=exp, f=firing, facts=facts, trail=trail,
                           history=history)


def firing_trail(run: Run, firing: Firing) -> Any:
    """The case and appeal history of one firing, for the explanation page."""
    trail = workflow_trail(db.session(), run, firing.unit.code)
    return trail, next((t for t in trail.firings if t.seq == firing.seq), None)
