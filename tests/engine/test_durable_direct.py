"""The durable host's own dispatch loop: collisions replay in a fresh session, matches complete."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.run import durable_host
from engine.run.durable_host import RuleSpec, host


def _ruleset(name: str) -> None:
    host().ensure_ruleset(name, [
        RuleSpec("r0", "low", 1, "p" * 64, {"$and": [{"t": "s:x"}, {"$lt": {"v": 50}}]}),
        RuleSpec("r1", "even", 1, "p" * 64, {"$and": [{"t": "s:x"}, {"e": "b:1"}]}),
    ])


def _facts(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"f{i}", {"t": "s:x", "v": i, "e": "b:1" if i % 2 == 0 else "b:0"}) for i in range(n)]


def _expected(n: int) -> set[tuple[str, str]]:
    low = {("low", f"f{i}") for i in range(n) if i < 50}
    return low | {("even", f"f{i}") for i in range(n) if i % 2 == 0}


def test_every_match_of_every_rule_is_reported_once() -> None:
    _ruleset("direct.test.a")
    matches = host().run_session("direct.test.a", _facts(120))
    got = [(m.rule_id, m.fact_id) for m in matches]
    assert len(got) == len(set(got)) and set(got) == _expected(120)
    assert host().live_sids("direct.test.a") == 0


def test_an_id_hash_collision_replays_the_session_with_salted_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    _ruleset("direct.test.b")
    real, calls = durable_host._core.assert_fact, []

    def colliding(handle: Any, text: str) -> Any:
        calls.append(text)
        if len(calls) == 30:  # "already observed": what a 32-bit id-hash collision looks like
            return (2, 0)
        return real(handle, text)

    monkeypatch.setattr(durable_host._core, "assert_fact", colliding)
    matches = host().run_session("direct.test.b", _facts(60))
    assert {(m.rule_id, m.fact_id) for m in matches} == _expected(60)
    assert any(json.loads(text)["id"] == "f0#1" for text in calls)  # replayed with salted ids
    assert host().live_sids("direct.test.b") == 0
