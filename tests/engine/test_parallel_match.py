"""Matching split by unit across forked worker processes gives exactly the serial result."""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import os
import time

import pytest

from engine import RulePack, Snapshot, evaluate
from engine.run import matching
from engine.run.durable_host import DurableError, host
from engine.run.forked import WorkerError
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


def _broken_in_workers(monkeypatch: pytest.MonkeyPatch, module: object, name: str, message: str) -> None:
    """Forked workers on, and ``module.name`` raising ``message`` in any process but this one."""
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    monkeypatch.setattr(matching, "WORKERS", 2)
    parent, real = os.getpid(), getattr(module, name)

    def broken(*args: object) -> object:
        if os.getpid() != parent:
            raise RuntimeError(message)
        return real(*args)

    monkeypatch.setattr(module, name, broken)


def test_a_failing_match_worker_fails_the_run(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_in_workers(monkeypatch, matching, "_match_units", "worker broke")
    with pytest.raises(DurableError, match=r"match worker \d+: RuntimeError: worker broke"):
        evaluate(*demo)


def test_a_failing_hash_worker_fails_the_run(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("engine.run.evaluate")  # the module, not the function
    _broken_in_workers(monkeypatch, module, "canonical_parts", "hash broke")
    with pytest.raises(WorkerError, match=r"worker \d+: RuntimeError: hash broke"):
        evaluate(*demo)


def test_when_this_process_fails_its_slice_the_match_workers_are_stopped(
    demo: tuple[RulePack, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run fails at once; no worker is left matching (or waiting to send) behind it."""
    monkeypatch.setattr(matching, "PARALLEL_MIN", 0)
    monkeypatch.setattr(matching, "WORKERS", 3)
    parent = os.getpid()

    def slow_workers_failing_parent(*args: object) -> object:
        if os.getpid() == parent:
            raise RuntimeError("this process's slice broke")
        time.sleep(60)  # a worker still at work when the run fails
        raise AssertionError("a worker outlived the run")

    monkeypatch.setattr(matching, "_match_units", slow_workers_failing_parent)
    with pytest.raises(RuntimeError, match="this process's slice broke"):
        evaluate(*demo)
    assert multiprocessing.active_children() == []
