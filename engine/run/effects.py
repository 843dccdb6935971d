"""From matches to draft firings: displacement, event timing, points, shared responsibility, dedupe.

Everything a rule's effect means is decided here in plain exact Python; durable_rules only said
which facts the conditions held for.
"""

from __future__ import annotations

from decimal import Decimal

from engine.pack.model import Points, Rule, RulePack
from engine.pack.scoring import ScoreInput, check_params, direction_problem, needs_rank, score
from engine.run.derived import Derived, DerivedFact
from engine.run.drafts import Draft, Ledger
from engine.values.decimals import fmt, mul, q
from engine.values.vocab import DIRECTION_NAMES_ZH

_COUNTING = ("in_year", "after_cutoff")  # incidents count in their work year


def displace(
    matches: list[tuple[Rule, DerivedFact]], pack: RulePack, led: Ledger
) -> list[tuple[Rule, DerivedFact]]:
    """Drop a rule's match when a matching rule displaces it for the same fact; of several score
    rules left on one target, the first in the pack applies."""
    by_fact: dict[tuple[str, str], list[Rule]] = {}
    for rule, fact in matches:
        by_fact.setdefault((fact.type, fact.id), []).append(rule)
    order = {r.id: i for i, r in enumerate(pack.rules)}
    # Most rules are displaced by none and most facts match one score rule: only the rest look
    # through their rivals (a province run has 750,000 matches).
    displaceable = {r.id for r in pack.rules if any(r.id in other.displaces for other in pack.rules)}
    kept = []
    for rule, fact in matches:
        rivals = by_fact[(fact.type, fact.id)]
        winner = None
        if len(rivals) > 1:
            if rule.id in displaceable:
                winner = next((r for r in rivals if rule.id in r.displaces), None)
            if winner is None and rule.kind == "score":
                first = min((r for r in rivals if r.kind == "score"), key=lambda r: order[r.id])
                winner = first if first.id != rule.id else None
        if winner is not None:
            led.why(
                fact.unit,
                rule,
                fact.indicator,
                "displaced",
                (fact.id,),
                f"被更具体的规则 {winner.id} 取代",
                f"displaced by the more specific rule {winner.id}",
            )
            continue
        kept.append((rule, fact))
    return kept


def event_counts(rule: Rule, fact: DerivedFact, pack: RulePack, d: Derived, led: Ledger) -> bool:
    """Whether an event may take effect this year: documents, cut-off and carry-over (结转)."""
    if fact.type != "event":
        return True
    v = fact.values
    timing, year = v["timing"], d.period.year
    if rule.kind != "bonus":
        if timing in _COUNTING:
            return True
        led.why(
            fact.unit,
            rule,
            fact.indicator,
            "timing",
            (fact.id,),
            f"事件属于{v['work_year']}年度",
            f"the event belongs to work year {v['work_year']}",
        )
        return False
    if pack.bonus_requires_document and v["documented"] is not True:
        led.why(
            fact.unit,
            rule,
            fact.indicator,
            "no_document",
            (fact.id,),
            "无文件依据，不加分",
            "no document: no bonus",
        )
        return False
    if v["already_credited"] is True:
        led.why(
            fact.unit,
            rule,
            fact.indicator,
            "already_credited",
            (fact.id,),
            "已在往年计分，不再重复加分",
            "already credited in an earlier year's run",
        )
        return False
    if timing == "in_year" or (timing == "carried_over" and pack.carry_over):
        return True
    zh, en = _not_this_year(timing, v["work_year"], year, d)
    led.why(fact.unit, rule, fact.indicator, "timing", (fact.id,), zh, en)
    return False


def _not_this_year(timing: object, work_year: object, year: int, d: Derived) -> tuple[str, str]:
    """Why an honour is not credited in this year's run, naming the year whose run credits it
    (``engine.values.crediting``) and the cut-off that decides."""
    cutoff, prior = d.snapshot.cutoff_date, d.snapshot.prior_cutoff_date
    if timing == "after_cutoff":
        return (
            f"截止日（{cutoff}）后取得，结转至{year + 1}年度",
            f"awarded after the cut-off ({cutoff}): carried over to {year + 1}",
        )
    if timing == "carried_over":  # the pack turned carry-over off
        return (
            f"{work_year}年度工作，{prior}后取得；本方案不结转",
            f"work of {work_year} documented after {prior}: this pack does not carry over",
        )
    if timing == "too_late":
        return (
            f"{work_year}年度工作，{year}年度截止日（{cutoff}）后才取得，已过结转期限，不计分",
            f"work of {work_year} documented after {year}'s cut-off ({cutoff}): too late to carry over",
        )
    if timing == "earlier" and work_year == year - 1 and prior is None:  # undated: else refused
        return (
            f"{work_year}年度工作，无文件日期，计入{work_year}年度",
            f"work of {work_year} with no document date: it counts in {work_year}'s run",
        )
    if timing == "earlier" and work_year == year - 1:
        return (
            f"{work_year}年度工作，未在{work_year}年度截止日（{prior}）后取得，计入{work_year}年度",
            f"work of {work_year}, not documented after {work_year}'s cut-off ({prior}): "
            f"it counts in {work_year}'s run",
        )
    return f"不属于{year}年度", f"not {year}'s business ({timing})"


