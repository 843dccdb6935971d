"""The API of runs and what they found: runs (a period evaluated under an approved rule pack),
their firings, score sheets and explanations, and the runs published for everyone (公示).

A sheet's or an explanation's body depends only on the unit's stored rows, so it is serialised
once per run and unit (and indicator and language) and kept with the run's read model.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, abort, current_app, jsonify
from sqlalchemy import select

from store import Firing, Run, ScoreSheet
from web.api.blueprint import bp
from web.api.common import (
    PageArgs,
    action,
    listing,
    of_run_unit,
    paginate,
    reading,
    run_for_reader,
    scope_filter,
    where_given,
)
from web.extensions import db
from web.security.policy import OFFICE, STAFF, current, public, require_unit
from web.security.visibility import published_runs
from workflows import readmodels as rm
from workflows.runs import create_run


class RunSchema(ma.Schema):
    id = ma.fields.Integer()
    scheme = ma.fields.Function(lambda r: r.scheme.code)
    period = ma.fields.String()
    kind = ma.fields.String()
    status = ma.fields.String()
    rule_pack = ma.fields.Function(lambda r: f"{r.rule_pack.name}@{r.rule_pack.version}")
    snapshot_sha256 = ma.fields.String()
    run_hash = ma.fields.String()
    supersedes_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()


class RunIn(ma.Schema):
    scheme = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    period = ma.fields.String(required=True, validate=ma.validate.Length(min=4, max=10))
    pack = ma.fields.String(validate=ma.validate.Length(min=3, max=150))


class FiringSchema(ma.Schema):
    seq = ma.fields.Integer()
    rule_id = ma.fields.String()
    rule_version = ma.fields.Integer()
    pack_sha256 = ma.fields.String()
    unit = ma.fields.Function(lambda f: f.unit.code)
    indicator = ma.fields.String(attribute="indicator_code", allow_none=True)
    period = ma.fields.String()
    effect = ma.fields.String()
    bucket = ma.fields.String(allow_none=True)
    matched_facts = ma.fields.List(ma.fields.Dict())
    raw_points = ma.fields.Decimal(as_string=True)
    points = ma.fields.Decimal(as_string=True)
    text_zh = ma.fields.String()
    text_en = ma.fields.String()
    detail = ma.fields.Dict()
    status = ma.fields.String()
    override = ma.fields.String(allow_none=True)


class FiringQuery(PageArgs):
    unit = ma.fields.String()
    effect = ma.fields.String(validate=ma.validate.OneOf(
        ("score", "bonus", "deduction", "veto", "warning", "flag", "gap")))


class SheetSchema(ma.Schema):
    unit = ma.fields.Function(lambda s: s.unit.code)
    category = ma.fields.String(attribute="category_code")
    sections = ma.fields.List(ma.fields.Dict())
    bonus = ma.fields.Decimal(as_string=True)
    deduction = ma.fields.Decimal(as_string=True)
    vetoes = ma.fields.List(ma.fields.Dict())
    total = ma.fields.Decimal(as_string=True)
    rank = ma.fields.Integer(allow_none=True)
    grade = ma.fields.String(allow_none=True)
    flags = ma.fields.List(ma.fields.String())
    grade_notes = ma.fields.List(ma.fields.String())


class ExplanationQuery(ma.Schema):
    indicator = ma.fields.String()
    lang = ma.fields.String(load_default="zh", validate=ma.validate.OneOf(("zh", "en")))


class ExplanationSchema(ma.Schema):
    run = ma.fields.Integer()
    unit = ma.fields.String()
    indicator = ma.fields.String(allow_none=True)
    sheet = ma.fields.Nested(SheetSchema, allow_none=True)
    firings = ma.fields.List(ma.fields.Nested(FiringSchema))
    text = ma.fields.String()


class FiringExplanationSchema(ma.Schema):
    firing = ma.fields.Nested(FiringSchema)
    rule_text = ma.fields.String()
    cuts = ma.fields.List(ma.fields.Dict())


class PublishedSchema(ma.Schema):
    runs = ma.fields.List(ma.fields.Nested(RunSchema))


@listing("/runs", RunSchema, "RunPage", *STAFF)
def list_runs(args: dict[str, Any]) -> Any:
    return paginate(db.session(), select(Run).order_by(Run.id.desc()), args)


@action("/runs", RunSchema, *OFFICE, body=RunIn, refusals=(409, 422), once=False)
def post_run(data: dict[str, Any]) -> Any:
    """Run a period (2024, 2024-H1, 2024-Q3, 2024-07) of a scheme under its approved rule pack."""
    outcome = create_run(db.session(), data["scheme"], data["period"], actor=current().username,
                         pack_ref=data.get("pack"))
    return outcome.run


def _json_bytes(dumped: Any) -> bytes:
    """A schema's dump as the bytes flask-smorest would send (kept compact in the unit cache)."""
    return jsonify(dumped).get_data()


