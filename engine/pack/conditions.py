"""Rule conditions: a small declarative language over one fact type's fields.

The same tree is (1) checked at load (types, vocabularies, satisfiability), (2) compiled to a
durable_rules expression, and (3) evaluated in Python — to double-check what durable_rules
reports and to explain why a rule did not apply.

A comparison on a field the fact does not have never holds (as in durable_rules); ``exists``
tests presence.

Two kinds of leaf: :class:`Cmp` compares a field with literal values and compiles to durable_rules;
:class:`Calc` compares a field with another field, a pack constant or an arithmetic expression,
reads the same unit's target on another indicator (``rank@CQ01``) or tests a tag. A Calc is
evaluated in exact Python after durable_rules matched the rest of the condition: it compiles to
"always true" there, so durable's matches are a superset that the Calc then filters (there is no
negation in the language, so dropping a leaf can only widen a match). Arithmetic is exact decimal,
each step rounded to four places half up (the engine's one rounding rule); division by zero, like
an absent field, makes the comparison fail.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.pack.errors import Issues, Path
from engine.pack.schema import FieldSpec
from engine.values.decimals import check_decimal, div, fmt, mul, q, scaled

Scalar = str | Decimal | bool
FactValues = Mapping[str, Scalar]

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists")
TAG_OPS = ("has", "lacks")
ARITH = ("add", "sub", "mul", "div")
_ARITH_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷"}
_ORDER_OPS = ("lt", "lte", "gt", "gte")
_SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "in",
    "not_in": "not in",
    "exists": "exists",
    "has": "has",
    "lacks": "lacks",
}
_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_MAX_CONJUNCTS = 512
_TAG = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    def describe(self) -> str:
        return f"{self.field} {_SYMBOLS[self.op]} {_show(self.value)}"


@dataclass(frozen=True)
class AllOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Ref:
    """A field of the fact itself, or (``indicator`` given) of the same unit's target on that
    indicator; its key in the fact's values is ``field`` or ``field@indicator``."""

    field: str
    indicator: str | None = None

    @property
    def key(self) -> str:
        return self.field if self.indicator is None else f"{self.field}@{self.indicator}"


@dataclass(frozen=True)
class Lit:
    value: Decimal
    name: str | None = None  # a pack constant's name


@dataclass(frozen=True)
class Arith:
    op: str  # add | sub | mul | div
    args: tuple[Expr, ...]


Expr = Ref | Lit | Arith


@dataclass(frozen=True)
class Calc:
    """``left op right`` evaluated in Python: right is an expression, or a literal when left reads
    another indicator's target; ``has``/``lacks`` test a tag in the ``tags`` field."""

    left: Ref
    op: str
    right: Expr | Scalar

    def describe(self) -> str:
        return f"{self.left.key} {_SYMBOLS[self.op]} {_show_expr(self.right)}"


Leaf = Cmp | Calc
Node = Cmp | Calc | AllOf | AnyOf


