"""Checks a snapshot before a run: exact numbers only, every reference resolvable, ids unique.

A run over bad input must stop with a precise message, never produce a silently wrong score.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from engine.facts import Snapshot
from engine.values import vocab
from engine.values.crediting import needs_prior_cutoff
from engine.values.decimals import check_decimal

_TAG = re.compile(r"^[A-Za-z0-9_\-]+$")


class SnapshotError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("snapshot cannot be run:\n" + "\n".join(f"  {p}" for p in problems))


def check_snapshot(s: Snapshot) -> None:
    problems: list[str] = []
    _numbers(s, "snapshot", problems)
    units = {u.code for u in s.units}
    indicators = {i.code for i in s.indicators}
    categories = {c.code for c in s.categories}
    for label, ids in (
        ("unit", [u.code for u in s.units]),
        ("indicator", [i.code for i in s.indicators]),
        ("target", [t.id for t in s.targets]),
        ("report", [r.id for r in s.reports]),
        ("event", [e.id for e in s.events]),
        ("category", [c.code for c in s.categories]),
    ):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            problems.append(f"duplicate {label} ids: {', '.join(dupes)}")
    pairs = Counter((t.unit, t.indicator) for t in s.targets)
    for pair in sorted(p for p, n in pairs.items() if n > 1):
        problems.append(f"two targets for unit {pair[0]} and indicator {pair[1]}")
    for label, code, tags in [("unit", u.code, u.tags) for u in s.units] + [
        ("category", c.code, c.tags) for c in s.categories
    ]:
        for tag in tags:
            if not _TAG.match(tag):
                problems.append(f"{label} {code}: tag {tag!r} is not letters, digits, '_' or '-'")
    for u in s.units:
        if u.category is not None and u.category not in categories:
            problems.append(f"unit {u.code}: unknown category {u.category}")
        if u.level not in vocab.UNIT_LEVELS:
            problems.append(f"unit {u.code}: unknown level {u.level}")
    for i in s.indicators:
        if i.method not in vocab.SCORING_METHODS:
            problems.append(f"indicator {i.code}: unknown method {i.method}")
        if i.direction not in vocab.DIRECTIONS:
            problems.append(f"indicator {i.code}: unknown direction {i.direction}")
    for t in s.targets:
        if t.unit not in units or t.indicator not in indicators:
            problems.append(f"target {t.id}: unknown unit {t.unit} or indicator {t.indicator}")
        for co, _share in t.co_units:
            if co not in units:
                problems.append(f"target {t.id}: unknown co-unit {co}")
        if t.schedule_kind not in vocab.SCHEDULE_KINDS:
            problems.append(f"target {t.id}: unknown schedule {t.schedule_kind}")
    for r in s.reports:
        if r.unit not in units or r.indicator not in indicators:
            problems.append(f"report {r.id}: unknown unit {r.unit} or indicator {r.indicator}")
    for e in s.events:
        if e.unit not in units:
            problems.append(f"event {e.id}: unknown unit {e.unit}")
        if e.indicator is not None and e.indicator not in indicators:
            problems.append(f"event {e.id}: unknown indicator {e.indicator}")
        if e.kind not in vocab.EVENT_KINDS:
            problems.append(f"event {e.id}: unknown kind {e.kind}")
        if e.level is not None and e.level not in vocab.EVENT_LEVELS:
            problems.append(f"event {e.id}: unknown level {e.level}")
        if s.prior_cutoff_date is None and needs_prior_cutoff(s.year, e.work_year, e.document_date):
            problems.append(
                f"event {e.id}: work year {e.work_year}, documented {e.document_date}: whether it counts in "
                f"{e.work_year} or carries over to {s.year} depends on {e.work_year}'s cut-off, which the "
                f"snapshot does not give (prior_cutoff_date)"
            )
    if problems:
        raise SnapshotError(problems)


def _numbers(value: object, where: str, problems: list[str]) -> None:
    """Every number reachable from the snapshot must be an exact decimal with ≤ 4 places."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        problems.append(f"{where}: binary float {value!r}; use Decimal")
    elif isinstance(value, Decimal):
        try:
            check_decimal(value, where)
        except ValueError as exc:
            problems.append(str(exc))
    elif isinstance(value, tuple | list):
        kind = type(value[0]) if value else None
        if kind is not None and dataclasses.is_dataclass(kind) and all(type(v) is kind for v in value):
            _records(value, kind, problems)  # a snapshot's reports, targets …: one type each
            return
        for item in value:
            _numbers(item, where, problems)
    elif isinstance(value, dict):
        for k, item in value.items():
            _numbers(item, f"{where}.{k}", problems)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _records((value,), type(value), problems)


def _records(items: Sequence[Any], kind: type, problems: list[str]) -> None:
    """:func:`_numbers` of each of ``items``, all dataclass instances of type ``kind``."""
    names = _fields(kind)
    values = operator.attrgetter(*names) if len(names) > 1 else lambda v: (getattr(v, names[0]),)
    for record in items:
        for f, item in zip(names, values(record), strict=True):
            kind_of = type(item)
            if item is None or kind_of is str or kind_of is bool or kind_of is int:
                continue  # most fields: nothing to check, and no message to prepare
            if kind_of is Decimal and _exact(item):
                continue
            name = getattr(record, "id", None) or getattr(record, "code", None) or kind.__name__
            _numbers(item, f"{name}.{f}", problems)


_FIELDS: dict[type, tuple[str, ...]] = {}
_BOUND = Decimal(2**63 - 1) / 10_000  # exact: the largest |value| check_decimal accepts


def _exact(value: Decimal) -> bool:
    """``check_decimal`` accepts ``value`` (checked without building its error message)."""
    if value.is_finite() and value.as_tuple()[2] >= -4 and -_BOUND <= value <= _BOUND:  # type: ignore[operator]
        return True  # at most four places and in range: the common case, decided quickly
    try:
        check_decimal(value, "")
    except ValueError:
        return False
    return True


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names
