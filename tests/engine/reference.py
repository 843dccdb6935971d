"""A second, deliberately plain reading of the rule semantics — no durable_rules, no engine code.

It reads the pack's YAML itself (PyYAML, numbers via str → Decimal) and the snapshot dataclasses,
and computes, with loops and dicts, the firings and totals for year runs of the shapes the
property test generates: score rules by the indicator's method (pass_fail, proportional,
control_line), bonus/deduction rules on events with fixed or by-level points, multiply_by,
dedupe at the highest points, documents required for bonuses, and bucket caps taken from the
last firing in (rule id, fact id) order. If this and the engine disagree, one of them is wrong.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import yaml

from engine.facts import EventFact, Snapshot

FOUR = Decimal("0.0001")


def r4(x: Decimal) -> Decimal:
    return x.quantize(FOUR, rounding=ROUND_HALF_UP)


def event_values(e: EventFact) -> dict[str, Any]:
    v: dict[str, Any] = {
        "kind": e.kind,
        "event_type": e.event_type,
        "documented": bool(e.document_no),
        "unit": e.unit,
    }
    if e.level is not None:
        v["level"] = e.level
    q = e.verified_quantity if e.verified_quantity is not None else e.quantity
    if q is not None:
        v["quantity"] = q
    return v


def test(field: str, spec: Any, values: dict[str, Any]) -> bool:
    if not isinstance(spec, dict):
        spec = {"eq": spec}
    for op, want in spec.items():
        if op == "exists":
            if (field in values) != want:
                return False
            continue
        if field not in values:
            return False
        have = values[field]
        if isinstance(want, float | int) and not isinstance(want, bool):
            want = Decimal(str(want))
        if op == "eq" and not (type(have) is type(want) and have == want):
            return False
        if op == "in" and have not in want:
            return False
        if op == "gte" and not have >= want:
            return False
        if op == "lt" and not have < want:
            return False
    return True


def holds(when: dict[str, Any] | None, values: dict[str, Any]) -> bool:
    return all(test(f, spec, values) for f, spec in (when or {}).items())


def method_score(method: str, points: Decimal, annual: Decimal, actual: Decimal) -> Decimal:
    if method == "pass_fail":
        return points if actual >= annual else Decimal(0)
    if method == "control_line":
        return points if actual <= annual else Decimal(0)
    # proportional, ceiling 1
    if annual == 0:
        return Decimal(0)
    return max(Decimal(0), min(r4(points * actual / annual), points))


def reference(pack_text: str, s: Snapshot) -> tuple[set[tuple[str, str, str, Decimal]], dict[str, Decimal]]:
    """(firings as (rule id, unit, fact id, points after caps), totals by unit)."""
    pack = yaml.safe_load(pack_text)
    caps = {code: Decimal(str(b["cap"])) for code, b in (pack.get("buckets") or {}).items() if "cap" in b}
    rows: list[dict[str, Any]] = []
    for rule in pack["rules"]:
        if rule["kind"] == "score":
            for t in s.targets:
                ind = next(i for i in s.indicators if i.code == t.indicator)
                rep = next(
                    (
                        r
                        for r in s.reports
                        if r.unit == t.unit and r.indicator == t.indicator and r.period == f"{s.year}-12"
                    ),
                    None,
                )
                if rep is not None:
                    rows.append(
                        {
                            "rule": rule,
                            "unit": t.unit,
                            "fact": t.id,
                            "kind": "score",
                            "points": method_score(ind.method, ind.points, t.annual_value, rep.value),
                        }
                    )
            continue
        for e in s.events:
            v = event_values(e)
            if not holds(rule.get("when"), v):
                continue
            if rule["kind"] == "bonus" and not v["documented"]:
                continue
            eff = rule["effect"]
            pts = eff["points"]
            if isinstance(pts, dict):
                table = {k: Decimal(str(x)) for k, x in pts["table"].items()}
                if v.get(pts["by"]) not in table:
                    rows.append(
                        {"rule": rule, "unit": e.unit, "fact": e.id, "kind": "gap", "points": Decimal(0)}
                    )
                    continue
                base = table[v[pts["by"]]]
            else:
                base = Decimal(str(pts))
            if eff.get("multiply_by"):
                if "quantity" not in v:
                    rows.append(
                        {"rule": rule, "unit": e.unit, "fact": e.id, "kind": "gap", "points": Decimal(0)}
                    )
                    continue
                base = base * v["quantity"]
            rows.append(
                {
                    "rule": rule,
                    "unit": e.unit,
                    "fact": e.id,
                    "kind": rule["kind"],
                    "points": r4(base),
                    "dedupe": e.dedupe_key if eff.get("dedupe") else None,
                }
            )
    # the same honour once per unit, at its highest points (ties: lowest fact id, then rule id)
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda x: (-x["points"], x["fact"], x["rule"]["id"])):
        if row.get("dedupe"):
            best.setdefault((row["unit"], row["dedupe"]), row)
    rows = [x for x in rows if not x.get("dedupe") or best[(x["unit"], x["dedupe"])] is x]
    # bucket caps, taking points from the last firings first
    for code, cap in caps.items():
        for u in {x["unit"] for x in rows}:
            group = sorted(
                (x for x in rows if x["unit"] == u and x["rule"].get("bucket") == code),
                key=lambda x: (x["rule"]["id"], x["fact"]),
            )
            excess = abs(sum((x["points"] for x in group), Decimal(0))) - cap
            for x in reversed(group):
                if excess <= 0:
                    break
                give = min(abs(x["points"]), excess)
                x["points"] = x["points"] - give if x["points"] > 0 else x["points"] + give
                excess -= give
    firings = {
        (
            x["rule"]["id"] if x["kind"] != "gap" else "gap." + x["rule"]["id"],
            x["unit"],
            x["fact"],
            x["points"],
        )
        for x in rows
    }
    totals = {u.code: Decimal(0) for u in s.units}
    for x in rows:
        totals[x["unit"]] += x["points"]
    return firings, {u: r4(t) for u, t in totals.items()}