def _show(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return fmt(value)
    return value


def _show_expr(e: Expr | Scalar) -> str:
    if isinstance(e, Ref):
        return e.key
    if isinstance(e, Lit):
        return e.name if e.name else fmt(e.value)
    if isinstance(e, Arith):
        return "(" + f" {_ARITH_SYMBOLS[e.op]} ".join(_show_expr(a) for a in e.args) + ")"
    return _show(e)


def describe(node: Node) -> str:
    if isinstance(node, Cmp | Calc):
        return node.describe()
    joiner = " and " if isinstance(node, AllOf) else " or "
    parts = [describe(n) if isinstance(n, Cmp | Calc) else f"({describe(n)})" for n in node.items]
    return joiner.join(parts) if parts else "always"


# --- parsing ---------------------------------------------------------------------------------


def parse_condition(
    data: Any,
    fields: Mapping[str, FieldSpec],
    path: Path,
    issues: Issues,
    rule_id: str | None,
    *,
    fact_type: str | None = None,
    constants: Mapping[str, Decimal] | None = None,
) -> Node:
    """``data`` is the YAML ``when`` mapping: entries are and-ed; ``any``/``all`` hold lists."""
    ctx = _Ctx(fields, fact_type, constants or {}, issues, rule_id)
    return _parse(data, path, ctx)


@dataclass(frozen=True)
class _Ctx:
    fields: Mapping[str, FieldSpec]
    fact_type: str | None
    constants: Mapping[str, Decimal]
    issues: Issues
    rule_id: str | None

    def add(self, path: Path, message: str, where: str) -> None:
        self.issues.add(path, message, self.rule_id, where)


def _parse(data: Any, path: Path, ctx: _Ctx) -> Node:
    fields, issues, rule_id = ctx.fields, ctx.issues, ctx.rule_id
    if data is None:
        return AllOf(())
    if not isinstance(data, dict):
        issues.add(path, "a condition must be a mapping of field: value", rule_id, "when")
        return AllOf(())
    items: list[Node] = []
    for key, value in data.items():
        kpath = (*path, key)
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                issues.add(kpath, f"'{key}' needs a non-empty list of conditions", rule_id, f"when.{key}")
                continue
            subs = tuple(_unwrap(_parse(v, (*kpath, i), ctx)) for i, v in enumerate(value))
            items.append(AnyOf(subs) if key == "any" else AllOf(subs))
            continue
        if "@" in key:
            items.extend(_parse_cross(key, value, kpath, ctx))
            continue
        spec = fields.get(key)
        if spec is None:
            issues.add(
                kpath, f"unknown field '{key}' (known: {', '.join(sorted(fields))})", rule_id, f"when.{key}"
            )
            continue
        if spec.type == "tags":
            items.extend(_parse_tags(key, value, kpath, ctx))
            continue
        if isinstance(value, dict):
            if not value:
                issues.add(kpath, "an empty comparison", rule_id, f"when.{key}")
            for op, operand in value.items():
                if isinstance(operand, dict) and op in OPS:
                    calc = _parse_calc(Ref(key), spec, op, operand, (*kpath, op), ctx)
                    if calc is not None:
                        items.append(calc)
                    continue
                cmp = _parse_cmp(key, spec, op, operand, (*kpath, op), issues, rule_id)
                if cmp is not None:
                    items.append(cmp)
        else:
            cmp = _parse_cmp(key, spec, "eq", value, kpath, issues, rule_id)
            if cmp is not None:
                items.append(cmp)
    return AllOf(tuple(items))


def _ref_spec(ref: Ref, path: Path, ctx: _Ctx, where: str) -> FieldSpec | None:
    """The spec of a referenced field; cross-indicator references read target fields (and, on
    sheet facts, ``score``: the points the indicator earned)."""
    from engine.pack.schema import FIELDS, SHEET_SCORE

    if ref.indicator is None:
        spec = ctx.fields.get(ref.field)
        if spec is None:
            ctx.add(path, f"unknown field '{ref.field}' (known: {', '.join(sorted(ctx.fields))})", where)
        return spec
    if not ref.indicator or not ref.field:
        ctx.add(path, f"'{ref.key}': write FIELD@INDICATOR, e.g. rank@CQ01", where)
        return None
    if ref.field == "score":
        if ctx.fact_type != "sheet":
            ctx.add(path, f"'{ref.key}': an indicator's score is known only on sheet facts", where)
            return None
        return SHEET_SCORE
    spec = FIELDS["target"].get(ref.field)
    if spec is None:
        known = ", ".join(sorted(FIELDS["target"]))
        ctx.add(path, f"'{ref.key}': unknown target field '{ref.field}' (known: {known}, score)", where)
    elif spec.type == "tags":
        ctx.add(path, f"'{ref.key}': tags are read on the fact itself, not through another indicator", where)
        return None
    return spec


def _split_ref(text: str) -> Ref:
    if "@" in text:
        name, _, indicator = text.partition("@")
        return Ref(name, indicator)
    return Ref(text)


def _parse_cross(key: str, value: Any, path: Path, ctx: _Ctx) -> list[Node]:
    where = f"when.{key}"
    ref = _split_ref(key)
    spec = _ref_spec(ref, path, ctx, where)
    if spec is None:
        return []
    ops = value if isinstance(value, dict) else {"eq": value}
    if not ops:
        ctx.add(path, "an empty comparison", where)
    out: list[Node] = []
    for op, operand in ops.items():
        opath = (*path, op) if isinstance(value, dict) else path
        if op not in OPS or op in ("in", "not_in", "exists"):
            ctx.add(opath, f"'{op}' is not available on {key} (use eq, ne, lt, lte, gt, gte)", where)
            continue
        if isinstance(operand, dict):
            calc = _parse_calc(ref, spec, op, operand, opath, ctx)
            if calc is not None:
                out.append(calc)
            continue
        cmp = _parse_cmp(ref.field, spec, op, operand, opath, ctx.issues, ctx.rule_id)
        if cmp is not None and not isinstance(cmp.value, tuple):
            out.append(Calc(ref, op, cmp.value))
    return out


def _parse_tags(key: str, value: Any, path: Path, ctx: _Ctx) -> list[Node]:
    where = f"when.{key}"
    if not isinstance(value, dict) or not value:
        ctx.add(path, f"'{key}' is a set of tags: write {{has: TAG}} or {{lacks: TAG}}", where)
        return []
    out: list[Node] = []
    for op, tag in value.items():
        if op not in TAG_OPS:
            ctx.add((*path, op), f"'{op}' is not a tag test (use has or lacks)", where)
        elif not isinstance(tag, str) or not _TAG.match(tag):
            ctx.add((*path, op), f"a tag is letters, digits, '_' or '-', not {tag!r}", where)
        else:
            out.append(Calc(Ref(key), op, tag))
    return out


def _parse_calc(left: Ref, spec: FieldSpec, op: str, operand: Any, path: Path, ctx: _Ctx) -> Calc | None:
    """``left op expression``: a field reference, a pack constant or arithmetic."""
    where = f"when.{left.key}"
    if op in ("in", "not_in", "exists"):
        ctx.add(path, f"'{op}' takes literal values, not an expression", where)
        return None
    parsed = _parse_expr(operand, path, ctx, where)
    if parsed is None:
        return None
    expr, kind = parsed
    if op in _ORDER_OPS and (spec.type != "num" or kind != "num"):
        bad = left.key if spec.type != "num" else _show_expr(expr)
        ctx.add(
            path,
            f"'{op}' needs numbers on both sides; '{bad}' is {spec.type if bad == left.key else kind}",
            where,
        )
        return None
    if kind != spec.type:
        ctx.add(path, f"type mismatch: '{left.key}' is {spec.type}, '{_show_expr(expr)}' is {kind}", where)
        return None
    return Calc(left, op, expr)


def _parse_expr(data: Any, path: Path, ctx: _Ctx, where: str) -> tuple[Expr, str] | None:
    """An operand: a number, a field name (inside arithmetic), or one of {field[, indicator]},
    {const}, {add|sub|mul|div: [operands]}. Returns the expression and its type."""
    if isinstance(data, bool):
        ctx.add(path, f"{data!r} is not a number or an expression", where)
        return None
    if isinstance(data, int | Decimal):
        try:
            return Lit(check_decimal(data, where)), "num"
        except ValueError as exc:
            ctx.add(path, str(exc), where)
            return None
    if isinstance(data, str):
        ref = _split_ref(data)
        spec = _ref_spec(ref, path, ctx, where)
        return None if spec is None else (ref, spec.type)
    if not isinstance(data, dict) or len(data) not in (1, 2):
        ctx.add(
            path,
            "an expression is {field: F}, {field: F, indicator: I}, {const: C} or "
            "{add|sub|mul|div: [a, b, …]}",
            where,
        )
        return None
    keys = set(data)
    if "field" in keys and keys <= {"field", "indicator"}:
        name, indicator = data.get("field"), data.get("indicator")
        if not isinstance(name, str) or (indicator is not None and not isinstance(indicator, str)):
            ctx.add(path, "field and indicator are text", where)
            return None
        ref = Ref(name, indicator)
        spec = _ref_spec(ref, path, ctx, where)
        return None if spec is None else (ref, spec.type)
    if keys == {"const"}:
        name = data["const"]
        value = ctx.constants.get(name) if isinstance(name, str) else None
        if value is None:
            known = ", ".join(sorted(ctx.constants)) or "none defined"
            ctx.add(path, f"unknown constant {name!r} (constants: {known})", where)
            return None
        return Lit(value, name), "num"
    if len(keys) == 1 and next(iter(keys)) in ARITH:
        op = next(iter(keys))
        args = data[op]
        if not isinstance(args, list) or len(args) < 2 or (op in ("sub", "div") and len(args) != 2):
            need = "two operands" if op in ("sub", "div") else "two or more operands"
            ctx.add((*path, op), f"'{op}' needs a list of {need}", where)
            return None
        parts = [_parse_expr(a, (*path, op, i), ctx, where) for i, a in enumerate(args)]
        if any(p is None for p in parts):
            return None
        for p in parts:
            assert p is not None
            if p[1] != "num":
                ctx.add((*path, op), f"arithmetic needs numbers; '{_show_expr(p[0])}' is {p[1]}", where)
                return None
        return Arith(op, tuple(p[0] for p in parts if p is not None)), "num"
    ctx.add(path, f"unknown expression {sorted(keys)} (field, indicator, const, add, sub, mul, div)", where)
    return None


def _unwrap(node: Node) -> Node:
    return node.items[0] if isinstance(node, AllOf) and len(node.items) == 1 else node


def _parse_cmp(
    name: str, spec: FieldSpec, op: str, operand: Any, path: Path, issues: Issues, rule_id: str | None
) -> Cmp | None:
    where = f"when.{name}"
    if op not in OPS:
        issues.add(path, f"unknown operator '{op}' (known: {', '.join(OPS)})", rule_id, where)
        return None
    if op == "exists":
        if not isinstance(operand, bool):
            issues.add(path, "exists takes true or false", rule_id, where)
            return None
        return Cmp(name, op, operand)
    if op in _ORDER_OPS and spec.type != "num":
        issues.add(path, f"'{op}' needs a number field; '{name}' is {spec.type}", rule_id, where)
        return None
    if op in ("in", "not_in"):
        if not isinstance(operand, list) or not operand:
            issues.add(path, f"'{op}' needs a non-empty list", rule_id, where)
            return None
        values = [_typed(name, spec, v, path, issues, rule_id) for v in operand]
        if any(v is None for v in values):
            return None
        return Cmp(name, op, tuple(v for v in values if v is not None))
    typed = _typed(name, spec, operand, path, issues, rule_id)
    return None if typed is None else Cmp(name, op, typed)


def _typed(
    name: str, spec: FieldSpec, value: Any, path: Path, issues: Issues, rule_id: str | None
) -> Scalar | None:
    where = f"when.{name}"
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        issues.add(path, f"'{name}' is true or false, not {value!r}", rule_id, where)
        return None
    if spec.type == "num":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            issues.add(path, f"'{name}' is a number, not {value!r}", rule_id, where)
            return None
        try:
            return check_decimal(value, where)
        except ValueError as exc:
            issues.add(path, str(exc), rule_id, where)
            return None
    if not isinstance(value, str):
        issues.add(path, f"'{name}' is text, not {value!r} (quote it)", rule_id, where)
        return None
    if spec.vocab is not None and value not in spec.vocab:
        issues.add(path, f"'{value}' is not a {name} value ({spec.describe()})", rule_id, where)
        return None
    return value


# --- satisfiability ---------------------------------------------------------------------------


def conjuncts(node: Node) -> list[list[Leaf]] | None:
    """Disjunctive normal form, or None when it would be too large to check."""
    if isinstance(node, Cmp | Calc):
        return [[node]]
    parts = [conjuncts(n) for n in node.items]
    if any(p is None for p in parts):
        return None
    checked = [p for p in parts if p is not None]
    if isinstance(node, AnyOf):
        out = [c for p in checked for c in p]
    else:
        out = [list(itertools.chain.from_iterable(combo)) for combo in itertools.product(*checked)]
    return out if len(out) <= _MAX_CONJUNCTS else None


def _spec_of(key: str, fields: Mapping[str, FieldSpec]) -> FieldSpec | None:
    from engine.pack.schema import FIELDS, SHEET_SCORE

    if "@" not in key:
        return fields.get(key)
    name = key.partition("@")[0]
    return SHEET_SCORE if name == "score" else FIELDS["target"].get(name)


def _divides_by_zero(e: Expr | Scalar) -> bool:
    if not isinstance(e, Arith):
        return False
    if e.op == "div" and isinstance(e.args[1], Lit) and e.args[1].value == 0:
        return True
    return any(_divides_by_zero(a) for a in e.args)


def _calc_unsat(calcs: list[Calc]) -> str | None:
    for c in calcs:
        if _divides_by_zero(c.right):
            return f"{c.describe()} divides by zero"
        if isinstance(c.right, Ref) and c.right == c.left and c.op in ("lt", "gt", "ne"):
            return f"{c.describe()} compares a field with itself"
    has = {c.right for c in calcs if c.op == "has"}
    for c in calcs:
        if c.op == "lacks" and c.right in has:
            return f"{c.left.key} has {c.right} and lacks {c.right}"
    return None


def unsatisfiable_reason(leaves: list[Leaf], fields: Mapping[str, FieldSpec]) -> str | None:
    """Why a conjunction of comparisons can never hold, or None if some fact could satisfy it.
    A cross-indicator comparison with a literal (``rank@CQ01 <= 3``) is checked like a field's."""
    calcs = [c for c in leaves if isinstance(c, Calc)]
    reason = _calc_unsat(calcs)
    if reason:
        return reason
    cmps = [c for c in leaves if isinstance(c, Cmp)]
    cmps += [
        Cmp(c.left.key, c.op, c.right)
        for c in calcs
        if c.left.indicator is not None and not isinstance(c.right, Ref | Lit | Arith)
    ]
    by_field: dict[str, list[Cmp]] = {}
    for c in cmps:
        by_field.setdefault(c.field, []).append(c)
    for name, group in by_field.items():
        spec = _spec_of(name, fields)
        reason = _field_unsat(group, spec) if spec is not None else None
        if reason:
            return reason
    return None


def _field_unsat(group: list[Cmp], spec: FieldSpec) -> str | None:
    text = " and ".join(c.describe() for c in group)
    present = [c for c in group if c.op != "exists"]
    if any(c.op == "exists" and c.value is False for c in group) and (
        present or any(c.op == "exists" and c.value is True for c in group)
    ):
        return text
    universe: set[Scalar] | None = None
    if spec.type == "bool":
        universe = {True, False}
    elif spec.vocab is not None:
        universe = set(spec.vocab)
    allowed = universe
    lo: tuple[Decimal, bool] | None = None  # (bound, strict)
    hi: tuple[Decimal, bool] | None = None
    for c in present:
        if c.op in ("eq", "in"):
            vals = set(c.value) if isinstance(c.value, tuple) else {c.value}
            allowed = vals if allowed is None else allowed & vals
        elif c.op in ("ne", "not_in"):
            vals = set(c.value) if isinstance(c.value, tuple) else {c.value}
            if allowed is not None:
                allowed = allowed - vals
        elif isinstance(c.value, Decimal):
            strict = c.op in ("lt", "gt")
            if c.op in ("gt", "gte") and (lo is None or c.value > lo[0] or (c.value == lo[0] and strict)):
                lo = (c.value, strict)
            if c.op in ("lt", "lte") and (hi is None or c.value < hi[0] or (c.value == hi[0] and strict)):
                hi = (c.value, strict)
    if lo and hi and (lo[0] > hi[0] or (lo[0] == hi[0] and (lo[1] or hi[1]))):
        return text
    if allowed is not None:
        excluded = {
            v
            for c in present
            if c.op in ("ne", "not_in")
            for v in (c.value if isinstance(c.value, tuple) else (c.value,))
        }
        left = [v for v in allowed if v not in excluded and _within(v, lo, hi)]
        if not left:
            return text
    return None


def _within(v: Scalar, lo: tuple[Decimal, bool] | None, hi: tuple[Decimal, bool] | None) -> bool:
    if not isinstance(v, Decimal) or isinstance(v, bool):
        return True
    if lo and (v < lo[0] or (v == lo[0] and lo[1])):
        return False
    return not (hi and (v > hi[0] or (v == hi[0] and hi[1])))


def dead_parts(node: Node, fields: Mapping[str, FieldSpec]) -> list[str]:
    """Descriptions of the condition (or of any of its ``any`` branches) that can never hold."""
    dnf = conjuncts(node)
    if dnf is None:
        return []
    if dnf and all(unsatisfiable_reason(c, fields) for c in dnf):
        reasons = sorted({r for c in dnf for r in [unsatisfiable_reason(c, fields)] if r})
        return [f"the condition can never hold: {'; '.join(reasons)}"]
    out: list[str] = []
    _dead_branches(node, fields, out)
    return out


def _dead_branches(node: Node, fields: Mapping[str, FieldSpec], out: list[str]) -> None:
    if isinstance(node, Cmp | Calc):
        return
    for i, item in enumerate(node.items):
        if isinstance(node, AnyOf):
            dnf = conjuncts(item)
            if dnf is not None and dnf and all(unsatisfiable_reason(c, fields) for c in dnf):
                out.append(f"branch {i + 1} of 'any' can never hold: {describe(item)}")
                continue
        _dead_branches(item, fields, out)


# --- compilation to durable_rules ------------------------------------------------------------


def encode(spec: FieldSpec, value: Scalar) -> str | int:
    """How a value crosses into durable_rules: text and booleans get distinct string prefixes so
    its loose equality ("1" == 1 == true) can never equate values of different types."""
    if spec.type == "bool":
        return "b:1" if value is True else "b:0"
    if spec.type == "num":
        if not isinstance(value, Decimal):
            raise TypeError(f"number expected, got {value!r}")
        return scaled(value)
    return f"s:{value}"


def to_durable(node: Node, fields: Mapping[str, FieldSpec]) -> dict[str, Any] | None:
    """The durable_rules expression for ``node``; None for the empty (always true) condition.
    A :class:`Calc` is always true here: it is evaluated in Python on what durable matched."""
    if isinstance(node, Calc):
        return None
    if isinstance(node, Cmp):
        return _cmp_to_durable(node, fields[node.field])
    parts = [p for p in (to_durable(n, fields) for n in node.items) if p is not None]
    if isinstance(node, AnyOf) and len(parts) < len(node.items):
        return None  # a branch that always holds makes the whole 'any' hold
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return {"$and" if isinstance(node, AllOf) else "$or": parts}


def _cmp_to_durable(c: Cmp, spec: FieldSpec) -> dict[str, Any]:
    if c.op == "exists":
        return {"$ex" if c.value else "$nex": {c.field: 1}}
    if c.op in ("in", "not_in"):
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        if c.op == "in":
            alts = [{c.field: encode(spec, v)} for v in values]
            return alts[0] if len(alts) == 1 else {"$or": alts}
        nes = [{"$neq": {c.field: encode(spec, v)}} for v in values]
        return nes[0] if len(nes) == 1 else {"$and": nes}
    assert not isinstance(c.value, tuple)
    if c.op == "eq":
        return {c.field: encode(spec, c.value)}
    return {_DURABLE_OPS[c.op]: {c.field: encode(spec, c.value)}}


# --- evaluation in Python (cross-check and why-not only) ------------------------------------


def holds(node: Node, values: FactValues) -> bool:
    if isinstance(node, AllOf):
        return all(holds(n, values) for n in node.items)
    if isinstance(node, AnyOf):
        return any(holds(n, values) for n in node.items)
    if isinstance(node, Calc):
        return calc_holds(node, values)
    return _cmp_holds(node, values)


def has_calc(node: Node) -> bool:
    """Whether ``node`` holds a :class:`Calc` — a part durable_rules does not evaluate (without
    one, :func:`holds` is :func:`holds_compiled`)."""
    if isinstance(node, Calc):
        return True
    if isinstance(node, Cmp):
        return False
    return any(has_calc(n) for n in node.items)


def holds_compiled(node: Node, values: FactValues) -> bool:
    """What durable_rules was asked: the condition with every :class:`Calc` taken as true."""
    if isinstance(node, AllOf):
        return all(holds_compiled(n, values) for n in node.items)
    if isinstance(node, AnyOf):
        return any(holds_compiled(n, values) for n in node.items)
    if isinstance(node, Calc):
        return True
    return _cmp_holds(node, values)


def value_of(e: Expr | Scalar, values: FactValues) -> Scalar | None:
    """An operand's value; None when a field is absent or a division is by zero."""
    if isinstance(e, Ref):
        return values.get(e.key)
    if isinstance(e, Lit):
        return e.value
    if not isinstance(e, Arith):
        return e
    args = [value_of(a, values) for a in e.args]
    nums = [a for a in args if isinstance(a, Decimal) and not isinstance(a, bool)]
    if len(nums) != len(args):
        return None
    acc = nums[0]
    for x in nums[1:]:
        if e.op == "add":
            acc = q(acc + x)
        elif e.op == "sub":
            acc = q(acc - x)
        elif e.op == "mul":
            acc = mul(acc, x)
        elif x == 0:
            return None
        else:
            acc = div(acc, x)
    return acc


def calc_holds(c: Calc, values: FactValues) -> bool:
    left = values.get(c.left.key)
    if left is None:
        return False
    if c.op in TAG_OPS:
        tags = set(str(left).split(",")) - {""}
        return (c.right in tags) is (c.op == "has")
    right = value_of(c.right, values)
    if right is None:
        return False
    if c.op == "eq":
        return _same(left, right)
    if c.op == "ne":
        return not _same(left, right)
    if not isinstance(left, Decimal) or not isinstance(right, Decimal):
        return False
    return {"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[c.op]


def _cmp_holds(c: Cmp, values: FactValues) -> bool:
    present = c.field in values
    if c.op == "exists":
        return present is c.value
    if not present:
        return False
    v = values[c.field]
    if c.op == "in":
        return isinstance(c.value, tuple) and any(_same(v, x) for x in c.value)
    if c.op == "not_in":
        return isinstance(c.value, tuple) and not any(_same(v, x) for x in c.value)
    if c.op == "eq":
        return _same(v, c.value)
    if c.op == "ne":
        return not _same(v, c.value)
    if not isinstance(v, Decimal) or not isinstance(c.value, Decimal):
        return False
    return {"lt": v < c.value, "lte": v <= c.value, "gt": v > c.value, "gte": v >= c.value}[c.op]


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def failing_parts(node: Node, values: FactValues) -> list[str]:
    """The top-level parts of a condition that a fact fails, each with the fact's own value."""
    items = node.items if isinstance(node, AllOf) else (node,)
    out = []
    for item in items:
        if holds(item, values):
            continue
        if isinstance(item, Cmp | Calc):
            key = item.field if isinstance(item, Cmp) else item.left.key
            have = _show(values[key]) if key in values else "absent"
            if isinstance(item, Calc) and isinstance(item.right, Ref | Arith):
                other = value_of(item.right, values)
                have += f"; {_show_expr(item.right)}: {_show(other) if other is not None else 'absent'}"
            out.append(f"{item.describe()} (fact: {have})")
        else:
            out.append(f"({describe(item)})")
    return out


def keys_read(node: Node) -> set[str]:
    """Every value key a condition reads (``field`` or ``field@INDICATOR``)."""
    if isinstance(node, AllOf | AnyOf):
        return {k for n in node.items for k in keys_read(n)}
    if isinstance(node, Cmp):
        return {node.field}
    return {node.left.key} | _expr_keys(node.right)


def _expr_keys(e: Expr | Scalar) -> set[str]:
    if isinstance(e, Ref):
        return {e.key}
    if isinstance(e, Arith):
        return {k for a in e.args for k in _expr_keys(a)}
    return set()


def indicators_referenced(node: Node) -> set[str]:
    """Indicator codes named by cross-indicator references (checked against the snapshot)."""
    return {k.partition("@")[2] for k in keys_read(node) if "@" in k}
