"""Rule conditions: a small declarative language over one fact type's fields.

The same tree is (1) checked at load (types, vocabularies, satisfiability), (2) compiled to a
durable_rules expression, and (3) evaluated in Python — only to double-check what durable_rules
reports and to explain why a rule did not apply, never as the matcher itself.

A comparison on a field the fact does not have never holds (as in durable_rules); ``exists``
tests presence.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.decimals import check_decimal, fmt, scaled
from engine.packerrors import Issues, Path
from engine.schema import FieldSpec

Scalar = str | Decimal | bool
FactValues = Mapping[str, Scalar]

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists")
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
}
_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_MAX_CONJUNCTS = 512


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


Node = Cmp | AllOf | AnyOf


def _show(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return fmt(value)
    return value


def describe(node: Node) -> str:
    if isinstance(node, Cmp):
        return node.describe()
    joiner = " and " if isinstance(node, AllOf) else " or "
    parts = [describe(n) if isinstance(n, Cmp) else f"({describe(n)})" for n in node.items]
    return joiner.join(parts) if parts else "always"


# --- parsing ---------------------------------------------------------------------------------


def parse_condition(
    data: Any, fields: Mapping[str, FieldSpec], path: Path, issues: Issues, rule_id: str | None
) -> Node:
    """``data`` is the YAML ``when`` mapping: entries are and-ed; ``any``/``all`` hold lists."""
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
            subs = tuple(
                _unwrap(parse_condition(v, fields, (*kpath, i), issues, rule_id)) for i, v in enumerate(value)
            )
            items.append(AnyOf(subs) if key == "any" else AllOf(subs))
            continue
        spec = fields.get(key)
        if spec is None:
            issues.add(
                kpath, f"unknown field '{key}' (known: {', '.join(sorted(fields))})", rule_id, f"when.{key}"
            )
            continue
        if isinstance(value, dict):
            if not value:
                issues.add(kpath, "an empty comparison", rule_id, f"when.{key}")
            for op, operand in value.items():
                cmp = _parse_cmp(key, spec, op, operand, (*kpath, op), issues, rule_id)
                if cmp is not None:
                    items.append(cmp)
        else:
            cmp = _parse_cmp(key, spec, "eq", value, kpath, issues, rule_id)
            if cmp is not None:
                items.append(cmp)
    return AllOf(tuple(items))


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


def conjuncts(node: Node) -> list[list[Cmp]] | None:
    """Disjunctive normal form, or None when it would be too large to check."""
    if isinstance(node, Cmp):
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


def unsatisfiable_reason(cmps: list[Cmp], fields: Mapping[str, FieldSpec]) -> str | None:
    """Why a conjunction of comparisons can never hold, or None if some fact could satisfy it."""
    by_field: dict[str, list[Cmp]] = {}
    for c in cmps:
        by_field.setdefault(c.field, []).append(c)
    for name, group in by_field.items():
        reason = _field_unsat(group, fields[name])
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
    if isinstance(node, Cmp):
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
    """The durable_rules expression for ``node``; None for the empty (always true) condition."""
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
    return _cmp_holds(node, values)


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
        if isinstance(item, Cmp):
            have = _show(values[item.field]) if item.field in values else "absent"
            out.append(f"{item.describe()} (fact: {have})")
        else:
            out.append(f"({describe(item)})")
    return out
