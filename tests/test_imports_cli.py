"""``kaohe import`` and ``kaohe template`` end to end, on a fresh migrated database."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.import_files import BASE, FULL, TARGETS, row_counts, write_csv, write_workbook
from web.cli.main import main


@pytest.fixture
def runner(fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KAOHE_DATABASE_URL", fresh_url)
    monkeypatch.setenv("KAOHE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("KAOHE_LOG_LEVEL", "WARNING")
    return CliRunner()


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return row_counts(session)


def test_template_then_import(runner: CliRunner, engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "tpl.xlsx"
    result = runner.invoke(main, ["template", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}\n"
    wb = openpyxl.load_workbook(out)
    for kind, rows in FULL.items():
        columns = [c.value for c in wb[kind][1]]
        for r in rows:
            wb[kind].append([r.get(str(c)) for c in columns])
    wb.save(out)
    result = runner.invoke(main, ["import", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.splitlines()[0] == "tpl.xlsx: 17 created, 0 updated, 0 unchanged"
    assert _counts(engine)["progress_report"] == 2  # committed


def test_template_default_name(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["template"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kaohe-template.xlsx").is_file()


def test_rejected_import_prints_every_error_and_writes_nothing(runner: CliRunner, engine: Engine,
                                                               tmp_path: Path) -> None:
    assert runner.invoke(main, ["import", str(write_workbook(tmp_path / "base.xlsx", BASE))]
                         ).exit_code == 0
    before = _counts(engine)
    rows = [{**TARGETS[0], "annual_value": "abc"}, {**TARGETS[1], "unit": "C99"}]
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "targets.csv", "targets", rows))])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'targets.csv: sheet targets, row 2, column annual_value: expected a number, got "abc"',
        "targets.csv: sheet targets, row 3, column unit: unknown unit code C99 in scheme T2024",
        "2 error(s): nothing was imported",
    ]
    assert _counts(engine) == before


def test_kind_option(runner: CliRunner, engine: Engine, tmp_path: Path) -> None:
    assert runner.invoke(main, ["import", str(write_workbook(tmp_path / "base.xlsx", BASE))]
                         ).exit_code == 0
    path = tmp_path / "t.csv"
    path.write_text("scheme,unit,indicator,annual_value\nT2024,C01,GDP,6.5\n", encoding="utf-8")
    result = runner.invoke(main, ["import", str(path), "--kind", "targets"])
    assert result.exit_code == 0, result.stderr
    assert "targets     created     0, updated     0, unchanged     1" in result.stdout
    bad = runner.invoke(main, ["import", str(path), "--kind", "nonsense"])
    assert bad.exit_code == 2
