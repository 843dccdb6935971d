"""The run hash and the snapshot's canonical bytes, built piecewise for large runs, are exactly the
canonical JSON of the whole (the format docs/audit-format.md and replays rely on)."""

from __future__ import annotations

import dataclasses

import pytest

from engine import RulePack, Snapshot, evaluate, facts, result
from engine.values.canonical import canonical_json, sha256_hex, to_plain
from tests.engine.test_demo_pack import demo as demo  # the module-scoped fixture


@pytest.mark.parametrize("chunk", [1, 2, 7, 5_000])
def test_the_run_hash_is_the_hash_of_the_whole_canonical_form(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    r = evaluate(*demo)
    monkeypatch.setattr(result, "_HASH_CHUNK", chunk)
    for firings, sheets in ((r.firings, r.sheets), ((), ()), (r.firings[:1], ()), ((), r.sheets[:3])):
        whole = sha256_hex(canonical_json({"firings": firings, "sheets": sheets}))
        assert result.run_hash(firings, sheets) == whole


@pytest.mark.parametrize("chunk", [1, 3, 20_000])
def test_snapshot_bytes_are_the_canonical_json_of_the_whole(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(facts, "_CHUNK", chunk)
    snapshot = dataclasses.replace(demo[1], units=tuple(reversed(demo[1].units)))  # not normalized
    plain = to_plain(snapshot.normalized())
    for group in ("units", "categories"):
        for item in plain[group]:
            if not item["tags"]:
                del item["tags"]
    facts._LAST_CANONICAL[0] = None
    assert snapshot.canonical_bytes() == canonical_json(plain)
    assert Snapshot.from_json(snapshot.canonical_bytes()) == snapshot.normalized()
    normal = snapshot.normalized()
    assert normal.normalized() is normal  # already sorted: not copied again


def test_a_snapshot_is_checked_for_order_once_and_never_taken_for_sorted_when_it_is_not(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run asks for the normalized snapshot several times (building it, running it, storing its
    bytes): a province's million facts are checked for order once per snapshot object. A snapshot
    that is not sorted is never remembered as sorted — nor is one made after the first is gone."""
    checks: list[Snapshot] = []
    is_normalized = Snapshot._is_normalized

    def counted(self: Snapshot) -> bool:
        checks.append(self)
        return is_normalized(self)

    monkeypatch.setattr(Snapshot, "_is_normalized", counted)
    unsorted = dataclasses.replace(demo[1], units=tuple(reversed(demo[1].units)))
    normal = unsorted.normalized()
    assert normal is not unsorted and normal.units == tuple(sorted(normal.units, key=lambda u: u.code))
    assert normal.normalized() is normal and normal.normalized() is normal
    assert unsorted.normalized() is not unsorted  # still sorted anew, never taken as it is
    assert [c is unsorted for c in checks] == [True, True]  # the sorted one was never checked
    sorted_copy = dataclasses.replace(normal, overrides=())
    assert sorted_copy.normalized() is sorted_copy and sorted_copy.normalized() is sorted_copy
    assert checks[-1] is sorted_copy and len(checks) == 3
    del unsorted, normal, sorted_copy
    again = dataclasses.replace(demo[1], units=tuple(reversed(demo[1].units)))
    assert again.normalized() is not again  # an id freed and reused names no sorted snapshot
