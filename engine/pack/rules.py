"""Reading the ``rules:`` list of a pack: each rule's kind, facts, condition, effect and texts."""

from __future__ import annotations

import re
import string
from decimal import Decimal
from typing import Any

from engine.pack.conditions import dead_parts, keys_read, parse_condition
from engine.pack.errors import Path
from engine.pack.model import Effect, Points, Rule
from engine.pack.read import Reader
from engine.pack.schema import EXTRA_PLACEHOLDERS, FIELDS, GRADED_FIELDS
from engine.pack.scoring import METHOD_PARAMS, check_params
from engine.values import vocab

RULE_KEYS = (
    "id",
    "version",
    "kind",
    "on",
    "when",
    "effect",
    "bucket",
    "displaces",
    "periods",
    "text",
    "description",
)
_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Which fact types each kind may read.
KIND_FACTS: dict[str, tuple[str, ...]] = {
    "score": ("target",),
    "veto": ("target", "checkpoint", "event", "sheet"),
    "deduction": ("target", "checkpoint", "event", "sheet"),
    "bonus": ("target", "event", "sheet"),
    "warning": ("target", "checkpoint", "event", "sheet"),
    "flag": ("sheet",),
}
_POINT_KEYS = ("points", "multiply_by", "multiplier", "max_points")
EFFECT_KEYS: dict[str, tuple[str, ...]] = {
    "score": ("method", "params"),
    "veto": ("consequence", "grade", "section"),
    "deduction": (*_POINT_KEYS, "shared", "co_unit_share", "reset_if_caught_up"),
    "bonus": (*_POINT_KEYS, "dedupe"),
    "warning": ("notice",),
    "flag": ("flag",),
}


# Rules on sheet facts of these kinds run before grading; flag and warning rules after it.
PRE_GRADE_KINDS = ("veto", "deduction", "bonus")


def default_periods(kind: str, on: str) -> tuple[str, ...]:
    if on != "checkpoint" or kind == "veto":
        return ("year",)
    return vocab.PERIOD_KINDS if kind == "warning" else ("year", "half", "quarter")


def read_rule(r: Reader, data: Any, path: Path) -> Rule | None:
    raw_id = data.get("id") if isinstance(data, dict) else None
    rule_id = raw_id if isinstance(raw_id, str) else None
    d = r.mapping(data, path, RULE_KEYS, rule_id, ("id", "version", "kind", "on", "effect", "text"), where="")
    if raw_id is not None and rule_id is None:
        r.issues.add((*path, "id"), f"an id is text, not {raw_id!r} (quote it)", None, "id")
    if rule_id is not None and not _ID.match(rule_id):
        r.issues.add((*path, "id"), "an id is letters, digits, '.', '_' or '-'", rule_id, "id")
    version = r.int_(d.get("version"), (*path, "version"), "version", rule_id, minimum=1)
    kind = r.choice(d.get("kind"), (*path, "kind"), "kind", vocab.RULE_KINDS, rule_id)
    on = r.choice(d.get("on"), (*path, "on"), "on", vocab.FACT_TYPES, rule_id)
    if kind and on and on not in KIND_FACTS[kind]:
        r.issues.add(
            (*path, "on"),
            f"a {kind} rule reads {' or '.join(KIND_FACTS[kind])} facts, not {on}",
            rule_id,
            "on",
        )
        on = None
    if not (rule_id and version and kind and on):
        return None
    fields = FIELDS[on]
    when = parse_condition(
        d.get("when"), fields, (*path, "when"), r.issues, rule_id, fact_type=on, constants=r.constants
    )
    for dead in dead_parts(when, fields):
        r.issues.add((*path, "when"), dead, rule_id, "when")
    if on == "sheet" and kind in PRE_GRADE_KINDS:
        for name in sorted(keys_read(when) & set(GRADED_FIELDS)):
            r.issues.add(
                (*path, "when"),
                f"'{name}' is known only after grading; a {kind} rule on sheet facts runs before "
                "grading (flag and warning rules run after it)",
                rule_id,
                f"when.{name}",
            )
    effect = _effect(r, d.get("effect"), (*path, "effect"), kind, on, rule_id)
    bucket = r.text(d.get("bucket"), (*path, "bucket"), "bucket", rule_id)
    if bucket is not None and kind not in ("bonus", "deduction"):
        r.issues.add(
            (*path, "bucket"), "only bonus and deduction rules are filed in a bucket", rule_id, "bucket"
        )
    periods = _periods(r, d.get("periods"), (*path, "periods"), kind, on, rule_id)
    text = r.mapping(d.get("text"), (*path, "text"), ("zh", "en"), rule_id, ("zh", "en"), where="text")
    texts = {}
    for lang in ("zh", "en"):
        t = r.text(text.get(lang), (*path, "text", lang), f"text.{lang}", rule_id) or ""
        for name in _placeholders(t):
            if name not in fields and name not in EXTRA_PLACEHOLDERS and not _cross_ok(name, on):
                r.issues.add(
                    (*path, "text", lang), f"unknown placeholder {{{name}}}", rule_id, f"text.{lang}"
                )
        texts[lang] = t
    return Rule(
        id=rule_id,
        version=version,
        kind=kind,
        on=on,
        when=when,
        effect=effect,
        bucket=bucket,
        displaces=r.text_list(d.get("displaces"), (*path, "displaces"), "displaces", rule_id),
        periods=periods,
        text_zh=texts["zh"],
        text_en=texts["en"],
        line=r.issues.line(path),
    )


