"""A second, deliberately plain reading of the rule semantics — no durable_rules, no engine code.

It reads the pack's YAML itself (PyYAML, numbers via str → Decimal) and the snapshot dataclasses,
and computes, with loops and dicts, the firings and totals for year runs of the shapes the
property test generates: score rules by the indicator's method (pass_fail, proportional,
control_line), bonus/deduction rules on events with fixed or by-level points, multiply_by,
dedupe at the highest points, documents required for bonuses, displacement between event rules,
and bucket caps taken from the last firing in (rule id, fact id) order; bonus/deduction rules on
targets whose conditions compare two fields, do arithmetic ({add|mul: [...]}, each step rounded
to four places) or read the category's / all units' average completion and another indicator's
rank (``rank@A``), with shared deductions (co-units without a share take the pack's
``co_unit_share``); not-applicable items (full marks, or the section rescaled). If this and the
engine disagree, one of them is wrong.
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


def dec(x: Any) -> Decimal:
    return Decimal(str(x))


def operand(x: Any, values: dict[str, Any]) -> Any:
    """A comparison's right side: a number, {field[, indicator]}, or {add|sub|mul|div: [...]} whose
    strings name fields; each arithmetic step rounded to four places; None if anything is absent."""
    if isinstance(x, int | float) and not isinstance(x, bool):
        return dec(x)
    if isinstance(x, str):
        return values.get(x)
    if "field" in x:
        return values.get(x["field"] + (f"@{x['indicator']}" if "indicator" in x else ""))
    ((op, args),) = x.items()
    nums = [operand(a, values) for a in args]
    if any(n is None for n in nums):
        return None
    acc = nums[0]
    for n in nums[1:]:
        if op == "div" and n == 0:
            return None
        acc = r4({"add": acc + n, "sub": acc - n, "mul": acc * n}[op] if op != "div" else acc / n)
    return acc


def test(field: str, spec: Any, values: dict[str, Any]) -> bool:
    if not isinstance(spec, dict):
        spec = {"eq": spec}
    for op, want in spec.items():
        if isinstance(want, dict):
            want = operand(want, values)
            if want is None:
                return False
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
        if op == "gt" and not have > want:
            return False
        if op == "lte" and not have <= want:
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


def target_values(s: Snapshot, na: set[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Each live target's values: completion (above 100 = better than the target, either way), the
    averages in its category and over all units, its rank in the category by completion (higher
    first, whatever the direction; ties share), and rank@OTHER for each
    other indicator of the same unit."""
    units = {u.code: u for u in s.units}
    higher = {i.code: i.direction == "higher" for i in s.indicators}
    end = {(r.unit, r.indicator): r.value for r in s.reports if r.period == f"{s.year}-12"}
    out: dict[str, dict[str, Any]] = {}
    for t in s.targets:
        if (t.unit, t.indicator) in na:
            continue
        v: dict[str, Any] = {"unit": t.unit, "indicator": t.indicator, "annual": t.annual_value}
        v["category"] = units[t.unit].category
        if (t.unit, t.indicator) in end:
            v["actual"] = end[(t.unit, t.indicator)]
            if higher[t.indicator]:  # actual ÷ target
                v["completion_pct"] = r4(v["actual"] * 100 / t.annual_value)
            else:  # 100 % plus how far below the target (minus how far above), in % of it
                v["completion_pct"] = 100 + r4((t.annual_value - v["actual"]) * 100 / t.annual_value)
        out[t.id] = v
    done = [v for v in out.values() if "completion_pct" in v]
    for v in done:
        same_ind = [w for w in done if w["indicator"] == v["indicator"]]
        same_cat = [w for w in same_ind if w["category"] == v["category"]]
        v["all_avg_pct"] = r4(sum(w["completion_pct"] for w in same_ind) / len(same_ind))
        v["category_avg_pct"] = r4(sum(w["completion_pct"] for w in same_cat) / len(same_cat))
        v["rank"] = Decimal(1 + sum(1 for w in same_cat if w["completion_pct"] > v["completion_pct"]))
    for v in out.values():
        for w in done:
            if w["unit"] == v["unit"] and w["indicator"] != v["indicator"]:
                v[f"rank@{w['indicator']}"] = w["rank"]
    return out


