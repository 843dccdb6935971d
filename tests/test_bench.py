"""bench/run_year.py end to end on a tiny generated data set, on the suite's backend."""

from __future__ import annotations

import json

import pytest

from bench import run_year


def test_run_year_on_a_small_generated_set(fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_year.main(["--url", fresh_url, "--units", "4", "--quiet", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["facts"] == {"targets": 160, "reports": 1920, "events": 10}
    assert figures["firings"] > 160  # a score per target, and more
    assert figures["durable_messages"] >= 160 + 4 * 160 + 10  # targets, checkpoints, events
    assert figures["raw_durable"]["messages"] == figures["durable_messages"]
    phases = {"total", "snapshot", "evaluate", "store", "firings", "ledger", "commit"}
    assert set(figures["seconds"]) == phases
    assert figures["peak_rss_mb"] > 0 and len(figures["run"]["run_hash"]) == 64
    assert figures["run"]["committed"] is False
