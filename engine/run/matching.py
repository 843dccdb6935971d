"""Matching derived facts against a pack's conditions through durable_rules.

A pack compiles to one ruleset per fact type (split in chunks of ``CHUNK`` rules: large rulesets
hit durable's error 303), named ``name@version.<hash prefix>.<fact type>.<chunk>`` and cached by
name. Facts are matched one unit at a time in a short-lived session. Every match durable reports
is re-checked against the condition in Python: a false match (loose equality, a session shared
through a hash collision) stops the run instead of scoring.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.pack.conditions import encode, has_calc, holds, holds_compiled, keys_read, to_durable
from engine.pack.model import Rule, RulePack
from engine.pack.schema import FIELDS
from engine.run.derived import DerivedFact
from engine.run.durable_host import DurableError, Match, RuleSpec, host
from engine.run.forked import Forked, WorkerError
from engine.run.progress import Progress, silent

CHUNK = 200


@dataclass(frozen=True)
class CompiledRuleset:
    name: str
    fact_type: str
    specs: tuple[RuleSpec, ...]
    fields: tuple[str, ...]  # the fields its conditions compare: all a message needs to carry


def ruleset_name(pack: RulePack, fact_type: str, chunk: int) -> str:
    return f"{pack.ref}.{pack.sha256[:12]}.{fact_type}.{chunk}"


def compile_rules(pack: RulePack, fact_type: str) -> tuple[CompiledRuleset, ...]:
    """The durable rulesets for ``fact_type``: plain data, plus the closures' identities."""
    rules = [r for r in pack.rules if r.on == fact_type]
    fields = FIELDS[fact_type]
    out = []
    for chunk, start in enumerate(range(0, len(rules), CHUNK)):
        specs = []
        read: set[str] = set()
        for i, rule in enumerate(rules[start : start + CHUNK]):
            condition = to_durable(rule.when, fields)
            typed: dict[str, Any] = {"t": f"s:{fact_type}"}
            expression = typed if condition is None else {"$and": [typed, condition]}
            specs.append(RuleSpec(f"r{start + i}", rule.id, rule.version, pack.sha256, expression))
            read |= keys_read(rule.when) & fields.keys()
        name = ruleset_name(pack, fact_type, chunk)
        out.append(CompiledRuleset(name, fact_type, tuple(specs), tuple(sorted(read))))
    return tuple(out)