def _cross_ok(name: str, on: str) -> bool:
    """``{rank@CQ01}``: a target field of the same unit on another indicator (``score@…`` on sheets)."""
    field, at, indicator = name.partition("@")
    if not at or not indicator:
        return False
    return field in FIELDS["target"] or (field == "score" and on == "sheet")


def _placeholders(text: str) -> list[str]:
    try:
        # ``{}`` (an empty name) is reported too: a text can only name the facts' fields.
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return ["(unbalanced braces)"]


def _periods(r: Reader, value: Any, path: Path, kind: str, on: str, rule_id: str) -> tuple[str, ...]:
    if value is None:
        return default_periods(kind, on)
    periods = r.text_list(value, path, "periods", rule_id)
    allowed = default_periods(kind, on)
    for p in periods:
        if p not in vocab.PERIOD_KINDS:
            r.issues.add(path, f"{p!r} is not one of {', '.join(vocab.PERIOD_KINDS)}", rule_id, "periods")
        elif p not in allowed:
            why = "month runs give warnings only" if p == "month" else f"{on} facts exist in year runs only"
            r.issues.add(path, f"{p!r} not allowed for a {kind} rule on {on}: {why}", rule_id, "periods")
    return tuple(p for p in vocab.PERIOD_KINDS if p in periods)


def _effect(r: Reader, data: Any, path: Path, kind: str, on: str, rule_id: str) -> Effect:
    d = r.mapping(data, path, EFFECT_KEYS[kind], rule_id, where="effect")
    fields = FIELDS[on]
    if kind == "score":
        method = d.get("method", "indicator")
        params = d.get("params") or {}
        if method != "indicator" and method not in METHOD_PARAMS:
            r.issues.add(
                (*path, "method"),
                f"unknown scoring method '{method}' (known: indicator, {', '.join(METHOD_PARAMS)})",
                rule_id,
                "effect.method",
            )
        elif method != "indicator":
            try:
                params = check_params(method, params)
            except ValueError as exc:
                r.issues.add((*path, "params"), str(exc), rule_id, "effect.params")
        elif params:
            r.issues.add((*path, "params"), "params go with an explicit method", rule_id, "effect.params")
        return Effect(method=method, params=params)
    if kind == "veto":
        consequence = r.choice(
            d.get("consequence"),
            (*path, "consequence"),
            "effect.consequence",
            vocab.VETO_CONSEQUENCES,
            rule_id,
        )
        if consequence is None and "consequence" not in d:
            r.issues.add(path, "missing required field 'consequence'", rule_id, "effect.consequence")
        grade = r.choice(d.get("grade"), (*path, "grade"), "effect.grade", vocab.GRADES, rule_id)
        section = r.text(d.get("section"), (*path, "section"), "effect.section", rule_id)
        if consequence == "force_grade" and grade is None:
            r.issues.add(path, "force_grade needs a grade", rule_id, "effect.grade")
        if consequence == "zero_section" and section is None:
            r.issues.add(path, "zero_section needs a section", rule_id, "effect.section")
        return Effect(consequence=consequence, grade=grade, section=section)
    if kind == "warning":
        notice = r.choice(d.get("notice"), (*path, "notice"), "effect.notice", vocab.NOTICES, rule_id)
        return Effect(notice=notice or "reminder")
    if kind == "flag":
        flag = r.text(d.get("flag"), (*path, "flag"), "effect.flag", rule_id)
        if flag is None:
            r.issues.add(path, "missing required field 'flag'", rule_id, "effect.flag")
        return Effect(flag=flag)
    points = _points(r, d, path, kind, fields, rule_id)
    shared = r.choice(d.get("shared"), (*path, "shared"), "effect.shared", ("additional", "split"), rule_id)
    if shared and on != "target":
        r.issues.add((*path, "shared"), "shared responsibility needs target facts", rule_id, "effect.shared")
    reset = r.bool_(
        d.get("reset_if_caught_up"),
        (*path, "reset_if_caught_up"),
        "effect.reset_if_caught_up",
        False,
        rule_id,
    )
    if reset and on != "checkpoint":
        r.issues.add(
            (*path, "reset_if_caught_up"),
            "reset_if_caught_up needs checkpoint facts",
            rule_id,
            "effect.reset_if_caught_up",
        )
    dedupe = r.bool_(d.get("dedupe"), (*path, "dedupe"), "effect.dedupe", False, rule_id)
    if dedupe and on != "event":
        r.issues.add((*path, "dedupe"), "dedupe needs event facts", rule_id, "effect.dedupe")
    share = r.num(d.get("co_unit_share"), (*path, "co_unit_share"), "effect.co_unit_share", rule_id)
    if share is not None and not 0 <= share <= 1:
        r.issues.add((*path, "co_unit_share"), "a share is 0..1", rule_id, "effect.co_unit_share")
    if share is not None and not shared:
        r.issues.add(
            (*path, "co_unit_share"), "co_unit_share goes with shared", rule_id, "effect.co_unit_share"
        )
    return Effect(points=points, shared=shared, reset_if_caught_up=reset, dedupe=dedupe, co_unit_share=share)


