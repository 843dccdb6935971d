"""A snapshot handed over to the engine lets its progress reports go once the facts are derived —
a province's 2.4 million, half a gigabyte, would otherwise stay to the end of the run — and the
run comes out the same, verification cuts included."""

from __future__ import annotations

import dataclasses
import weakref

import pytest

from engine import RulePack, Snapshot, prepare
from tests.engine.test_demo_pack import demo as demo  # the module-scoped fixture


@pytest.mark.parametrize("release", [True, False])
def test_a_handed_over_snapshot_is_gone_by_the_time_the_facts_are_matched(
    demo: tuple[RulePack, Snapshot], release: bool
) -> None:
    pack, snapshot = demo
    whole = prepare(pack, snapshot, why_not=False)
    # A copy whose reports only the engine will hold.
    handed = [dataclasses.replace(snapshot.normalized(), reports=tuple(list(snapshot.normalized().reports)))]
    copy = weakref.ref(handed[0])
    alive_when_matched: list[bool] = []
    prepared = prepare(
        pack, handed.pop(), why_not=False, release_reports=release,
        after_matching=lambda _facts: alive_when_matched.append(copy() is not None),
    )
    assert alive_when_matched == [not release]
    assert (prepared.snapshot.reports == ()) is release
    assert any(c.kind == "verification" for c in prepared.cuts)
    assert prepared.cuts == whole.cuts
    assert prepared.sheets == whole.sheets
    assert list(prepared.firings()) == list(whole.firings())
