"""Loading a rule pack: YAML text → validated, content-hashed :class:`RulePack`.

Every problem is collected (file, line, rule id, field) before a single :class:`PackError` is
raised, so an assessment office fixes a pack in one pass. The content hash is over the canonical
JSON of the parsed document: comments, white space and key order never change it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from engine.pack.errors import PackError, PackIssue, Path
from engine.pack.model import (
    Bucket,
    GradeScheme,
    GradeStep,
    IndicatorSpec,
    NotApplicable,
    Rule,
    RulePack,
    SectionWeight,
)
from engine.pack.read import Reader
from engine.pack.rules import read_rule
from engine.pack.scoring import check_params
from engine.pack.source import load_with_marks
from engine.values import vocab
from engine.values.canonical import canonical_json, sha256_hex

__all__ = ["PackError", "PackIssue", "RulePack", "load_pack"]

TOP_KEYS = (
    "pack",
    "version",
    "scheme",
    "title",
    "item_floor",
    "bonus_requires_document",
    "carry_over",
    "co_unit_share",
    "constants",
    "buckets",
    "categories",
    "indicators",
    "not_applicable",
    "grades",
    "rules",
)
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
TIE_BREAKS = ("total", "bonus", "deduction", "unit")
_HUNDRED = Decimal(100)


def load_pack(text: str, filename: str) -> RulePack:
    """Parse and validate a pack on its own (codes against a snapshot: ``check.validate_pack``)."""
    data, issues = load_with_marks(text, filename)
    issues.raise_if_any()
    r = Reader(issues)
    d = r.mapping(data, (), TOP_KEYS, required=("pack", "version", "rules"), where="")
    name = r.text(d.get("pack"), ("pack",), "pack") or ""
    if name and not _NAME.match(name):
        issues.add(("pack",), "a pack name is letters, digits, '_' or '-'", field_name="pack")
    version = r.int_(d.get("version"), ("version",), "version", minimum=1) or 0
    title = r.mapping(d.get("title"), ("title",), ("zh", "en"), where="title")
    buckets = _buckets(r, d.get("buckets"))
    categories = _categories(r, d.get("categories"))
    r.constants = _constants(r, d.get("constants"))
    co_share = r.num(d.get("co_unit_share"), ("co_unit_share",), "co_unit_share")
    if co_share is not None and not 0 <= co_share <= 1:
        issues.add(("co_unit_share",), "a share is 0..1", field_name="co_unit_share")
    rules = _rules(r, d.get("rules"))
    _cross_check(r, rules, buckets)
    pack = RulePack(
        name=name,
        version=version,
        scheme=r.text(d.get("scheme"), ("scheme",), "scheme"),
        title_zh=str(title.get("zh") or ""),
        title_en=str(title.get("en") or ""),
        item_floor=r.num(d.get("item_floor"), ("item_floor",), "item_floor") or Decimal(0),
        bonus_requires_document=r.bool_(
            d.get("bonus_requires_document"), ("bonus_requires_document",), "bonus_requires_document", True
        ),
        carry_over=r.bool_(d.get("carry_over"), ("carry_over",), "carry_over", True),
        buckets=buckets,
        categories=categories,
        indicators=_indicators(r, d.get("indicators")),
        not_applicable=_not_applicable(r, d.get("not_applicable")),
        grades=_grades(r, d.get("grades")),
        rules=rules,
        sha256=sha256_hex(canonical_json(_numbers_as_decimals(data))),
        filename=filename,
        marks=dict(issues.marks),
        co_unit_share=co_share,
        constants=tuple(sorted(r.constants.items())),
    )
    if pack.item_floor > 0:
        issues.add(("item_floor",), "item_floor is 0 (扣完为止) or a negative limit", field_name="item_floor")
    issues.raise_if_any()
    return pack


def _numbers_as_decimals(value: Any) -> Any:
    """So that ``5`` and ``5.0`` hash alike: the hash is over meaning, not spelling."""
    if isinstance(value, dict):
        return {k: _numbers_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_decimals(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _entries(r: Reader, data: Any, path: Path) -> list[tuple[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, dict):
        r.issues.add(path, "must be a mapping of code: settings")
        return []
    return list(data.items())


def _constants(r: Reader, data: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for name, raw in _entries(r, data, ("constants",)):
        if not _NAME.match(name):
            r.issues.add(
                ("constants", name),
                "a constant's name is letters, digits, '_' or '-'",
                field_name=f"constants.{name}",
            )
        n = r.num(raw, ("constants", name), f"constants.{name}")
        if n is not None:
            out[name] = n
    return out


def _buckets(r: Reader, data: Any) -> tuple[Bucket, ...]:
    out = []
    for code, raw in _entries(r, data, ("buckets",)):
        p: Path = ("buckets", code)
        b = r.mapping(
            raw, p, ("cap", "per", "indicator_caps", "floor_at_item", "name"), where=f"buckets.{code}"
        )
        caps = []
        for ind, cap in _entries(r, b.get("indicator_caps"), (*p, "indicator_caps")):
            n = r.num(cap, (*p, "indicator_caps", ind), f"buckets.{code}.indicator_caps")
            if n is not None:
                caps.append((ind, n))
        per = r.choice(b.get("per"), (*p, "per"), f"buckets.{code}.per", ("unit", "indicator")) or "unit"
        if caps and per != "indicator":
            r.issues.add(
                (*p, "indicator_caps"),
                "indicator_caps need per: indicator",
                field_name=f"buckets.{code}.indicator_caps",
            )
        cap_value = r.num(b.get("cap"), (*p, "cap"), f"buckets.{code}.cap")
        for value in (cap_value, *(c for _, c in caps)):
            if value is not None and value < 0:
                r.issues.add((*p, "cap"), "a cap is a magnitude (≥ 0)", field_name=f"buckets.{code}.cap")
        names = r.mapping(b.get("name"), (*p, "name"), ("zh", "en"), where=f"buckets.{code}.name")
        out.append(
            Bucket(
                code=code,
                cap=cap_value,
                per=per,
                indicator_caps=tuple(sorted(caps)),
                floor_at_item=r.bool_(
                    b.get("floor_at_item"), (*p, "floor_at_item"), f"buckets.{code}.floor_at_item", False
                ),
                name_zh=str(names.get("zh") or code),
                name_en=str(names.get("en") or code),
            )
        )
    return tuple(out)


def read_sections(r: Reader, data: Any, path: Path, label: str) -> tuple[SectionWeight, ...]:
    sections = []
    for code, raw in _entries(r, data, path):
        sp = (*path, code)
        if isinstance(raw, dict):
            m = r.mapping(raw, sp, ("weight", "full"), required=("weight",), where=f"{label}.{code}")
            weight, full = (
                r.num(m.get("weight"), (*sp, "weight"), f"{label}.{code}.weight"),
                r.num(m.get("full"), (*sp, "full"), f"{label}.{code}.full"),
            )
        else:
            weight, full = r.num(raw, sp, f"{label}.{code}"), None
        if weight is not None:
            sections.append(SectionWeight(code, weight, full))
    total = sum((s.weight for s in sections), Decimal(0))
    if sections and total != _HUNDRED:
        r.issues.add(path, f"section weights add up to {total}, not 100", field_name=label)
    return tuple(sections)


def _categories(r: Reader, data: Any) -> tuple[tuple[str, tuple[SectionWeight, ...]], ...]:
    out = []
    for code, raw in _entries(r, data, ("categories",)):
        m = r.mapping(
            raw, ("categories", code), ("sections",), required=("sections",), where=f"categories.{code}"
        )
        out.append(
            (
                code,
                read_sections(
                    r, m.get("sections"), ("categories", code, "sections"), f"categories.{code}.sections"
                ),
            )
        )
    return tuple(out)


def _indicators(r: Reader, data: Any) -> tuple[IndicatorSpec, ...]:
    out = []
    for code, raw in _entries(r, data, ("indicators",)):
        p: Path = ("indicators", code)
        m = r.mapping(raw, p, ("method", "params", "floor"), where=f"indicators.{code}")
        method = m.get("method")
        params: dict[str, Any] = m.get("params") or {}
        if method is not None:
            try:
                params = check_params(str(method), params)
            except ValueError as exc:
                r.issues.add(
                    (*p, "params" if "parameter" in str(exc) else "method"),
                    str(exc),
                    field_name=f"indicators.{code}",
                )
        elif params:
            r.issues.add((*p, "params"), "params need a method", field_name=f"indicators.{code}.params")
        floor = r.num(m.get("floor"), (*p, "floor"), f"indicators.{code}.floor")
        if floor is not None and floor > 0:
            r.issues.add(
                (*p, "floor"), "a floor is 0 or a negative limit", field_name=f"indicators.{code}.floor"
            )
        out.append(IndicatorSpec(code, method, params, floor))
    return tuple(out)


def _not_applicable(r: Reader, data: Any) -> tuple[NotApplicable, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        r.issues.add(("not_applicable",), "must be a list", field_name="not_applicable")
        return ()
    out = []
    for i, raw in enumerate(data):
        p: Path = ("not_applicable", i)
        m = r.mapping(
            raw,
            p,
            ("indicator", "units", "categories", "unit_levels", "tags", "treatment", "reason"),
            required=("indicator",),
            where=f"not_applicable[{i}]",
        )
        levels = r.text_list(m.get("unit_levels"), (*p, "unit_levels"), "not_applicable.unit_levels")
        for level in levels:
            if level not in vocab.UNIT_LEVELS:
                r.issues.add((*p, "unit_levels"), f"'{level}' is not a unit level", field_name="unit_levels")
        units = r.text_list(m.get("units"), (*p, "units"), "not_applicable.units")
        cats = r.text_list(m.get("categories"), (*p, "categories"), "not_applicable.categories")
        tags = r.text_list(m.get("tags"), (*p, "tags"), "not_applicable.tags")
        if not (units or cats or levels or tags):
            r.issues.add(
                p, "say which units: units, categories, unit_levels or tags", field_name="not_applicable"
            )
        reason = r.mapping(m.get("reason"), (*p, "reason"), ("zh", "en"), where="not_applicable.reason")
        out.append(
            NotApplicable(
                indicator=str(m.get("indicator")),
                units=units,
                categories=cats,
                unit_levels=levels,
                tags=tags,
                treatment=r.choice(
                    m.get("treatment"),
                    (*p, "treatment"),
                    "not_applicable.treatment",
                    ("rescale", "full_marks"),
                )
                or "rescale",
                reason_zh=str(reason.get("zh") or ""),
                reason_en=str(reason.get("en") or ""),
            )
        )
    return tuple(out)


def _grades(r: Reader, data: Any) -> tuple[GradeScheme, ...]:
    out = []
    for category, raw in _entries(r, data, ("grades",)):
        p: Path = ("grades", category)
        label = f"grades.{category}"
        m = r.mapping(raw, p, ("steps", "tie_break"), required=("steps",), where=label)
        ties = r.text_list(m.get("tie_break"), (*p, "tie_break"), f"{label}.tie_break") or ("total",)
        for t in ties:
            if t not in TIE_BREAKS and not t.startswith("section:"):
                r.issues.add(
                    (*p, "tie_break"),
                    f"unknown tie-break '{t}' (total, bonus, deduction, section:CODE, unit)",
                    field_name=f"{label}.tie_break",
                )
        steps = _grade_steps(r, m.get("steps"), (*p, "steps"), label)
        out.append(GradeScheme(category, steps, ties))
    return tuple(out)


def _grade_steps(r: Reader, data: Any, path: Path, label: str) -> tuple[GradeStep, ...]:
    if not isinstance(data, list) or not data:
        r.issues.add(path, "a non-empty list of grade steps", field_name=f"{label}.steps")
        return ()
    steps: list[GradeStep] = []
    for i, raw in enumerate(data):
        sp = (*path, i)
        m = r.mapping(
            raw,
            sp,
            ("grade", "min_total", "max_rank", "quota"),
            required=("grade",),
            where=f"{label}.steps[{i}]",
        )
        grade = r.choice(m.get("grade"), (*sp, "grade"), f"{label}.steps[{i}].grade", vocab.GRADES)
        quota = r.mapping(m.get("quota"), (*sp, "quota"), ("count", "percent"), where=f"{label}.quota")
        count = r.int_(quota.get("count"), (*sp, "quota", "count"), f"{label}.quota.count")
        percent = r.num(quota.get("percent"), (*sp, "quota", "percent"), f"{label}.quota.percent")
        if count is not None and percent is not None:
            r.issues.add(
                (*sp, "quota"), "a quota is a count or a percent, not both", field_name=f"{label}.quota"
            )
        if percent is not None and not 0 <= percent <= _HUNDRED:
            r.issues.add((*sp, "quota"), "a percent is 0..100", field_name=f"{label}.quota.percent")
        if grade is None:
            continue
        step = GradeStep(
            grade,
            r.num(m.get("min_total"), (*sp, "min_total"), f"{label}.min_total"),
            r.int_(m.get("max_rank"), (*sp, "max_rank"), f"{label}.max_rank", minimum=1),
            count,
            percent,
        )
        if steps:
            prev = steps[-1]
            if vocab.GRADES.index(grade) <= vocab.GRADES.index(prev.grade):
                r.issues.add(
                    (*sp, "grade"),
                    f"cyclic or contradictory grade order: {grade} after "
                    f"{prev.grade} (list best first: {', '.join(vocab.GRADES)})",
                    field_name=f"{label}.steps",
                )
            elif (
                step.min_total is not None and prev.min_total is not None and step.min_total > prev.min_total
            ):
                r.issues.add(
                    (*sp, "min_total"),
                    f"contradictory thresholds: {prev.grade} needs "
                    f"{prev.min_total} but the lower grade {grade} needs {step.min_total}",
                    field_name=f"{label}.min_total",
                )
        steps.append(step)
    last = steps[-1] if steps else None
    if last and (
        last.min_total is not None
        or last.max_rank is not None
        or last.quota_count is not None
        or last.quota_percent is not None
    ):
        r.issues.add(
            (*path, len(steps) - 1),
            f"the last grade ({last.grade}) must have no threshold, rank "
            "limit or quota, so that every unit gets a grade",
            field_name=f"{label}.steps",
        )
    return tuple(steps)


def _rules(r: Reader, data: Any) -> tuple[Rule, ...]:
    if not isinstance(data, list):
        r.issues.add(("rules",), "must be a list of rules", field_name="rules")
        return ()
    rules = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data):
        rule = read_rule(r, raw, ("rules", i))
        if rule is None:
            continue
        if rule.id in seen:
            r.issues.add(
                ("rules", i, "id"), f"duplicate rule id (first at line {seen[rule.id]})", rule.id, "id"
            )
            continue
        seen[rule.id] = r.issues.line(("rules", i))
        rules.append(rule)
    return tuple(rules)


def _cross_check(r: Reader, rules: tuple[Rule, ...], buckets: tuple[Bucket, ...]) -> None:
    """References between rules and buckets: defined, consistent, acyclic."""
    by_id = {rule.id: rule for rule in rules}
    bucket_codes = {b.code for b in buckets}
    bucket_kind: dict[str, str] = {}
    index = {rule.id: i for i, rule in enumerate(rules)}
    for rule in rules:
        path: Path = ("rules", index[rule.id])
        if rule.bucket is not None:
            if rule.bucket not in bucket_codes:
                r.issues.add(
                    (*path, "bucket"),
                    f"bucket '{rule.bucket}' is not defined under buckets:",
                    rule.id,
                    "bucket",
                )
            elif bucket_kind.setdefault(rule.bucket, rule.kind) != rule.kind:
                r.issues.add(
                    (*path, "bucket"),
                    f"bucket '{rule.bucket}' mixes bonus and deduction rules",
                    rule.id,
                    "bucket",
                )
        if rule.effect.consequence == "zero_section" and rule.effect.section is None:
            continue
        for other in rule.displaces:
            target = by_id.get(other)
            if target is None:
                r.issues.add((*path, "displaces"), f"displaces unknown rule '{other}'", rule.id, "displaces")
            elif target.on != rule.on:
                r.issues.add(
                    (*path, "displaces"),
                    f"'{other}' reads {target.on} facts, not {rule.on}",
                    rule.id,
                    "displaces",
                )
            elif other == rule.id:
                r.issues.add((*path, "displaces"), "a rule cannot displace itself", rule.id, "displaces")
    cycle = _find_cycle({rule.id: rule.displaces for rule in rules})
    if cycle:
        first = by_id[cycle[0]]
        r.issues.add(
            ("rules", index[first.id], "displaces"),
            "displacement cycle: " + " → ".join(cycle),
            first.id,
            "displaces",
        )


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
