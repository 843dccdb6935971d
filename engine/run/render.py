"""Filling a rule's zh/en text with the facts a firing matched ({unit}, {title}, {actual} …)."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.run.derived import Derived
from engine.run.drafts import Draft
from engine.values.decimals import fmt

_BOOL = {"zh": ("是", "否"), "en": ("yes", "no")}


def show(value: object, lang: str) -> str:
    if isinstance(value, bool):
        yes, no = _BOOL[lang]
        return yes if value else no
    if isinstance(value, Decimal):
        return fmt(value)
    return "—" if value is None else str(value)


@functools.lru_cache(maxsize=4096)
def named(template: str) -> frozenset[str]:
    """The placeholder names a template uses (``{a}``, ``{a.b}``, ``{a[0]}`` all name ``a``)."""
    return frozenset(
        re.split(r"[.\[]", name, maxsplit=1)[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name is not None
    )


def texts(dr: Draft, d: Derived) -> tuple[str, str]:
    """The firing's zh and en texts. A template's ``{name}`` is the first matched fact's field
    (``target``: its annual value, where it has one), else ``unit``, ``unit_name``,
    ``indicator_name``, ``points``, ``share``, ``lead_unit`` or ``period`` (these win over a fact
    field of that name); a name the firing lacks shows "—". Both texts are made from one set of
    formatted values — only a yes/no fact field and the indicator's name read differently in
    English (tests/engine/test_demo_pack.py renders each language on its own and compares) — by
    a plan made once per pair of templates (a province run renders 700,000 pairs)."""
    if dr.texts is not None:
        return dr.texts
    assert dr.rule is not None
    zh, en = dr.rule.text_zh, dr.rule.text_en
    plan = _plan(zh, en)
    first: Mapping[str, Any] = dr.facts[0].values if dr.facts else _NO_VALUES
    values: dict[str, str] = {}
    for k in plan.fact_names:
        if k in first:
            v = first[k]
            kind = type(v)
            values[k] = v if kind is str else fmt(v) if kind is Decimal else show(v, "zh")
    if plan.target and "annual" in first:
        values["target"] = show(first["annual"], "zh")
    for name in plan.special:
        if name == "unit":
            values[name] = dr.unit
        elif name == "unit_name":
            unit = d.units.get(dr.unit)
            values[name] = unit.name if unit else dr.unit
        elif name == "indicator_name":
            if dr.indicator is not None and dr.indicator in d.indicators:
                values[name] = d.indicators[dr.indicator].name_zh
        elif name == "points":
            values[name] = fmt(dr.points)
        elif name == "share":
            values[name] = dr.detail.get("share", "1")
        elif name == "lead_unit":
            values[name] = dr.detail.get("lead_unit", dr.facts[0].unit if dr.facts else dr.unit)
        else:  # period
            values[name] = d.period.text
    if len(values) < plan.count:
        values.update((k, "—") for k in plan.wanted - values.keys())
    english = _in_english(dr, d, first, values, plan.en_names) if plan.en_names else values
    return zh.format_map(values), en.format_map(english)


_NO_VALUES: dict[str, object] = {}

# Names set from the firing and the run whatever the facts hold (so a fact field never shows),
# and with them the one set only for a known indicator.
_ALWAYS_SET = ("unit", "unit_name", "points", "share", "lead_unit", "period")
_SPECIAL = ("unit", "unit_name", "indicator_name", "points", "share", "lead_unit", "period")


@dataclass(frozen=True)
class _Plan:
    wanted: frozenset[str]  # every name either template uses
    count: int
    fact_names: tuple[str, ...]  # read from the first matched fact (those set anyway left out)
    target: bool  # "target" is the fact's annual value where it has one
    special: tuple[str, ...]  # set from the firing and the run, after the fact's
    en_names: tuple[str, ...]  # names the English template uses that may read differently


@functools.lru_cache(maxsize=1024)
def _plan(zh: str, en: str) -> _Plan:
    wanted, wanted_en = named(zh) | named(en), named(en)
    return _Plan(
        wanted,
        len(wanted),
        tuple(sorted(wanted - set(_ALWAYS_SET))),
        "target" in wanted,
        tuple(name for name in _SPECIAL if name in wanted),
        tuple(sorted(wanted_en - set(_ALWAYS_SET))),
    )


def _in_english(
    dr: Draft, d: Derived, first: Mapping[str, object], zh: dict[str, str], names: tuple[str, ...]
) -> dict[str, str]:
    """The English values from the zh ones: the indicator's English name and yes/no fields (but
    "target" when it is the annual value) changed."""
    changed: dict[str, str] = {}
    for k in names:
        if k == "indicator_name" and dr.indicator is not None and dr.indicator in d.indicators:
            changed[k] = d.indicators[dr.indicator].name_en
        elif type(first.get(k)) is bool and not (k == "target" and "annual" in first):
            changed[k] = show(first[k], "en")
    return {**zh, **changed} if changed else zh
