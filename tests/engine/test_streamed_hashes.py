"""The run hash and the snapshot's canonical bytes, built piecewise for large runs, are exactly the
canonical JSON of the whole (the format docs/audit-format.md and replays rely on)."""

from __future__ import annotations

import dataclasses

import pytest

from engine import evaluate, facts, result
from engine.canonical import canonical_json, sha256_hex, to_plain
from engine.facts import Snapshot
from engine.pack import RulePack
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