def points_for(p: Points, fact: DerivedFact) -> tuple[Decimal | None, str]:
    """Raw points of one firing, or None with the reason when a needed field is absent."""
    v = fact.values
    if p.fixed is not None:
        base = p.fixed
    elif p.table_field is not None:
        key = v.get(p.table_field)
        found = dict(p.table).get(str(key)) if key is not None else None
        if found is None and p.table_default is None:
            return None, f"{p.table_field} = {key if key is not None else 'absent'} is not in the table"
        base = found if found is not None else p.table_default or Decimal(0)
    elif p.rate is not None and p.rate_field is not None:
        of = v.get(p.rate_field)
        if not isinstance(of, Decimal):
            return None, f"{p.rate_field} is absent"
        base = mul(p.rate, of)
    else:
        return None, "no points given"
    if p.multiply_by is not None:
        times = v.get(p.multiply_by)
        if not isinstance(times, Decimal):
            return None, f"{p.multiply_by} is absent"
        base = mul(base, times)
    return q(base * p.multiplier), ""


def make_drafts(matches: list[tuple[Rule, DerivedFact]], pack: RulePack, d: Derived, led: Ledger) -> None:
    for rule, fact in matches:
        if not event_counts(rule, fact, pack, d, led):
            continue
        if rule.kind == "score":
            _score(rule, fact, pack, d, led)
        elif rule.kind in ("bonus", "deduction"):
            _points(rule, fact, pack, d, led)
        else:
            detail = _detail(rule)
            led.drafts.append(_draft(rule, fact, Decimal(0), detail={k: x for k, x in detail.items() if x}))
    _dedupe(led)


def _detail(rule: Rule) -> dict[str, str]:
    """A veto's, warning's or flag's detail (only the one of the rule's kind is made)."""
    if rule.kind == "veto":
        return {
            "consequence": rule.effect.consequence or "",
            "grade": rule.effect.grade or "",
            "section": rule.effect.section or "",
        }
    if rule.kind == "warning":
        return {"notice": rule.effect.notice or ""}
    if rule.kind == "flag":
        return {"flag": rule.effect.flag or ""}
    raise KeyError(rule.kind)


def method_of(pack: RulePack, d: Derived, rule: Rule, indicator: str) -> tuple[str, dict[str, object]]:
    """The scoring method and its checked parameters for ``rule`` on ``indicator``: made once per
    (rule, indicator) pair of a run (a province scores 200,000 targets with a few hundred pairs);
    the parameters are read, never changed."""
    key = (pack.sha256, rule.id, indicator)
    known = d.methods.get(key)
    if known is None:
        known = d.methods[key] = _method_of(pack, d, rule, indicator)
    return known


def _method_of(pack: RulePack, d: Derived, rule: Rule, indicator: str) -> tuple[str, dict[str, object]]:
    if rule.effect.method and rule.effect.method != "indicator":
        return rule.effect.method, dict(rule.effect.params)
    spec = pack.indicator(indicator)
    if spec is not None and spec.method is not None:
        return spec.method, dict(spec.params)
    ind = d.indicators[indicator]
    return ind.method, check_params(ind.method, ind.params)


