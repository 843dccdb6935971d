"""Filling a rule's zh/en text with the facts a firing matched ({unit}, {title}, {actual} …)."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from decimal import Decimal

from engine.decimals import fmt
from engine.derive import Derived
from engine.drafts import Draft

_BOOL = {"zh": ("是", "否"), "en": ("yes", "no")}


def show(value: object, lang: str) -> str:
    if isinstance(value, bool):
        yes, no = _BOOL[lang]
        return yes if value else no
    if isinstance(value, Decimal):
        return fmt(value)
    return "—" if value is None else str(value)


def placeholders(
    dr: Draft, d: Derived, lang: str, wanted: frozenset[str] | None = None
) -> dict[str, str]:
    """The values a rule text may name; with ``wanted``, only those it does name (the others are
    not formatted at all: a province run renders a million and a half texts)."""
    values: dict[str, str] = {}
    if dr.facts:
        first = dr.facts[0].values
        if wanted is None:
            values.update({k: show(v, lang) for k, v in first.items()})
        else:
            values.update({k: show(first[k], lang) for k in wanted if k in first})
        if "annual" in first and (wanted is None or "target" in wanted):
            values["target"] = show(first["annual"], lang)
    every = wanted is None
    wanted = wanted or frozenset()
    if every or "unit" in wanted:
        values["unit"] = dr.unit
    if every or "unit_name" in wanted:
        unit = d.units.get(dr.unit)
        values["unit_name"] = unit.name if unit else dr.unit
    if (every or "indicator_name" in wanted) and dr.indicator is not None and dr.indicator in d.indicators:
        ind = d.indicators[dr.indicator]
        values["indicator_name"] = ind.name_zh if lang == "zh" else ind.name_en
    if every or "points" in wanted:
        values["points"] = fmt(dr.points)
    if every or "share" in wanted:
        values["share"] = dr.detail.get("share", "1")
    if every or "lead_unit" in wanted:
        values["lead_unit"] = dr.detail.get("lead_unit", dr.facts[0].unit if dr.facts else dr.unit)
    if every or "period" in wanted:
        values["period"] = d.period.text
    return values


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "—"


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its ``{name}`` places filled; a name the firing lacks shows "—"
    (``str.format_map``: what ``string.Formatter`` does, in C — a province run renders 1.4 M)."""
    return template.format_map(_Missing(values))


@functools.lru_cache(maxsize=4096)
def named(template: str) -> frozenset[str]:
    """The placeholder names a template uses (``{a}``, ``{a.b}``, ``{a[0]}`` all name ``a``)."""
    return frozenset(
        re.split(r"[.\[]", name, maxsplit=1)[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name is not None
    )


def texts(dr: Draft, d: Derived) -> tuple[str, str]:
    """The firing's zh and en texts. The values both name are formatted once: only a yes/no fact
    field and the indicator's name read differently in English. A name the firing lacks is
    filled with "—" here, so the templates are filled from plain dicts (as :func:`render`)."""
    if dr.texts is not None:
        return dr.texts
    assert dr.rule is not None
    zh, en = dr.rule.text_zh, dr.rule.text_en
    wanted, wanted_en = _wanted(zh, en)
    values = placeholders(dr, d, "zh", wanted)
    if len(values) < len(wanted):
        values.update((k, "—") for k in wanted - values.keys())
    return zh.format_map(values), en.format_map(_in_english(dr, d, values, wanted_en))


@functools.lru_cache(maxsize=1024)
def _wanted(zh: str, en: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names either template uses, and those the English one does."""
    return named(zh) | named(en), named(en)


# Names whose value placeholders() sets whatever the facts hold (so a fact field never shows).
_ALWAYS_SET = frozenset({"unit", "unit_name", "points", "share", "lead_unit", "period"})


def _in_english(dr: Draft, d: Derived, zh: dict[str, str], wanted: frozenset[str]) -> dict[str, str]:
    """``placeholders(dr, d, "en", wanted)``, from the zh values of a superset of ``wanted``."""
    first = dr.facts[0].values if dr.facts else {}
    changed: dict[str, str] = {}
    for k in wanted:
        if k == "indicator_name" and dr.indicator is not None and dr.indicator in d.indicators:
            changed[k] = d.indicators[dr.indicator].name_en
        elif (
            type(first.get(k)) is bool
            and k not in _ALWAYS_SET
            and not (k == "target" and "annual" in first)
        ):
            changed[k] = show(first[k], "en")
    return {**zh, **changed} if changed else zh
