"""bench/run_year.py end to end on a tiny generated data set, on the suite's backend."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import audit
from bench import run_year
from bench.generate import generate


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


def test_a_generated_set_is_adopted_into_the_ledger_and_verifies(engine: Engine) -> None:
    counts = generate(engine, units=3, indicators=4, events=5)
    assert counts["adoption_events"] >= 1  # the bulk-loaded rows, bound as adopted at load
    with Session(engine) as session:
        report = audit.verify(session)
        assert report.ok, report.first_break
        facts = counts["targets"] + counts["reports"] + counts["events"]
        assert report.rows_checked > facts  # and the scheme, categories, sections, units, indicators
