"""``evaluate(pack, snapshot) -> RunResult``: one assessment run, start to finish.

derive facts → match through durable_rules → effects in exact Python → overrides, caps, resets,
floors → score sheets → ranks and grades → consequence flags (a second match, over the sheets) →
canonical order, seq, texts, run hash. The same snapshot and pack give the same bytes whatever
order the snapshot's collections came in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from decimal import Decimal

from engine.facts import ReportFact, Snapshot
from engine.pack.check import validate_pack
from engine.pack.conditions import failing_parts
from engine.pack.model import Rule, RulePack
from engine.pack.schema import FIELDS
from engine.result import (
    Cut,
    Firing,
    MatchedFact,
    RunResult,
    ScoreSheet,
    WhyNot,
    canonical_parts,
    run_hash,
)
from engine.run import adjust, matching, sheetrules
from engine.run.compose import enrich_sheets
from engine.run.derive import derive
from engine.run.derived import Derived, DerivedFact
from engine.run.drafts import Draft, Ledger
from engine.run.effects import displace, make_drafts
from engine.run.forked import Forked
from engine.run.grading import Standing, rank_and_grade
from engine.run.matching import match_facts
from engine.run.progress import Progress, silent
from engine.run.render import texts
from engine.run.sheets import SheetDraft, build_sheets
from engine.run.snapshot_check import check_snapshot
from engine.values.decimals import fmt
from engine.values.periods import PeriodError, parse_period

_MATCHED_TYPES = ("target", "checkpoint", "event")
_WHY_NOT_FACTS = 3


def active_rules(pack: RulePack, period_kind: str) -> list[Rule]:
    """Rules a run of this kind evaluates: month runs give warnings only."""
    return [
        r for r in pack.rules if period_kind in r.periods and (period_kind != "month" or r.kind == "warning")
    ]


def evaluate(
    pack: RulePack,
    snapshot: Snapshot,
    *,
    why_not: bool = True,
    why_not_detail: bool = True,
    progress: Progress = silent,
    snapshot_sha256: Callable[[], str] | None = None,
) -> RunResult:
    """The run's result. ``why_not=False`` leaves out the rules that did not apply (a stored run
    keeps none — ``explain --why-not`` re-evaluates — and a province has 200,000 of them).
    ``snapshot_sha256``: the snapshot's hash made elsewhere (a caller hashing it in a second
    process meanwhile); asked for at the end, instead of hashing the snapshot here."""
    prepared = prepare(pack, snapshot, why_not=why_not, why_not_detail=why_not_detail, progress=progress)
    progress("finish", 0, 1)
    return prepared.result(snapshot_sha256 or prepared.snapshot.sha256)


def prepare(
    pack: RulePack,
    snapshot: Snapshot,
    *,
    why_not: bool = True,
    why_not_detail: bool = True,
    progress: Progress = silent,
    checked_elsewhere: Callable[[], None] | None = None,
    after_matching: Callable[[Iterator[DerivedFact]], None] | None = None,
    release_reports: bool = False,
) -> Prepared:
    """Everything of a run but its firings' objects: the drafts in canonical order with their seq,
    the score sheets, cuts and why-nots. A stored run writes its firings from it a batch at a time
    (:meth:`Prepared.drafts_with_texts`) — a province's 700,000 never all exist at once.

    ``checked_elsewhere``: the snapshot is being checked (``check_snapshot``) by another process
    meanwhile; called, it waits for the verdict and raises the check's error. It is called before
    this returns and before any error of the evaluation's own is raised, so a snapshot that cannot
    be run is reported as such, exactly as when it is checked here first.

    ``after_matching``: called once the facts are matched, before effects, with the matched facts
    (those of several matches more than once) — for a caller that makes something of them in
    another process meanwhile.

    ``release_reports``: once the facts are derived the engine lets the snapshot's progress
    reports go — the prepared run's snapshot has none (the derived facts hold all the rest of the
    run reads). Freed there and then when the caller keeps no reference to the snapshot: a
    province has 2.4 million, half a gigabyte."""
    progress("check", 0, 1)
    held = [snapshot.normalized()]  # the one reference _prepare takes (see release_reports)
    del snapshot
    if checked_elsewhere is None:
        check_snapshot(held[0])
        return _prepare(pack, held, why_not, why_not_detail, progress, after_matching, release_reports)
    try:
        prepared = _prepare(pack, held, why_not, why_not_detail, progress, after_matching, release_reports)
    except Exception:
        checked_elsewhere()
        raise
    checked_elsewhere()
    return prepared


def _prepare(
    pack: RulePack,
    held: list[Snapshot],
    why_not: bool,
    why_not_detail: bool,
    progress: Progress,
    after_matching: Callable[[Iterator[DerivedFact]], None] | None,
    release_reports: bool,
) -> Prepared:
    snapshot = held.pop()
    validate_pack(pack, snapshot)
    period = parse_period(snapshot.period)
    if period.year != snapshot.year:
        raise PeriodError(f"period {snapshot.period} is not in the scheme's year {snapshot.year}")
    progress("derive", 0, 1)
    d = derive(snapshot, period, pack)
    verified = _verification_cuts(snapshot, d)  # the last use of the reports
    if release_reports:
        snapshot = d.snapshot = dataclasses.replace(snapshot, reports=())
    rules = active_rules(pack, period.kind)
    active_ids = {r.id for r in rules}
    led = Ledger()
    matches = [
        (r, f)
        for t in _MATCHED_TYPES
        for r, f in match_facts(pack, t, d.facts[t], progress)
        if r.id in active_ids
    ]
    if after_matching is not None:
        after_matching(f for _, f in matches)
    progress("effects", 0, 1)
    make_drafts(displace(matches, pack, led), pack, d, led)
    del matches  # a province's 700,000 pairs: the drafts hold what they need
    _gaps(d, rules, led)
    adjust.apply_overrides(snapshot.overrides, led, sheetrules.deferred(pack))
    adjust.apply_rule_caps(led)
    adjust.apply_resets(d, led)
    adjust.apply_bucket_caps(pack, led)
    adjust.apply_floors(pack, d, led)
    progress("sheets", 0, 1)
    sheets = build_sheets(pack, d, led)
    sheetrules.apply_sheet_rules(pack, d, rules, sheets, led)  # veto/deduction/bonus on sheets
    graded = _grade(pack, d, sheets)
    flags = _sheet_pass(pack, d, rules, sheets, graded, led)
    if why_not:
        _no_match(d, rules, led, why_not_detail)
    else:
        led.why_not.clear()
    return _prepared(pack, snapshot, d, led, sheets, graded, flags, verified)


def _needs_report(rule: Rule) -> bool:
    from engine.pack.conditions import Cmp, conjuncts

    if rule.kind == "score":
        return True
    dnf = conjuncts(rule.when) or []
    fields = FIELDS[rule.on]
    return any(isinstance(c, Cmp) and fields[c.field].needs_report for conj in dnf for c in conj)


def _gaps(d: Derived, rules: list[Rule], led: Ledger) -> None:
    """A target or checkpoint without the report some rule needs is an explicit gap, never a zero."""
    for fact_type in ("target", "checkpoint"):
        needing = sorted(r.id for r in rules if r.on == fact_type and _needs_report(r))
        if not needing:
            continue
        for f in d.facts[fact_type]:
            if f.values.get("has_report") is False:
                when = f.values.get("checkpoint", d.period.end)
                led.gap(
                    f.unit,
                    f.indicator,
                    "gap.missing_report",
                    [f],
                    f"{f.indicator} 缺少 {when} 的进度报送，规则 {', '.join(needing)} 无法判定",
                    f"no report for {f.indicator} at {when}: rules {', '.join(needing)} cannot be decided",
                )
    for (unit, indicator), na in sorted(d.not_applicable.items()):
        led.gap(
            unit,
            indicator,
            "na.declared",
            [],
            na.reason_zh or f"{indicator} 不适用（{na.treatment}）",
            na.reason_en or f"{indicator} does not apply to this unit ({na.treatment})",
        )


def _grade(
    pack: RulePack, d: Derived, sheets: list[SheetDraft]
) -> dict[str, tuple[int | None, str | None, tuple[str, ...]]]:
    out: dict[str, tuple[int | None, str | None, tuple[str, ...]]] = {
        s.unit: (None, None, ()) for s in sheets
    }
    if d.period.kind != "year":
        return out
    by_category: dict[str, list[Standing]] = {}
    for s in sheets:
        if s.category is None:
            continue
        st = Standing(s.unit, s.total, s.bonus, s.deduction, {x.code: x.score for x in s.sections})
        for _, v in s.vetoes:
            if v.consequence == "bar_excellent":
                st.barred_by.append(v.rule_id)
            elif v.consequence == "force_grade" and v.grade:
                st.forced.append((v.grade, v.rule_id))
        by_category.setdefault(s.category, []).append(st)
    for category, standings in sorted(by_category.items()):
        for unit, g in rank_and_grade(standings, pack.grade_scheme(category)).items():
            out[unit] = (g.rank, g.grade, g.notes)
    return out


def _history(d: Derived, unit: str, grade: str | None) -> dict[str, Decimal | str]:
    prior = {p.year: p.grade for p in d.snapshot.prior_results if p.unit == unit}
    out: dict[str, Decimal | str] = {}
    for back in (1, 2):
        g = prior.get(d.period.year - back)
        if g is not None:
            out[f"prior_grade_{back}"] = g
    for name, wanted in (("fair_years_running", "fair"), ("poor_years_running", "poor")):
        n, year, g = 0, d.period.year, grade
        while g == wanted:
            n += 1
            year -= 1
            g = prior.get(year)
        out[name] = Decimal(n)
    return out


def _sheet_pass(
    pack: RulePack,
    d: Derived,
    rules: list[Rule],
    sheets: list[SheetDraft],
    graded: dict[str, tuple[int | None, str | None, tuple[str, ...]]],
    led: Ledger,
) -> dict[str, list[str]]:
    """Consequence flags across years: a second match, over one fact per graded sheet."""
    if d.period.kind != "year":
        return {}
    facts = []
    for s in sheets:
        rank, grade, _ = graded[s.unit]
        v = sheetrules.sheet_values(d, s)
        if rank is not None:
            v["rank"] = Decimal(rank)
        if grade is not None:
            v["grade"] = grade
        v.update(_history(d, s.unit, grade))
        facts.append(DerivedFact("sheet", f"sheet:{s.unit}", s.unit, None, v))
    facts = enrich_sheets(pack, d, facts, {s.unit: (s.bonus, s.deduction) for s in sheets}, led)
    d.facts["sheet"] = facts
    active = {r.id for r in rules if not sheetrules.pre_grade(r)}
    matches = [(r, f) for r, f in match_facts(pack, "sheet", facts) if r.id in active]
    make_drafts(displace(matches, pack, led), pack, d, led)
    flags: dict[str, list[str]] = {}
    for dr in led.drafts:
        if dr.effect == "flag" and dr.status != "voided":
            flags.setdefault(dr.unit, []).append(dr.detail["flag"])
    return flags


def _no_match(d: Derived, rules: list[Rule], led: Ledger, detail: bool) -> None:
    """Every active rule that did nothing for a unit, with the facts that came closest."""
    touched = {(dr.unit, dr.rule_id) for dr in led.drafts} | {(w.unit, w.rule_id) for w in led.why_not}
    facts_by: dict[tuple[str, str], list[DerivedFact]] = {}
    for fact_type, facts in d.facts.items():
        for f in facts:
            facts_by.setdefault((f.unit, fact_type), []).append(f)
    for unit in sorted(d.units):
        for rule in rules:
            if (unit, rule.id) in touched:
                continue
            mine = facts_by.get((unit, rule.on), [])
            if not mine:
                led.why(
                    unit,
                    rule,
                    None,
                    "no_facts",
                    (),
                    f"本单位没有{rule.on}类事实",
                    f"no {rule.on} facts for this unit",
                )
                continue
            if not detail:
                led.why(unit, rule, None, "no_match", (), "条件不满足", "condition not met")
                continue
            scored = sorted(
                ((failing_parts(rule.when, f.values), f) for f in mine), key=lambda x: (len(x[0]), x[1].id)
            )[:_WHY_NOT_FACTS]
            parts = "; ".join(f"{f.id}: {', '.join(fails)}" for fails, f in scored)
            led.why(
                unit,
                rule,
                None,
                "no_match",
                tuple(f.id for _, f in scored),
                f"条件不满足（{parts}）",
                f"condition not met ({parts})",
            )


def _verification_cuts(snapshot: Snapshot, d: Derived) -> list[Cut]:
    """Verified values below what was claimed: the score used the verified value (核减)."""
    out = []
    end = d.period.end
    ends: list[ReportFact] = [
        r
        for r in snapshot.reports
        if r.verified_value is not None and r.period == end and r.verified_value != r.reported_value
    ]
    for r in ends:
        out.append(
            Cut(
                r.unit,
                r.indicator,
                "verification",
                r.id,
                (),
                r.reported_value,
                r.value,
                f"{r.indicator} 报送 {fmt(r.reported_value)}，核定 {fmt(r.value)}",
                f"{r.indicator}: reported {fmt(r.reported_value)}, verified {fmt(r.value)}",
            )
        )
    if d.period.kind == "year":
        for e in snapshot.events:
            if (
                e.quantity is not None
                and e.verified_quantity is not None
                and e.verified_quantity != e.quantity
            ):
                out.append(
                    Cut(
                        e.unit,
                        e.indicator,
                        "verification",
                        e.id,
                        (),
                        e.quantity,
                        e.verified_quantity,
                        f"{e.title}：申报 {fmt(e.quantity)}，核定 {fmt(e.verified_quantity)}",
                        f"{e.title}: claimed {fmt(e.quantity)}, verified {fmt(e.verified_quantity)}",
                    )
                )
    return out


def _prepared(
    pack: RulePack,
    snapshot: Snapshot,
    d: Derived,
    led: Ledger,
    sheets: list[SheetDraft],
    graded: dict[str, tuple[int | None, str | None, tuple[str, ...]]],
    flags: dict[str, list[str]],
    verified: list[Cut],
) -> Prepared:
    drafts = sorted(led.drafts, key=Draft.sort_key)
    for seq, dr in enumerate(drafts, start=1):
        dr.seq = seq
    out_sheets = []
    for s in sheets:
        rank, grade, notes = graded[s.unit]
        vetoes = tuple(
            sorted(
                (
                    v.__class__(v.rule_id, v.consequence, v.grade, v.section, v.fact_ids, dr.seq)
                    for dr, v in s.vetoes
                ),
                key=lambda v: v.seq,
            )
        )
        out_sheets.append(
            ScoreSheet(
                s.unit,
                s.category,
                s.sections,
                s.bonus,
                s.deduction,
                vetoes,
                s.total,
                rank,
                grade,
                tuple(sorted(set(flags.get(s.unit, [])))),
                notes,
                s.credited_events,
            )
        )
    cuts = [
        Cut(
            c.unit,
            c.indicator,
            c.kind,
            c.source,
            tuple(sorted(dr.seq for dr in c.drafts)),
            c.before,
            c.after,
            c.text_zh,
            c.text_en,
        )
        for c in led.cuts
    ]
    cuts += verified
    cuts.sort(key=lambda c: (c.unit, c.indicator or "", c.kind, c.source, c.seqs))
    why = sorted(
        {
            (w.unit, w.rule_id, w.indicator or "", w.reason, w.fact_ids, w.text_zh, w.text_en)
            for w in led.why_not
        }
    )
    why_not = tuple(WhyNot(u, r, i or None, reason, f, zh, en) for u, r, i, reason, f, zh, en in why)
    return Prepared(pack, snapshot, d, drafts, tuple(out_sheets), tuple(cuts), why_not)


class Prepared:
    """A run evaluated up to its firings: ``drafts`` (seq = index + 1), ``sheets``, ``cuts`` and
    ``why_not`` final. Firings are made from it on demand, by index — in another process too (a
    forked child inherits it): a firing's fields depend only on its draft and the derived facts."""

    def __init__(
        self,
        pack: RulePack,
        snapshot: Snapshot,
        d: Derived,
        drafts: list[Draft],
        sheets: tuple[ScoreSheet, ...],
        cuts: tuple[Cut, ...],
        why_not: tuple[WhyNot, ...],
    ) -> None:
        self.pack, self.snapshot, self.d = pack, snapshot, d
        self.scheme_code, self.period = snapshot.scheme_code, snapshot.period
        self.drafts, self.sheets, self.cuts, self.why_not = drafts, sheets, cuts, why_not
        self._shared: dict[int, MatchedFact] = {}  # a fact matched by several rules is one MatchedFact

    def __len__(self) -> int:
        return len(self.drafts)

    def firings(self, start: int = 0, stop: int | None = None) -> Iterator[Firing]:
        """The firings with index in [start, stop), in seq order."""
        pack, d, shared = self.pack, self.d, self._shared
        for dr in self.drafts[start:stop]:
            yield _firing(dr, pack, d, shared)

    def drafts_with_texts(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[Draft, str, str]]:
        """The drafts with index in [start, stop) and their zh and en texts: all a firing is made
        of (with ``pack.sha256``, ``d.period`` and the drafts' facts), for a caller that writes
        firings without making their objects — a stored run's 700,000."""
        d = self.d
        for dr in self.drafts[start:stop]:
            zh, en = texts(dr, d)
            yield dr, zh, en

    def result(self, sha256_of_snapshot: Callable[[], str]) -> RunResult:
        """The whole result, every firing made (for a stored run, see :meth:`firings`)."""
        firings = tuple(self.firings())
        # A large run's hash: the second half of the firings put in canonical form by a second
        # process while this one does the first half.
        mid = len(firings) // 2
        tail = (
            Forked(lambda: list(canonical_parts(firings[mid:])))
            if len(firings) >= matching.PARALLEL_MIN and matching.WORKERS > 1
            else None
        )
        try:
            digest = run_hash(firings, self.sheets, _parts(firings, mid, tail))
        except BaseException:
            if tail is not None:
                tail.cancel()
            raise
        return RunResult(
            self.snapshot.scheme_code,
            self.snapshot.period,
            self.pack.name,
            self.pack.version,
            self.pack.sha256,
            sha256_of_snapshot(),
            firings,
            self.sheets,
            self.cuts,
            self.why_not,
            digest,
        )