def _points(
    r: Reader, d: dict[str, Any], path: Path, kind: str, fields: dict[str, Any], rule_id: str
) -> Points:
    raw = d.get("points")
    ppath = (*path, "points")
    sign = Decimal(-1) if kind == "deduction" else Decimal(1)
    fixed = table_field = rate_field = rate = default = None
    table: tuple[tuple[str, Decimal], ...] = ()
    if raw is None:
        r.issues.add(path, "missing required field 'points'", rule_id, "effect.points")
    elif isinstance(raw, dict):
        m = r.mapping(raw, ppath, ("by", "table", "default", "rate", "of"), rule_id, where="effect.points")
        if "table" in m:
            table_field = _field(r, m.get("by"), (*ppath, "by"), fields, rule_id, "effect.points.by")
            rows = r.mapping(
                m["table"],
                (*ppath, "table"),
                tuple(str(k) for k in (m["table"] or {})),
                rule_id,
                where="effect.points.table",
            )
            spec = fields.get(table_field) if table_field else None
            parsed = []
            for key, value in rows.items():
                if spec is not None and spec.vocab is not None and key not in spec.vocab:
                    r.issues.add(
                        (*ppath, "table", key),
                        f"'{key}' is not a {table_field} value ({spec.describe()})",
                        rule_id,
                        "effect.points.table",
                    )
                n = r.num(value, (*ppath, "table", key), "effect.points.table", rule_id)
                if n is not None:
                    parsed.append((key, n))
            table = tuple(sorted(parsed))
            default = r.num(m.get("default"), (*ppath, "default"), "effect.points.default", rule_id)
        elif "rate" in m:
            rate = r.num(m.get("rate"), (*ppath, "rate"), "effect.points.rate", rule_id)
            rate_field = _field(r, m.get("of"), (*ppath, "of"), fields, rule_id, "effect.points.of", "num")
        else:
            r.issues.add(
                ppath, "points: a number, {by, table[, default]} or {rate, of}", rule_id, "effect.points"
            )
    else:
        fixed = r.num(raw, ppath, "effect.points", rule_id)
    for value in (fixed, rate, default, *(v for _, v in table)):
        if value is not None and value * sign < 0:
            r.issues.add(
                ppath,
                f"a {kind} is {'negative' if sign < 0 else 'positive'}: {value}",
                rule_id,
                "effect.points",
            )
            break
    multiply_by = None
    if d.get("multiply_by") is not None:
        multiply_by = _field(
            r, d["multiply_by"], (*path, "multiply_by"), fields, rule_id, "effect.multiply_by", "num"
        )
    multiplier = r.num(d.get("multiplier"), (*path, "multiplier"), "effect.multiplier", rule_id)
    max_points = max_field = None
    if isinstance(d.get("max_points"), str):
        max_field = _field(
            r, d["max_points"], (*path, "max_points"), fields, rule_id, "effect.max_points", "num"
        )
    else:
        max_points = r.num(d.get("max_points"), (*path, "max_points"), "effect.max_points", rule_id)
    if max_points is not None and max_points < 0:
        r.issues.add((*path, "max_points"), "max_points is a magnitude (≥ 0)", rule_id, "effect.max_points")
    return Points(
        fixed=fixed,
        table_field=table_field,
        table=table,
        table_default=default,
        rate_field=rate_field,
        rate=rate,
        multiply_by=multiply_by,
        multiplier=multiplier if multiplier is not None else Decimal(1),
        max_points=max_points,
        max_points_field=max_field,
    )


def _field(
    r: Reader,
    value: Any,
    path: Path,
    fields: dict[str, Any],
    rule_id: str,
    where: str,
    type_: str | None = None,
) -> str | None:
    if not isinstance(value, str) or value not in fields:
        r.issues.add(path, f"unknown field {value!r} (known: {', '.join(sorted(fields))})", rule_id, where)
        return None
    if type_ is not None and fields[value].type != type_:
        r.issues.add(path, f"'{value}' is not a number field", rule_id, where)
        return None
    return value
