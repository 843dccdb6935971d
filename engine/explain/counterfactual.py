"""Counterfactuals: the smallest single changes of fact that would change a unit's result.

Each candidate is one change to the frozen snapshot — remove one event the unit was deducted or
vetoed for, raise one lagging report to its schedule, accept one claim the office cut — and is
judged by evaluating the whole modified snapshot under the same pack, never by arithmetic on the
old result (caps, floors, quotas and ranks interact). Candidates come from the unit's own firings
and cuts, in a fixed order, and at most ``max_candidates`` are evaluated, so the answer is bounded
and the same every time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from engine.facts import Snapshot
from engine.pack.load import RulePack
from engine.result import RunResult, ScoreSheet
from engine.run.derived import expected_at
from engine.values import direction as better_way

Evaluate = Callable[[RulePack, Snapshot], RunResult]

KINDS = ("remove_event", "meet_schedule", "accept_claim", "accept_report")
_VETO_WEIGHT = Decimal(100)
"""A veto outranks any points: its candidates are evaluated first when candidates are bounded."""


@dataclass(frozen=True)
class Change:
    """One change of fact: ``kind`` (one of ``KINDS``) applied to fact ``fact_id``."""

    kind: str
    fact_id: str
    rule_id: str  # the rule whose firing or cut suggested it
    weight: Decimal  # |points| of that firing or cut: larger first when candidates are bounded
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class Counterfactual:
    change: Change
    old_total: Decimal
    new_total: Decimal
    old_rank: int | None
    new_rank: int | None
    old_grade: str | None
    new_grade: str | None

    @property
    def delta(self) -> Decimal:
        return self.new_total - self.old_total

    @property
    def grade_changed(self) -> bool:
        return self.old_grade != self.new_grade

    def sort_key(self) -> tuple[int, int, Decimal, str, str]:
        """Grade changes first, then the biggest move in rank, then in total; ties by the fact."""
        rank_move = abs((self.old_rank or 0) - (self.new_rank or 0))
        return (not self.grade_changed, -rank_move, -abs(self.delta), self.change.kind, self.change.fact_id)


def candidates(snapshot: Snapshot, result: RunResult, unit: str) -> tuple[Change, ...]:
    """Every single change the unit's firings and cuts point at, largest effect first."""
    found: dict[tuple[str, str], Change] = {}

    def add(change: Change) -> None:
        key = (change.kind, change.fact_id)
        if key not in found or found[key].weight < change.weight:
            found[key] = change

    targets = {t.id: t for t in snapshot.targets}
    for f in result.firings:
        if f.unit != unit or f.status == "voided" or f.effect not in ("deduction", "veto", "warning"):
            continue
        for m in f.matched:
            if m.type == "event" and f.effect in ("deduction", "veto"):
                weight = abs(f.points) + (_VETO_WEIGHT if f.effect == "veto" else 0)
                add(
                    Change(
                        "remove_event",
                        m.id,
                        f.rule_id,
                        weight,
                        f"若无{'否决' if f.effect == 'veto' else '扣分'}事项 {m.id}（{f.rule_id}）",
                        f"without {f.effect} event {m.id} ({f.rule_id})",
                    )
                )
            elif m.type == "checkpoint" and "@" in m.id:
                target_id, _, when = m.id.rpartition("@")
                if target_id in targets:
                    add(
                        Change(
                            "meet_schedule",
                            m.id,
                            f.rule_id,
                            abs(f.points),
                            f"{f.indicator} {when} 达到序时进度",
                            f"meeting the {when} schedule of {f.indicator}",
                        )
                    )
    events = {e.id: e for e in snapshot.events}
    reports = {r.id: r for r in snapshot.reports}
    for c in result.cuts:
        if c.unit != unit or c.kind != "verification":
            continue
        if c.source in events:
            add(
                Change(
                    "accept_claim",
                    c.source,
                    c.source,
                    abs(c.before - c.after),
                    f"核减的申报 {c.source} 全部认定",
                    f"accepting claim {c.source} as claimed",
                )
            )
        elif c.source in reports:
            add(
                Change(
                    "accept_report",
                    c.source,
                    c.source,
                    abs(c.before - c.after),
                    f"核减的报送 {c.source} 按报送值认定",
                    f"accepting report {c.source} as reported",
                )
            )
    return tuple(sorted(found.values(), key=lambda c: (-c.weight, c.kind, c.fact_id)))


def apply(snapshot: Snapshot, change: Change) -> Snapshot:
    """The snapshot with exactly this one change made."""
    if change.kind == "remove_event":
        kept = tuple(e for e in snapshot.events if e.id != change.fact_id)
        return dataclasses.replace(snapshot, events=kept)
    if change.kind == "accept_claim":
        return dataclasses.replace(
            snapshot,
            events=tuple(
                dataclasses.replace(e, verified_quantity=None) if e.id == change.fact_id else e
                for e in snapshot.events
            ),
        )
    if change.kind == "accept_report":
        return dataclasses.replace(
            snapshot,
            reports=tuple(
                dataclasses.replace(r, verified_value=None, value=r.reported_value)
                if r.id == change.fact_id
                else r
                for r in snapshot.reports
            ),
        )
    if change.kind == "meet_schedule":
        target_id, _, when = change.fact_id.rpartition("@")
        target = next(t for t in snapshot.targets if t.id == target_id)
        expected = expected_at(target, int(when[5:7]), snapshot.year)
        way = next(i.direction for i in snapshot.indicators if i.code == target.indicator)
        return dataclasses.replace(
            snapshot,
            reports=tuple(
                dataclasses.replace(r, value=better_way.toward_schedule(way, r.value, expected))
                if (r.unit, r.indicator, r.period) == (target.unit, target.indicator, when)
                else r
                for r in snapshot.reports
            ),
        )
    raise ValueError(f"unknown change kind {change.kind!r}")


def _key(sheet: ScoreSheet | None) -> tuple[Decimal, int | None, str | None]:
    return (sheet.total, sheet.rank, sheet.grade) if sheet else (Decimal(0), None, None)


def counterfactuals(
    pack: RulePack,
    snapshot: Snapshot,
    result: RunResult,
    unit: str,
    *,
    evaluate: Evaluate,
    limit: int = 10,
    max_candidates: int = 30,
) -> tuple[Counterfactual, ...]:
    """The single changes that move ``unit``'s total, rank or grade, each found by re-evaluating.

    ``result`` is the snapshot's own result under ``pack``; ``evaluate`` is the engine's (passed in
    so a caller may bound or cache it). At most ``max_candidates`` re-evaluations; at most
    ``limit`` results, grade changes first.
    """
    before = _key(result.sheet(unit))
    out = []
    for change in candidates(snapshot, result, unit)[:max_candidates]:
        after = _key(evaluate(pack, apply(snapshot, change)).sheet(unit))
        if after != before:
            out.append(Counterfactual(change, before[0], after[0], before[1], after[1], before[2], after[2]))
    return tuple(sorted(out, key=Counterfactual.sort_key)[:limit])