def _parts(firings: tuple[Firing, ...], mid: int, tail: Forked[list[bytes]] | None) -> Iterator[bytes]:
    if tail is None:
        yield from canonical_parts(firings)
        return
    yield from canonical_parts(firings[:mid])
    yield from tail.result()


def _matched(f: DerivedFact, shared: dict[int, MatchedFact]) -> MatchedFact:
    """The (immutable) record of a matched fact, made once per fact while the facts are alive. It
    shares the fact's own values (a province run matches half a million facts): their order is
    the derivation's; every canonical form sorts the keys, and explanations list them sorted."""
    m = shared.get(id(f))
    if m is None:
        values = f.values if type(f.values) is dict else dict(f.values)
        m = shared[id(f)] = MatchedFact(f.id, f.type, values)
    return m


def _firing(dr: Draft, pack: RulePack, d: Derived, shared: dict[int, MatchedFact]) -> Firing:
    zh, en = texts(dr, d)
    matched = tuple(_matched(f, shared) for f in dr.facts)
    return Firing(
        dr.seq,
        dr.rule_id,
        dr.rule_version,
        pack.sha256,
        dr.unit,
        dr.indicator,
        d.period.text,
        dr.effect,
        dr.bucket,
        matched,
        dr.raw,
        dr.points,
        zh,
        en,
        dict(sorted(dr.detail.items())),
        dr.status,
        dr.override,
    )
