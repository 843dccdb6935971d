"""Explanations of a run for one unit: pure functions over a RunResult, plus a zh/en text renderer.

Structure: sections (each with the firings that scored it) → bonuses, deductions, warnings, flags,
gaps → the cuts that took points → the vetoes that limited the grade → (on request) the rules
that were evaluated and did not apply, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.result import Cut, Firing, RunResult, ScoreSheet, SectionScore, VetoNote, WhyNot
from engine.values.decimals import fmt
from engine.values.vocab import GRADE_NAMES_ZH

_GROUPS = ("bonus", "deduction", "veto", "warning", "flag", "gap")
_GROUP_NAMES = {
    "zh": {
        "bonus": "加分",
        "deduction": "扣分",
        "veto": "一票否决",
        "warning": "预警",
        "flag": "结果运用",
        "gap": "缺项",
    },
    "en": {
        "bonus": "Bonuses",
        "deduction": "Deductions",
        "veto": "Vetoes",
        "warning": "Warnings",
        "flag": "Consequences",
        "gap": "Gaps",
    },
}


@dataclass(frozen=True)
class SectionExplanation:
    section: SectionScore
    firings: tuple[Firing, ...]


@dataclass(frozen=True)
class Explanation:
    unit: str
    indicator: str | None
    period: str
    sheet: ScoreSheet | None
    sections: tuple[SectionExplanation, ...]
    groups: tuple[tuple[str, tuple[Firing, ...]], ...]  # (effect, firings) outside sections
    cuts: tuple[Cut, ...]
    vetoes: tuple[VetoNote, ...]
    grade_notes: tuple[str, ...]
    why_not: tuple[WhyNot, ...]


def explain(result: RunResult, unit: str, indicator: str | None = None, why_not: bool = False) -> Explanation:
    """How ``unit``'s result was made (only ``indicator``'s part, if given)."""
    firings = [
        f for f in result.firings if f.unit == unit and (indicator is None or f.indicator == indicator)
    ]
    sheet = result.sheet(unit)
    sections = []
    placed: set[int] = set()
    for s in sheet.sections if sheet else ():
        if indicator is not None and indicator not in s.indicators:
            continue
        mine = tuple(f for f in firings if f.effect == "score" and f.indicator in s.indicators)
        placed.update(f.seq for f in mine)
        sections.append(SectionExplanation(s, mine))
    groups = []
    for effect in ("score", *_GROUPS):
        rest = tuple(f for f in firings if f.effect == effect and f.seq not in placed)
        if rest:
            groups.append((effect, rest))
    seqs = {f.seq for f in firings}
    cuts = tuple(
        c
        for c in result.cuts
        if c.unit == unit
        and (indicator is None or c.indicator == indicator)
        and (not c.seqs or set(c.seqs) & seqs)
    )
    vetoes = sheet.vetoes if sheet else ()
    misses = (
        tuple(
            w
            for w in result.why_not
            if w.unit == unit and (indicator is None or w.indicator in (indicator, None))
        )
        if why_not
        else ()
    )
    return Explanation(
        unit,
        indicator,
        result.period,
        sheet,
        tuple(sections),
        tuple(groups),
        cuts,
        vetoes,
        sheet.grade_notes if sheet else (),
        misses,
    )


def _firing_line(f: Firing, lang: str) -> list[str]:
    text = f.text_zh if lang == "zh" else f.text_en
    pts = f"{fmt(f.points)}" + (f" (raw {fmt(f.raw_points)})" if f.raw_points != f.points else "")
    status = "" if f.status == "applied" else f" [{f.status} {f.override or ''}]".rstrip()
    lines = [f"  #{f.seq} {f.rule_id} v{f.rule_version}: {pts}{status} — {text}"]
    for m in f.matched:
        values = ", ".join(f"{k}={_plain(v)}" for k, v in sorted(m.values.items()))
        lines.append(f"      {m.type} {m.id}: {values}")
    return lines


def _plain(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    from decimal import Decimal

    return fmt(v) if isinstance(v, Decimal) else str(v)


def render_explanation(e: Explanation, lang: str = "zh") -> str:
    """Plain text for a terminal, in Chinese (``zh``) or English (``en``)."""
    zh = lang == "zh"
    out = [f"{'单位' if zh else 'Unit'} {e.unit} · {e.period}" + (f" · {e.indicator}" if e.indicator else "")]
    s = e.sheet
    if s is not None:
        grade = (GRADE_NAMES_ZH.get(s.grade, s.grade) if zh else s.grade) if s.grade else "—"
        terms = [f"{x.code} {fmt(x.score)}" for x in s.sections]  # none in a quarter's or month's run
        terms.append(f"{'加分' if zh else 'bonus'} {fmt(s.bonus)}")
        terms.append(f"{'扣分' if zh else 'deduction'} {fmt(s.deduction)}")
        out.append(f"{'总分' if zh else 'Total'} {fmt(s.total)} = " + " + ".join(terms))
        out.append(
            f"{'排名' if zh else 'Rank'} {s.rank or '—'} · {'等次' if zh else 'Grade'} {grade}"
            + (f" · {'标记' if zh else 'Flags'}: {', '.join(s.flags)}" if s.flags else "")
        )
    for sec in e.sections:
        x = sec.section
        zeroed = f" ({'被否决清零' if zh else 'zeroed by'} {x.zeroed_by})" if x.zeroed_by else ""
        out.append(f"[{x.code}] {fmt(x.weight)} × {fmt(x.earned)}/{fmt(x.full)} = {fmt(x.score)}{zeroed}")
        for f in sec.firings:
            out.extend(_firing_line(f, lang))
    for effect, firings in e.groups:
        out.append(f"[{_GROUP_NAMES[lang].get(effect, effect)}]")
        for f in firings:
            out.extend(_firing_line(f, lang))
    if e.cuts:
        out.append("[核减与封顶]" if zh else "[Cuts]")
        out.extend(
            f"  {c.text_zh if zh else c.text_en}" + (f" (#{', #'.join(map(str, c.seqs))})" if c.seqs else "")
            for c in e.cuts
        )
    if e.vetoes or e.grade_notes:
        out.append("[等次限制]" if zh else "[Grade limits]")
        out.extend(
            f"  {'否决' if zh else 'veto'} {v.rule_id} (#{v.seq}): {v.consequence}"
            + (f" {v.grade}" if v.grade else "")
            + (f" {v.section}" if v.section else "")
            for v in e.vetoes
        )
        out.extend(f"  {n}" for n in e.grade_notes)
    if e.why_not:
        out.append("[未适用的规则]" if zh else "[Rules that did not apply]")
        out.extend(f"  {w.rule_id}: {w.text_zh if zh else w.text_en}" for w in e.why_not)
    return "\n".join(out) + "\n"
