"""Matching derived facts against a pack's conditions through durable_rules.

A pack compiles to one ruleset per fact type (split in chunks of ``CHUNK`` rules: large rulesets
hit durable's error 303), named ``name@version.<hash prefix>.<fact type>.<chunk>`` and cached by
name. Facts are matched one unit at a time in a short-lived session. Every match durable reports
is re-checked against the condition in Python: a false match (loose equality, a session shared
through a hash collision) stops the run instead of scoring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.conditions import encode, holds, holds_compiled, to_durable
from engine.derive import DerivedFact
from engine.durable_host import DurableError, Match, RuleSpec, host
from engine.packmodel import Rule, RulePack
from engine.progress import Progress, silent
from engine.schema import FIELDS

CHUNK = 200


@dataclass(frozen=True)
class CompiledRuleset:
    name: str
    fact_type: str
    specs: tuple[RuleSpec, ...]


def ruleset_name(pack: RulePack, fact_type: str, chunk: int) -> str:
    return f"{pack.ref}.{pack.sha256[:12]}.{fact_type}.{chunk}"


def compile_rules(pack: RulePack, fact_type: str) -> tuple[CompiledRuleset, ...]:
    """The durable rulesets for ``fact_type``: plain data, plus the closures' identities."""
    rules = [r for r in pack.rules if r.on == fact_type]
    fields = FIELDS[fact_type]
    out = []
    for chunk, start in enumerate(range(0, len(rules), CHUNK)):
        specs = []
        for i, rule in enumerate(rules[start : start + CHUNK]):
            condition = to_durable(rule.when, fields)
            typed: dict[str, Any] = {"t": f"s:{fact_type}"}
            expression = typed if condition is None else {"$and": [typed, condition]}
            specs.append(RuleSpec(f"r{start + i}", rule.id, rule.version, pack.sha256, expression))
        out.append(CompiledRuleset(ruleset_name(pack, fact_type, chunk), fact_type, tuple(specs)))
    return tuple(out)


def encode_fact(fact: DerivedFact) -> dict[str, Any]:
    fields = FIELDS[fact.type]
    message: dict[str, Any] = {"t": f"s:{fact.type}"}
    for name, value in fact.values.items():
        if name in fields:  # not ``field@INDICATOR`` keys: those are read in Python (a Calc)
            message[name] = encode(fields[name], value)
    return message


def match_facts(
    pack: RulePack, fact_type: str, facts: Iterable[DerivedFact], progress: Progress = silent
) -> list[tuple[Rule, DerivedFact]]:
    """Every (rule, fact) pair whose condition holds, in a canonical order."""
    rulesets = compile_rules(pack, fact_type)
    if not rulesets:
        return []
    h = host()
    for rs in rulesets:
        h.ensure_ruleset(rs.name, rs.specs)
    by_unit: dict[str, list[DerivedFact]] = {}
    for fact in facts:
        by_unit.setdefault(fact.unit, []).append(fact)
    rules = {r.id: r for r in pack.rules}
    out: list[tuple[Rule, DerivedFact]] = []
    phase, total = f"match {fact_type}", len(by_unit)
    progress(phase, 0, total)
    for done, unit in enumerate(sorted(by_unit), start=1):
        unit_facts = {f.id: f for f in sorted(by_unit[unit], key=lambda f: f.id)}
        messages = [(fid, encode_fact(f)) for fid, f in unit_facts.items()]
        seen: set[tuple[str, str]] = set()
        for rs in rulesets:
            for m in h.run_session(rs.name, messages):
                rule, fact = _checked(m, rules, unit_facts, seen)
                if holds(rule.when, fact.values):  # the Calc parts durable did not evaluate
                    out.append((rule, fact))
        if done % 50 == 0 or done == total:
            progress(phase, done, total)
    out.sort(key=lambda pair: (pair[1].unit, pair[1].id, pair[0].id))
    return out


def _checked(
    m: Match, rules: dict[str, Rule], facts: dict[str, DerivedFact], seen: set[tuple[str, str]]
) -> tuple[Rule, DerivedFact]:
    rule, fact = rules.get(m.rule_id), facts.get(m.fact_id)
    if rule is None or fact is None:
        raise DurableError(f"durable_rules reported an unknown match {m}")
    if (rule.id, fact.id) in seen:
        raise DurableError(f"durable_rules reported rule {rule.id} on fact {fact.id} twice")
    seen.add((rule.id, fact.id))
    if not holds_compiled(rule.when, fact.values):
        raise DurableError(
            f"durable_rules matched rule {rule.id} to fact {fact.id}, but its condition does not hold"
        )
    return rule, fact