def encode_fact(fact: DerivedFact, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The message durable_rules matches ``fact`` by: its type and the ``fields`` (default: all
    the fact has) the conditions compare. ``field@INDICATOR`` keys never go: a Calc reads them in
    Python. A field a ruleset never compares is left out (a checkpoint has 17, rules read 3)."""
    specs = FIELDS[fact.type]
    values = fact.values
    message: dict[str, Any] = {"t": f"s:{fact.type}"}
    for name in values if fields is None else fields:
        if name in specs and name in values:
            message[name] = encode(specs[name], values[name])
    return message


def match_facts(
    pack: RulePack, fact_type: str, facts: Iterable[DerivedFact], progress: Progress = silent
) -> list[tuple[Rule, DerivedFact]]:
    """Every (rule, fact) pair whose condition holds, in a canonical order.

    Units are independent here (one session each), so a large batch is split by unit across
    ``WORKERS`` forked processes, each with its own copy of the (single-threaded) durable engine;
    the pairs come back by id and are merged in the same canonical order as a serial match."""
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
    units = sorted(by_unit)
    phase, total = f"match {fact_type}", len(units)
    progress(phase, 0, total)
    size = sum(len(v) for v in by_unit.values())
    workers = min(WORKERS, len(units)) if size >= PARALLEL_MIN else 1
    if workers > 1:
        pairs = _match_forked(rulesets, rules, by_unit, units, workers, phase, progress)
    else:
        pairs = _match_units(rulesets, rules, by_unit, units, lambda n: progress(phase, n, total))
    out = [(rules[rule_id], fact) for rule_id, fact in pairs]
    out.sort(key=lambda pair: (pair[1].unit, pair[1].id, pair[0].id))
    return out


# Facts in one call from which the match is split across processes (below it, forking costs more).
PARALLEL_MIN = 20_000
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _match_units(
    rulesets: tuple[CompiledRuleset, ...],
    rules: dict[str, Rule],
    by_unit: dict[str, list[DerivedFact]],
    units: list[str],
    done: Callable[[int], None],
) -> list[tuple[str, DerivedFact]]:
    """(rule id, fact) for every checked match of ``units``' facts, one session per unit."""
    h = host()
    out: list[tuple[str, DerivedFact]] = []
    # Rules with a part durable did not evaluate: only their matches are evaluated again in full
    # (every match's compiled part is re-checked by _checked).
    calcs = {rule_id for rule_id, rule in rules.items() if has_calc(rule.when)}
    for n, unit in enumerate(units, start=1):
        unit_facts = {f.id: f for f in sorted(by_unit[unit], key=lambda f: f.id)}
        seen: set[tuple[str, str]] = set()
        for rs in rulesets:
            messages = [(fid, encode_fact(f, rs.fields)) for fid, f in unit_facts.items()]
            for m in h.run_session(rs.name, messages):
                rule, fact = _checked(m, rules, unit_facts, seen)
                if rule.id not in calcs or holds(rule.when, fact.values):
                    out.append((rule.id, fact))
        if n % 50 == 0 or n == len(units):
            done(n)
    return out


def _match_forked(
    rulesets: tuple[CompiledRuleset, ...],
    rules: dict[str, Rule],
    by_unit: dict[str, list[DerivedFact]],
    units: list[str],
    workers: int,
    phase: str,
    progress: Progress,
) -> list[tuple[str, DerivedFact]]:
    """Contiguous slices of ``units`` matched in forked children (the last slice in this process).

    A child inherits the facts and the registered rulesets, matches its slice and sends back
    (unit index, fact index, rule id) triples and its message count — or the error that stopped it,
    which is raised here: a failed worker fails the run."""
    ctx = mp.get_context("fork")
    bounds = [len(units) * i // workers for i in range(workers + 1)]
    slices = [units[bounds[i] : bounds[i + 1]] for i in range(workers)]
    counters = [ctx.Value("i", 0) for _ in slices]

    def report() -> None:
        progress(phase, sum(c.value for c in counters), len(units))

    children = [
        (Forked(functools.partial(_match_slice, rulesets, rules, by_unit, part, counter)), part)
        for part, counter in zip(slices[:-1], counters, strict=False)
    ]

    def own(n: int) -> None:
        counters[-1].value = n
        report()

    merged: list[tuple[str, DerivedFact]] = []
    try:
        out = _match_units(rulesets, rules, by_unit, slices[-1], own)
        h = host()
        for child, part in children:
            try:
                triples, messages = child.result()
            except WorkerError as exc:
                raise DurableError(f"match {exc}") from exc
            h.messages += messages
            for unit_index, fact_index, rule_id in triples:
                merged.append((rule_id, by_unit[part[unit_index]][fact_index]))
    finally:  # when this process's slice or a worker failed, the other workers are stopped
        for child, _ in children:
            child.cancel()
    report()
    return merged + out


def _match_slice(
    rulesets: tuple[CompiledRuleset, ...],
    rules: dict[str, Rule],
    by_unit: dict[str, list[DerivedFact]],
    units: list[str],
    counter: Any,
) -> tuple[list[tuple[int, int, str]], int]:
    """In a forked child: the slice's matches as (unit index, fact index, rule id) — the facts
    are the parent's, found by place — and the durable messages it posted."""
    h = host()
    before = h.messages

    def done(n: int) -> None:
        counter.value = n

    pairs = _match_units(rulesets, rules, by_unit, units, done)
    where = {id(f): (u, i) for u, unit in enumerate(units) for i, f in enumerate(by_unit[unit])}
    return [(*where[id(f)], rule_id) for rule_id, f in pairs], h.messages - before


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
