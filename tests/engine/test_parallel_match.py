"""Matching split by unit across forked worker processes gives exactly the serial result."""

from __future__ import annotations

import dataclasses
import importlib
import os

import pytest

from engine import evaluate, matching
from engine.durable_host import DurableError, host
from engine.facts import Snapshot
from engine.pack import RulePack
from tests.engine.test_demo_pack import demo as demo  # the module-scoped fixture


@pytest.mark.parametrize("period", ["2024", "2024-Q3", "2024-07"])
def test_forked_matching_equals_serial(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch, period: str
) -> None:
    pack, snapshot = demo
    snapshot = dataclasses.replace(snapshot, period=period)
    serial = evaluate(pack, snapshot)
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    for workers in (2, 3):
        monkeypatch.setattr(matching, "WORKERS", workers)
        before = host().messages
        forked = evaluate(pack, snapshot)
        assert forked.canonical_bytes() == serial.canonical_bytes()
        assert host().messages > before  # the workers' messages are counted in this process


def test_a_failing_worker_fails_the_run(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, snapshot = demo
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    monkeypatch.setattr(matching, "WORKERS", 2)
    parent, real = os.getpid(), matching._match_units

    def broken_in_the_worker(*args: object) -> object:
        if os.getpid() != parent:
            raise RuntimeError("worker broke")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(matching, "_match_units", broken_in_the_worker)
    with pytest.raises(DurableError, match=r"match worker \d+: RuntimeError: worker broke"):
        evaluate(pack, snapshot)


def test_a_failing_hash_worker_fails_the_run(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.forked import WorkerError

    evaluate_module = importlib.import_module("engine.evaluate")  # the module, not the function

    pack, snapshot = demo
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    monkeypatch.setattr(matching, "WORKERS", 2)
    parent, real = os.getpid(), evaluate_module.run_hash

    def broken_in_the_worker(*args: object) -> str:
        if os.getpid() != parent:
            raise RuntimeError("hash broke")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate_module, "run_hash", broken_in_the_worker)
    with pytest.raises(WorkerError, match=r"worker \d+: RuntimeError: hash broke"):
        evaluate(pack, snapshot)