def shared_rows(rule: dict[str, Any], pack: dict[str, Any], t: Any, points: Decimal) -> list[dict[str, Any]]:
    """A target deduction's firings: the lead's, then each co-unit's share (0 → the pack's default)."""
    eff = rule["effect"]
    row = {"rule": rule, "fact": t.id, "kind": rule["kind"]}
    if not eff.get("shared") or not t.co_units:
        return [{**row, "unit": t.unit, "points": points}]
    default = pack.get("co_unit_share")
    shares = [(u, dec(default) if share == 0 and default is not None else share) for u, share in t.co_units]
    lead = Decimal(1) if eff["shared"] == "additional" else 1 - sum(x for _, x in shares)
    if lead < 0:
        return [{**row, "unit": t.unit, "kind": "gap", "points": Decimal(0)}]
    return [{**row, "unit": t.unit, "points": r4(points * lead)}] + [
        {**row, "unit": u, "points": r4(points * x)} for u, x in shares
    ]


def reference(pack_text: str, s: Snapshot) -> tuple[set[tuple[str, str, str, Decimal]], dict[str, Decimal]]:
    """(firings as (rule id, unit, fact id, points after caps), totals by unit)."""
    pack = yaml.safe_load(pack_text)
    caps = {code: Decimal(str(b["cap"])) for code, b in (pack.get("buckets") or {}).items() if "cap" in b}
    na = {
        (u, item["indicator"]): item.get("treatment", "rescale")
        for item in pack.get("not_applicable") or ()
        for u in item["units"]
    }
    targets = target_values(s, set(na))
    rows: list[dict[str, Any]] = []
    for r in pack["rules"]:  # YAML 1.1 reads the key `on` as true
        r["on"] = r.get("on", r.get(True))
    event_rules = [r for r in pack["rules"] if r["on"] == "event"]
    matched = {
        e.id: [r["id"] for r in event_rules if holds(r.get("when"), event_values(e))] for e in s.events
    }
    for rule in pack["rules"]:
        if rule["kind"] == "score":
            for t in s.targets:
                ind = next(i for i in s.indicators if i.code == t.indicator)
                v = targets.get(t.id)
                if v is not None and "actual" in v:
                    rows.append(
                        {
                            "rule": rule,
                            "unit": t.unit,
                            "fact": t.id,
                            "kind": "score",
                            "points": method_score(ind.method, ind.points, t.annual_value, v["actual"]),
                        }
                    )
            continue
        if rule["on"] == "target":
            for t in s.targets:
                if t.id in targets and holds(rule.get("when"), targets[t.id]):
                    rows.extend(shared_rows(rule, pack, t, dec(rule["effect"]["points"])))
            continue
        for e in s.events:
            v = event_values(e)
            if not holds(rule.get("when"), v):
                continue
            rivals = [r for r in event_rules if r["id"] in matched[e.id]]
            if any(rule["id"] in (r.get("displaces") or ()) for r in rivals):
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
    earned = {u.code: Decimal(0) for u in s.units}
    out_of = {u.code: Decimal(100) for u in s.units}
    for x in rows:
        (earned if x["kind"] == "score" else totals)[x["unit"]] += x["points"]
    for (u, code), treatment in na.items():
        points = next(i.points for i in s.indicators if i.code == code)
        if treatment == "full_marks":
            earned[u] += points
        else:
            out_of[u] -= points
    for u in totals:
        totals[u] += r4(100 * earned[u] / out_of[u])
    return firings, {u: r4(t) for u, t in totals.items()}
