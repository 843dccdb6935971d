"""``kaohe audit verify``: OK with counts, or the first broken event and exit status 1."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert

import audit
import web.cli.support
from store import Scheme, make_engine, make_session_factory
from tests.audit_support import make_run, record_events, tamper
from web.cli.main import main


@pytest.fixture
def run_cli(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner against the test database; the engines the commands make are disposed afterwards."""
    made: list[Engine] = []

    def tracked_engine(url: str, **kwargs: Any) -> Engine:
        made.append(make_engine(url, **kwargs))
        return made[-1]

    monkeypatch.setattr(web.cli.support, "make_engine", tracked_engine)
    yield CliRunner(env={"KAOHE_DATABASE_URL": fresh_url, "KAOHE_INSTANCE_PATH": str(tmp_path),
                         "KAOHE_ENV": "test"})
    for engine in made:
        engine.dispose()


def _fill(engine: Engine, *, tamper_payload: bool = False) -> None:
    with make_session_factory(engine)() as s, s.begin():
        record_events(s, 3)
        audit.record_run(s, make_run(s), actor="office")
        record_events(s, 2, start=4)
        if tamper_payload:
            tamper(s, "audit_event", "UPDATE audit_event SET payload = '{}' WHERE seq = 2")


def test_verify_an_empty_ledger(run_cli: CliRunner) -> None:
    result = run_cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 0 events and 0 runs verified" in result.output


def test_verify_reports_ok_with_counts(run_cli: CliRunner, engine: Engine) -> None:
    _fill(engine)
    result = run_cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    # the six events and the rows.bind event that bound the rows of that transaction
    assert "OK: 7 events and 1 runs verified, 6 rows as the ledger bound them; head 7 " in result.output
    as_json = run_cli.invoke(main, ["audit", "verify", "--json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 0 and report["ok"] is True
    assert (report["events_checked"], report["runs_checked"], report["first_break"]) == (7, 1, None)


def test_verify_names_the_first_broken_event_and_fails(run_cli: CliRunner, engine: Engine) -> None:
    _fill(engine, tamper_payload=True)
    result = run_cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 2 (hash_mismatch)" in result.output
    as_json = run_cli.invoke(main, ["audit", "verify", "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["first_break"] == {
        "seq": 2, "kind": "hash_mismatch", "run_id": None, "table": None, "row": None,
        "detail": "event 2 (case.transition) does not hash to its stored hash",
    }


def test_verify_checks_anchors_given_on_the_command_line(run_cli: CliRunner, engine: Engine) -> None:
    _fill(engine)
    head = json.loads(run_cli.invoke(main, ["audit", "verify", "--json"]).output)
    good = run_cli.invoke(main, ["audit", "verify", "--anchor", f"7:{head['head_hash']}"])
    assert good.exit_code == 0, good.output
    missing = run_cli.invoke(main, ["audit", "verify", "--anchor", f"9:{head['head_hash']}"])
    assert missing.exit_code == 1 and "BROKEN at event 8 (missing_seq)" in missing.output
    malformed = run_cli.invoke(main, ["audit", "verify", "--anchor", "6:xyz"])
    assert malformed.exit_code == 2 and "is not SEQ:HASH" in malformed.output


def test_adopt_binds_rows_loaded_without_the_ledger_once(run_cli: CliRunner, engine: Engine) -> None:
    with engine.begin() as conn:  # as bench/generate.py or a pre-upgrade database leaves them
        conn.execute(insert(Scheme).values(code="OLD-2023", year=2023, name="旧方案", status="draft",
                                           cutoff_date=dt.date(2024, 2, 28), publication_days=7,
                                           appeal_days=5))
    broken = run_cli.invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN: scheme 1 (row_unbound)" in broken.output and "`kaohe audit adopt`" in broken.output
    refused = run_cli.invoke(main, ["audit", "adopt"], env={"KAOHE_ACTOR": "admin.upgrade"})
    assert refused.exit_code == 1 and "rows.adopt needs proof of who you are" in refused.output
    dev = {"KAOHE_ACTOR": "admin.upgrade", "KAOHE_ENV": "development"}  # the name alone is trusted
    adopted = run_cli.invoke(main, ["audit", "adopt"], env=dev)
    assert adopted.exit_code == 0, adopted.output
    assert "adopted 1 rows in events 1–1 as admin.upgrade" in adopted.output
    assert run_cli.invoke(main, ["audit", "verify"]).exit_code == 0
    again = run_cli.invoke(main, ["audit", "adopt"], env=dev)
    assert again.exit_code == 0 and "nothing to adopt" in again.output