def _json_response(body: bytes) -> Response:
    """A response flask-smorest passes through as it is (the route's schema still documents it)."""
    return current_app.response_class(body, mimetype="application/json")


@reading("/runs/<int:run_id>", RunSchema)
def get_run(run_id: int) -> Any:
    return run_for_reader(run_id)


@listing("/runs/<int:run_id>/firings", FiringSchema, "FiringPage", query=FiringQuery)
def list_firings(args: dict[str, Any], run_id: int) -> Any:
    """A run's rule firings (reporters: their own units only)."""
    run = run_for_reader(run_id)
    query = of_run_unit(select(Firing).where(Firing.run_id == run.id), run, Firing.unit_id, args.get("unit"))
    query = where_given(query, args, effect=Firing.effect)
    return paginate(db.session(), scope_filter(query, Firing.unit_id).order_by(Firing.seq), args)


@reading("/runs/<int:run_id>/firings/<int:seq>", FiringExplanationSchema)
def get_firing(run_id: int, seq: int) -> Any:
    """One firing with the rule's text and the cuts that touched it."""
    session = db.session()
    run = run_for_reader(run_id)
    firing = rm.get_firing(session, run, seq)
    require_unit(firing.unit_id)
    exp = rm.explain_firing(session, run, seq)
    cuts = [{"kind": c.kind, "source": c.source, "before": str(c.before), "after": str(c.after),
             "text_zh": c.text_zh, "text_en": c.text_en} for c in exp.cuts]
    return {"firing": exp.firing, "rule_text": exp.rule_text, "cuts": cuts}


@listing("/runs/<int:run_id>/score-sheets", SheetSchema, "SheetPage")
def list_sheets(args: dict[str, Any], run_id: int) -> Any:
    run = run_for_reader(run_id)
    query = scope_filter(select(ScoreSheet).where(ScoreSheet.run_id == run.id), ScoreSheet.unit_id)
    order = (ScoreSheet.category_code, ScoreSheet.rank, ScoreSheet.id)
    return paginate(db.session(), query.order_by(*order), args)


@reading("/runs/<int:run_id>/score-sheets/<code>", SheetSchema)
def get_sheet(run_id: int, code: str) -> Any:
    session = db.session()
    run = run_for_reader(run_id)
    unit = rm.get_unit(session, run.scheme, code)
    require_unit(unit.id)
    part = rm.unit_part(session, run, unit)
    if part.sheet is None:
        abort(404, description=f"run {run.id} has no score sheet for {code}")
    # The body depends only on the unit's stored rows: serialised once per run and unit (a
    # Response passes flask-smorest's schema through; the schema still documents it).
    return _json_response(part.memo("api.sheet", lambda: _json_bytes(SheetSchema().dump(part.sheet))))


@reading("/runs/<int:run_id>/units/<code>/explanation", ExplanationSchema, query=ExplanationQuery)
def get_explanation(args: dict[str, Any], run_id: int, code: str) -> Any:
    """Why a unit scored what it did: its sheet, the firings behind it, and the engine's text."""
    session = db.session()
    run = run_for_reader(run_id)
    unit = rm.get_unit(session, run.scheme, code)
    require_unit(unit.id)
    indicator, lang = args.get("indicator"), args["lang"]
    card = rm.scorecard(session, run, unit)

    def body() -> Any:  # only the unit's stored rows: serialised once per run, unit, indicator, language
        firings = [f for sec in card.sections for line in sec.indicators for f in line.firings]
        firings += [f for fs in card.others.values() for f in fs]
        if indicator:
            firings = [f for f in firings if f.indicator_code == indicator]
        firings.sort(key=lambda f: f.seq)
        return _json_bytes(ExplanationSchema().dump({
            "run": run.id, "unit": unit.code, "indicator": indicator, "sheet": card.sheet, "firings": firings,
            "text": card.part.explanation_text(indicator, lang)}))

    return _json_response(card.part.memo(("api.explanation", indicator, lang), body))


@bp.route("/published")
@public
@bp.response(200, PublishedSchema)
def published() -> Any:
    """Runs published for the public (公示): readable without logging in."""
    return {"runs": published_runs(db.session())}
