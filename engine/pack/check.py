"""Validating a loaded pack against a scheme's codes (a snapshot's units, categories, indicators).

Separate from loading because a pack is written before the year's facts exist; a run always
validates against its own snapshot first.
"""

from __future__ import annotations

from decimal import Decimal

from engine.facts import Snapshot
from engine.pack.conditions import Calc, Cmp, Node, indicators_referenced
from engine.pack.errors import Issues, PackError, Path
from engine.pack.model import RulePack
from engine.pack.schema import FIELDS
from engine.pack.scoring import check_params, direction_problem


def _cmps(node: Node) -> list[Cmp]:
    if isinstance(node, Cmp):
        return [node]
    if isinstance(node, Calc):
        return []
    return [c for n in node.items for c in _cmps(n)]


def _tags_tested(node: Node) -> set[str]:
    if isinstance(node, Calc):
        return {str(node.right)} if node.op in ("has", "lacks") else set()
    if isinstance(node, Cmp):
        return set()
    return {t for n in node.items for t in _tags_tested(n)}


def validate_pack(pack: RulePack, snapshot: Snapshot) -> None:
    """Raise PackError if the pack names a code the snapshot does not have or the weights are off."""
    issues = Issues(pack.filename, dict(pack.marks))
    known = {
        "unit": {u.code for u in snapshot.units},
        "indicator": {i.code for i in snapshot.indicators},
        "category": {c.code for c in snapshot.categories},
        "section": {s.code for c in snapshot.categories for s in c.sections}
        | {i.section for i in snapshot.indicators},
    }

    known_tags = {t for u in snapshot.units for t in u.tags} | {
        t for c in snapshot.categories for t in c.tags
    }

    def need(kind: str, code: str, path: Path, field: str, rule_id: str | None = None) -> None:
        if code not in known[kind]:
            issues.add(path, f"unknown {kind} '{code}'", rule_id, field)

    if pack.scheme is not None and pack.scheme != snapshot.scheme_code:
        issues.add(
            ("scheme",), f"the pack is for scheme {pack.scheme}, not {snapshot.scheme_code}", None, "scheme"
        )
    for i, rule in enumerate(pack.rules):
        path: Path = ("rules", i)
        for c in _cmps(rule.when):
            kind = FIELDS[rule.on][c.field].code
            if kind is None or c.op == "exists":
                continue
            for v in c.value if isinstance(c.value, tuple) else (c.value,):
                need(kind, str(v), (*path, "when", c.field), f"when.{c.field}", rule.id)
        for code in sorted(indicators_referenced(rule.when)):
            need("indicator", code, (*path, "when"), "when", rule.id)
        for tag in sorted(_tags_tested(rule.when) - known_tags):
            issues.add(
                (*path, "when", "tags"),
                f"no unit or category has the tag '{tag}' (tags: {', '.join(sorted(known_tags)) or 'none'})",
                rule.id,
                "when.tags",
            )
        if rule.effect.section is not None:
            need("section", rule.effect.section, (*path, "effect", "section"), "effect.section", rule.id)
    for b in pack.buckets:
        for code, _ in b.indicator_caps:
            need(
                "indicator",
                code,
                ("buckets", b.code, "indicator_caps", code),
                f"buckets.{b.code}.indicator_caps",
            )
    for code, sections in pack.categories:
        need("category", code, ("categories", code), f"categories.{code}")
        for s in sections:
            need("section", s.code, ("categories", code, "sections", s.code), f"categories.{code}.sections")
    overridden = {code for code, _ in pack.categories}
    for cat in snapshot.categories:
        total = sum((s.weight for s in cat.sections), Decimal(0))
        if cat.code not in overridden and total != 100:
            issues.add(
                ("categories",),
                f"the scheme's section weights for {cat.code} add up to {total}, not 100 "
                "(give them under categories:)",
                None,
                f"categories.{cat.code}",
            )
    for spec in pack.indicators:
        need("indicator", spec.code, ("indicators", spec.code), f"indicators.{spec.code}")
    for ind in snapshot.indicators:
        own = pack.indicator(ind.code)
        method = own.method if own is not None and own.method is not None else ind.method
        problem = direction_problem(method, ind.direction)
        if problem is not None:
            where = "in the pack" if own is not None and own.method is not None else "in the scheme"
            issues.add(
                ("indicators", ind.code) if where == "in the pack" else ("indicators",),
                f"indicator {ind.code} {where}: {problem}",
                None,
                f"indicators.{ind.code}",
            )
        if own is None or own.method is None:
            try:
                check_params(ind.method, ind.params)
            except ValueError as exc:
                issues.add(
                    ("indicators",),
                    f"indicator {ind.code} in the scheme: {exc}",
                    None,
                    f"indicators.{ind.code}",
                )
    for n, na in enumerate(pack.not_applicable):
        path = ("not_applicable", n)
        need("indicator", na.indicator, (*path, "indicator"), "not_applicable.indicator")
        for u in na.units:
            need("unit", u, (*path, "units"), "not_applicable.units")
        for cat_code in na.categories:
            need("category", cat_code, (*path, "categories"), "not_applicable.categories")
        for tag in sorted(set(na.tags) - known_tags):
            issues.add(
                (*path, "tags"), f"no unit or category has the tag '{tag}'", None, "not_applicable.tags"
            )
    for g in pack.grades:
        if g.category != "*":
            need("category", g.category, ("grades", g.category), f"grades.{g.category}")
        for t in g.tie_break:
            if t.startswith("section:"):
                need(
                    "section",
                    t.split(":", 1)[1],
                    ("grades", g.category, "tie_break"),
                    f"grades.{g.category}.tie_break",
                )
    if issues.found:
        raise PackError(sorted(issues.found, key=lambda i: (i.line, i.field, i.message)))