def _score(rule: Rule, fact: DerivedFact, pack: RulePack, d: Derived, led: Ledger) -> None:
    v, ind = fact.values, d.indicators[str(fact.indicator)]
    method, params = method_of(pack, d, rule, ind.code)
    actual, annual, rank = v.get("actual"), v["annual"], v.get("rank")
    if not isinstance(actual, Decimal) or not isinstance(annual, Decimal):
        return  # the missing report is recorded once as a gap firing for the target
    if needs_rank(method) and not isinstance(rank, Decimal):
        led.gap(
            fact.unit,
            fact.indicator,
            "gap.no_rank",
            [fact],
            f"{ind.name_zh}无法排名（缺少完成率）",
            f"{ind.name_en} cannot be ranked (no completion ratio)",
        )
        return
    problem = direction_problem(method, ind.direction)
    if problem is not None:  # a score rule naming its own method (the indicators' are checked earlier)
        led.gap(
            fact.unit,
            fact.indicator,
            "gap.method_direction",
            [fact],
            f"{ind.name_zh}的计分方法 {method} 与指标方向 {DIRECTION_NAMES_ZH[ind.direction]}不符，无法计分",
            f"{ind.name_en}: {problem}",
        )
        return
    inp = ScoreInput(
        ind.points, annual, actual, ind.direction, int(rank) if isinstance(rank, Decimal) else None
    )
    got, how = score(method, params, inp)
    led.drafts.append(_draft(rule, fact, got, detail={"method": method, "how": how}))


def _draft(
    rule: Rule,
    fact: DerivedFact,
    raw: Decimal,
    *,
    unit: str | None = None,
    bucket: str | None = None,
    detail: dict[str, str] | None = None,
) -> Draft:
    """A rule's firing on one fact, for the fact's unit unless a co-unit shares it."""
    return Draft(
        rule.id,
        rule.version,
        unit if unit is not None else fact.unit,
        fact.indicator,
        rule.kind,
        [fact],
        raw,
        rule=rule,
        bucket=bucket,
        detail=detail if detail is not None else {},
    )


def _points(rule: Rule, fact: DerivedFact, pack: RulePack, d: Derived, led: Ledger) -> None:
    p = rule.effect.points
    assert p is not None
    raw, why = points_for(p, fact)
    if raw is None:
        led.gap(
            fact.unit,
            fact.indicator,
            f"gap.{rule.id}",
            [fact],
            f"规则 {rule.id} 无法计分：{why}",
            f"rule {rule.id} cannot compute points: {why}",
        )
        return
    shared = rule.effect.shared
    target = d.targets.get(fact.id) if shared else None
    if target is None or not target.co_units:
        led.drafts.append(_draft(rule, fact, raw, bucket=rule.bucket))
        return
    default = rule.effect.co_unit_share if rule.effect.co_unit_share is not None else pack.co_unit_share
    # A co-unit given no share (0) in its target takes the rule's, else the pack's, default share.
    co = [
        (u, default if s == 0 and default is not None else s, s == 0 and default is not None)
        for u, s in sorted(target.co_units)
    ]
    lead_share = Decimal(1) - sum((s for _, s, _ in co), Decimal(0)) if shared == "split" else Decimal(1)
    if lead_share < 0:
        led.gap(
            fact.unit,
            fact.indicator,
            f"gap.{rule.id}",
            [fact],
            f"规则 {rule.id} 无法分摊：协办单位份额合计超过 1",
            f"rule {rule.id} cannot split: the co-units' shares add up to more than 1",
        )
        return
    led.drafts.append(
        _draft(
            rule,
            fact,
            mul(raw, lead_share),
            bucket=rule.bucket,
            detail={"share": fmt(lead_share), "role": "lead"},
        )
    )
    for unit, share, defaulted in co:
        detail = {"share": fmt(share), "role": "co_unit", "lead_unit": fact.unit}
        if defaulted:
            detail["share_from"] = "rule" if rule.effect.co_unit_share is not None else "pack"
        led.drafts.append(_draft(rule, fact, mul(raw, share), unit=unit, bucket=rule.bucket, detail=detail))


def _dedupe(led: Ledger) -> None:
    """The same honour counts once per unit, at its highest points (ties: lowest fact id)."""
    groups: dict[tuple[str, str], list[Draft]] = {}
    for dr in led.drafts:
        if dr.rule is not None and dr.rule.effect.dedupe and dr.facts:
            key = dr.facts[0].values.get("dedupe_key")
            if isinstance(key, str):
                groups.setdefault((dr.unit, key), []).append(dr)
    losers: set[int] = set()
    for (unit, key), group in sorted(groups.items()):
        best = sorted(group, key=lambda x: (-x.raw, x.fact_ids, x.rule_id))[0]
        for dr in group:
            if dr is best:
                continue
            losers.add(id(dr))
            assert dr.rule is not None
            led.why(
                unit,
                dr.rule,
                dr.indicator,
                "deduped",
                dr.fact_ids,
                f"同一荣誉（{key}）只按最高级别计一次：{best.fact_ids[0]}",
                f"the same honour ({key}) counts once, at its highest level: {best.fact_ids[0]}",
            )
    led.drafts = [dr for dr in led.drafts if id(dr) not in losers]
