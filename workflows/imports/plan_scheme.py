"""Validation of the sheets that define a scheme: scheme, categories, sections, units, indicators."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from store import Category, Indicator, Scheme, Section, Unit
from workflows.imports.cells import CellError, dec_str
from workflows.imports.composite import parse_quota
from workflows.imports.planning import Planning, Record, SchemeCtx
from workflows.imports.rows import Row

THRESHOLDS = ("excellent_min", "good_min", "fair_min")
GRADE_KEYS = (*THRESHOLDS, "excellent_quota")
SCHEME_FIELDS = ("code", "year", "name", "cutoff_date", "adjustment_cutoff_date", "previous_cutoff_date",
                 "publication_days", "appeal_days")


def scheme_record(s: Scheme) -> Record:
    return {k: getattr(s, k) for k in SCHEME_FIELDS}


def check_scheme(p: Planning, rows: list[Row]) -> None:
    for row in rows:
        code = row.text("code")
        if code is None or not p.claim(row, (code,), "code", f"scheme code {code}"):
            continue
        year = row.integer("year")
        if year is not None and not 2000 <= year <= 2100:
            p.error(row, "year", f"year must be between 2000 and 2100, got {year}")
        for column in ("publication_days", "appeal_days"):
            days = row.integer(column)
            if days is not None and days <= 0:
                p.error(row, column, f"must be at least 1 day, got {days}")
        cutoff, previous = row.values.get("cutoff_date"), row.values.get("previous_cutoff_date")
        if isinstance(cutoff, dt.date) and isinstance(previous, dt.date) and previous >= cutoff:
            p.error(row, "previous_cutoff_date", f"the previous year's cut-off {previous.isoformat()} "
                    f"is not before this scheme's cut-off {cutoff.isoformat()}")
        ctx = p.scheme_of(row)
        if ctx is None or row.bad:
            continue
        existing = scheme_record(ctx.state.scheme) if ctx.state else None
        if existing is not None and existing["year"] != year:
            p.error(row, "year", f"scheme {code} exists with year {existing['year']}; "
                    "a scheme's year cannot change")
            continue
        record = {k: row.values.get(k) for k in SCHEME_FIELDS}
        p.decide(ctx, row, existing, record, "the scheme")


def _grade_record(c: Category) -> Record:
    rules = c.grade_rules or {}
    return {k: rules.get(k) for k in GRADE_KEYS}


def category_record(c: Category) -> Record:
    return {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, **_grade_record(c)}


def check_categories(p: Planning, rows: list[Row]) -> None:
    for ctx, row, code in p.coded_rows(rows, "category"):
        quota = row.text("excellent_quota")
        if quota is not None:
            try:
                quota = parse_quota(quota)
            except CellError as exc:
                p.error(row, "excellent_quota", str(exc))
                continue
        mins = [(k, row.dec(k)) for k in THRESHOLDS]
        given = [(k, v) for k, v in mins if v is not None]
        for (k1, v1), (k2, v2) in itertools.pairwise(given):
            if v1 < v2:
                p.error(row, k2, f"{k2} {dec_str(v2)} is above {k1} {dec_str(v1)}")
        if row.bad:
            continue
        record: Record = {"code": code, "name_zh": row.text("name_zh"), "name_en": row.text("name_en"),
                          **{k: dec_str(v) if v is not None else None for k, v in mins},
                          "excellent_quota": quota}
        existing = ctx.state.categories.get(code) if ctx.state else None
        p.decide(ctx, row, category_record(existing) if existing else None, record,
                 f"category {code}")


def has_category(p: Planning, ctx: SchemeCtx, code: str) -> bool:
    return p.in_file("categories", (ctx.code, code)) or (
        ctx.state is not None and code in ctx.state.categories)


def section_record(s: Section) -> Record:
    return {"code": s.code, "name_zh": s.name_zh, "name_en": s.name_en, "weight": s.weight}


def check_sections(p: Planning, rows: list[Row]) -> None:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        ctx = p.scheme_of(row)
        category, code = row.text("category"), row.text("code")
        if ctx is None or category is None or code is None:
            continue
        if not has_category(p, ctx, category):
            p.error(row, "category", f"unknown category code {category} in scheme {ctx.code}")
            continue
        if not p.claim(row, (ctx.code, category, code), "code",
                       f"section {code} of category {category} in scheme {ctx.code}"):
            continue
        weight = row.dec("weight")
        groups.setdefault((ctx.code, category), []).append(row)
        if weight is not None and not Decimal(0) <= weight <= Decimal(100):
            p.error(row, "weight", f"weight must be between 0 and 100, got {dec_str(weight)}")
            continue
        if row.bad:
            continue
        record: Record = {"category": category, "code": code, "name_zh": row.text("name_zh"),
                          "name_en": row.text("name_en"), "weight": weight}
        existing = ctx.state.sections.get((category, code)) if ctx.state else None
        old = {"category": category, **section_record(existing)} if existing else None
        p.decide(ctx, row, old, record, f"section {code}")
    for (scheme, category), group in groups.items():
        weights = {r.text("code"): r.dec("weight") for r in group}
        if any(w is None or not Decimal(0) <= w <= Decimal(100) for w in weights.values()):
            continue  # the bad weight is reported already; a sum over it would only mislead
        state = p.catalog.get(scheme)
        if state is not None:
            for (cat, code), sec in state.sections.items():
                if cat == category and code not in weights:
                    weights[code] = sec.weight
        total = sum((w for w in weights.values() if w is not None), Decimal(0))
        if total != Decimal(100):
            parts = ", ".join(f"{c}={dec_str(w)}" for c, w in weights.items() if w is not None)
            p.error(group[0], "weight", f"the section weights of category {category} sum to "
                    f"{dec_str(total)}, not 100 ({parts})")


def unit_record(u: Unit, state_categories: dict[int, str], parents: dict[str, str | None]) -> Record:
    return {"code": u.code, "name": u.name, "level": u.level,
            "category": state_categories.get(u.category_id) if u.category_id else None,
            "parent": parents.get(u.code)}


def has_unit(p: Planning, ctx: SchemeCtx, code: str) -> bool:
    return p.in_file("units", (ctx.code, code)) or (ctx.state is not None and code in ctx.state.units)


def check_units(p: Planning, rows: list[Row]) -> None:
    # First every code, so that a parent may stand below its children.
    checked = list(p.coded_rows(rows, "unit"))
    parents: dict[str, dict[str, str | None]] = {}
    for ctx, row, code in checked:
        category, parent = row.text("category"), row.text("parent")
        if category is not None and not has_category(p, ctx, category):
            p.error(row, "category", f"unknown category code {category} in scheme {ctx.code}")
            continue
        if parent is not None and not has_unit(p, ctx, parent):
            p.error(row, "parent", f"unknown parent unit code {parent} in scheme {ctx.code}")
            continue
        if parent == code:
            p.error(row, "parent", f"unit {code} cannot be its own parent")
            continue
        tree = parents.setdefault(ctx.code, ctx.state.parent_codes() if ctx.state else {})
        tree[code] = parent
        if row.bad:
            continue
        record: Record = {"code": code, "name": row.text("name"), "level": row.text("level"),
                          "category": category, "parent": parent}
        existing = ctx.state.units.get(code) if ctx.state else None
        old = None
        if existing is not None and ctx.state is not None:
            cats = {c.id: k for k, c in ctx.state.categories.items()}
            old = unit_record(existing, cats, ctx.state.parent_codes())
        p.decide(ctx, row, old, record, f"unit {code}")
    for ctx, row, code in checked:
        tree = parents.get(ctx.code, {})
        chain = [code]
        while (nxt := tree.get(chain[-1])) is not None and len(chain) <= len(tree):
            chain.append(nxt)
            if nxt == code:
                p.error(row, "parent", f"units' parents form a loop: {' → '.join(chain)}")
                break


def indicator_record(i: Indicator) -> Record:
    return {"code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "section": i.section,
            "measure": i.measure, "direction": i.direction, "method": i.method, "points": i.points,
            "params": i.params or {}, "source_department": i.source_department}


def has_indicator(p: Planning, ctx: SchemeCtx, code: str) -> bool:
    return p.in_file("indicators", (ctx.code, code)) or (
        ctx.state is not None and code in ctx.state.indicators)


def _has_section_code(p: Planning, ctx: SchemeCtx, code: str) -> bool:
    if any(k[0] == ctx.code and k[2] == code for k in p.seen["sections"]):
        return True
    return ctx.state is not None and any(c == code for _, c in ctx.state.sections)


def check_indicators(p: Planning, rows: list[Row]) -> None:
    for ctx, row, code in p.coded_rows(rows, "indicator"):
        section = row.text("section")
        if section is not None and not _has_section_code(p, ctx, section):
            p.error(row, "section", f"unknown section code {section} in scheme {ctx.code}")
            continue
        points = row.dec("points")
        if points is not None and points < 0:
            p.error(row, "points", f"points must not be negative, got {dec_str(points)}")
            continue
        if row.bad:
            continue
        record: Record = {"code": code, "name_zh": row.text("name_zh"), "name_en": row.text("name_en"),
                  "section": section, "measure": row.text("measure"),
                  "direction": row.text("direction"), "method": row.text("method"),
                  "points": points, "params": row.obj("params") or {},
                  "source_department": row.text("source_department")}
        existing = ctx.state.indicators.get(code) if ctx.state else None
        p.decide(ctx, row, indicator_record(existing) if existing else None, record,
                 f"indicator {code}")
