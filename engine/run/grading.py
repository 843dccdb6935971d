"""Ranks and grades within a category: thresholds AND rank limits AND quotas, vetoes on top.

Units are ordered by the scheme's tie-break keys and finally by unit code, so the order — and the
rank, which is the place in that order — is total and deterministic. Each unit, best first, takes
the first grade step whose threshold, rank limit and remaining quota admit it and that no veto
bars; a veto that forces a grade overrides all of that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from engine.pack.model import GradeScheme, GradeStep
from engine.values import vocab
from engine.values.decimals import fmt


@dataclass
class Standing:
    unit: str
    total: Decimal
    bonus: Decimal
    deduction: Decimal
    sections: dict[str, Decimal]
    barred_by: list[str] = field(default_factory=list)  # rule ids barring 优秀
    forced: list[tuple[str, str]] = field(default_factory=list)  # (grade, rule id)


@dataclass(frozen=True)
class Graded:
    rank: int
    grade: str | None
    notes: tuple[str, ...]


def _key(s: Standing, ties: tuple[str, ...]) -> tuple[object, ...]:
    parts: list[object] = []
    for t in ties:
        if t == "unit":
            parts.append(s.unit)
        elif t.startswith("section:"):
            parts.append(-s.sections.get(t.split(":", 1)[1], Decimal(0)))
        else:
            parts.append(-{"total": s.total, "bonus": s.bonus, "deduction": s.deduction}[t])
    parts.append(s.unit)
    return tuple(parts)


def quota_size(step: GradeStep, n: int) -> int | None:
    if step.quota_count is not None:
        return step.quota_count
    if step.quota_percent is not None:
        return int((Decimal(n) * step.quota_percent / 100).to_integral_value(rounding=ROUND_FLOOR))
    return None


def rank_and_grade(standings: list[Standing], scheme: GradeScheme | None) -> dict[str, Graded]:
    ties = scheme.tie_break if scheme is not None else ("total",)
    ordered = sorted(standings, key=lambda s: _key(s, ties))
    out: dict[str, Graded] = {}
    used: dict[str, int] = {}
    for rank, s in enumerate(ordered, start=1):
        if scheme is None:
            out[s.unit] = Graded(rank, None, ())
            continue
        notes: list[str] = []
        if s.forced:
            grade, rule_id = max(s.forced, key=lambda f: vocab.GRADES.index(f[0]))
            out[s.unit] = Graded(rank, grade, (f"grade forced to {grade} by veto {rule_id}",))
            continue
        chosen = None
        for step in scheme.steps:
            why = _refusal(step, s, rank, used, len(ordered))
            if why is None:
                chosen = step.grade
                used[step.grade] = used.get(step.grade, 0) + 1
                break
            notes.append(why)
        out[s.unit] = Graded(rank, chosen, tuple(notes))
    return out


def _refusal(step: GradeStep, s: Standing, rank: int, used: dict[str, int], n: int) -> str | None:
    if step.grade == "excellent" and s.barred_by:
        return f"excellent barred by veto {', '.join(sorted(s.barred_by))}"
    if step.min_total is not None and s.total < step.min_total:
        return f"{step.grade} needs a total ≥ {fmt(step.min_total)} (has {fmt(s.total)})"
    if step.max_rank is not None and rank > step.max_rank:
        return f"{step.grade} needs rank ≤ {step.max_rank} (is {rank})"
    size = quota_size(step, n)
    if size is not None and used.get(step.grade, 0) >= size:
        return f"{step.grade} quota of {size} already taken"
    return None
