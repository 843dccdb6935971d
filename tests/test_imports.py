"""Accepted imports: the template round trip, encodings, numbers from Excel, re-import semantics."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import AuditEvent, Category, Event, Indicator, ProgressReport, Section, Target, Unit
from tests.import_files import (
    BASE,
    EVENTS,
    FULL,
    INDICATORS,
    PROGRESS,
    SCHEME,
    TARGETS,
    UNITS,
    csv_text,
    row_counts,
    write_csv,
    write_workbook,
)
from workflows.imports import ImportRejected, import_file
from workflows.imports.sheets import SHEETS_BY_KIND
from workflows.imports.template import write_template


def _target(session: Session, unit: str, indicator: str) -> Target:
    return session.scalars(select(Target).join(Target.unit).join(Target.indicator)
                           .where(Unit.code == unit, Indicator.code == indicator)).one()


def test_template_filled_in_imports_cleanly(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "kaohe-template.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "README"
    for kind, rows in FULL.items():
        ws = wb[kind]
        assert ws.max_row == 1  # exactly one header row
        columns = [c.value for c in ws[1]]
        assert columns == [c.name for c in SHEETS_BY_KIND[kind].columns]
        assert ws["A1"].comment is not None
        for r in rows:
            ws.append([r.get(str(c)) for c in columns])
    wb.save(path)
    summary = import_file(session, path)
    assert {k: c.created for k, c in summary.counts.items()} == {
        "scheme": 1, "categories": 1, "sections": 3, "units": 4, "indicators": 2, "targets": 3,
        "progress": 2, "events": 1}
    assert str(summary).splitlines()[0] == "kaohe-template.xlsx: 17 created, 0 updated, 0 unchanged"
    counts = row_counts(session)
    assert (counts["unit"], counts["target"], counts["target_co_unit"]) == (4, 3, 1)

    county = session.scalars(select(Category).where(Category.code == "county")).one()
    assert county.grade_rules == {"excellent_min": "90", "good_min": "80", "fair_min": "60",
                                  "excellent_quota": "20%"}
    assert sorted(s.weight for s in county.sections) == [10, 40, 50]
    street = session.scalars(select(Unit).where(Unit.code == "T01")).one()
    assert street.parent is not None and street.parent.code == "C01"  # parent listed below it
    gdp = session.scalars(select(Indicator).where(Indicator.code == "GDP")).one()
    assert gdp.params == {"per_point": "0.1", "cap": 3}  # fractional JSON numbers kept exact
    c02 = _target(session, "C02", "GDP")
    assert c02.schedule_kind == "milestones"
    assert c02.milestones == {"2024-03": "20", "2024-06": "45", "2024-09": "70", "2024-12": "100"}
    assert [(c.unit.code, c.share) for c in c02.co_units] == [("D07", Decimal("0.3"))]
    assert c02.lead_unit.code == "C02"
    assert _target(session, "C01", "PROJ").locked
    report = session.scalars(select(ProgressReport).where(ProgressReport.verified_by == "王五")).one()
    assert (report.reported_value, report.verified_value, report.source) == (
        Decimal("1.2"), Decimal("1.1"), "C02")
    assert report.verified_at is not None
    event = session.scalars(select(Event)).one()
    assert (event.document_date, event.level, event.work_year) == (dt.date(2024, 6, 1), "national", 2024)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_with_chinese_headers_and_text(session: Session, tmp_path: Path,
                                                     encoding: str) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    labels = [c.label_zh for c in SHEETS_BY_KIND["events"].columns]
    names = [c.name for c in SHEETS_BY_KIND["events"].columns]
    body = csv_text("events", EVENTS, names).splitlines()[1:]
    text = "\r\n".join([",".join(labels), *body]) + "\r\n"
    path = tmp_path / "加减分事项.csv"
    path.write_bytes(text.encode(encoding))
    summary = import_file(session, path)
    assert summary["events"].created == 1
    assert session.scalars(select(Event.title)).one() == "全国文明城市"


def test_gb18030_file_is_really_not_utf8(tmp_path: Path) -> None:
    data = "单位名称".encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_numbers_from_excel_cells_stay_exact(session: Session, tmp_path: Path) -> None:
    """Excel stores 0.1 as a binary float; it must arrive as Decimal("0.1"), not 0.1000000000000000055."""
    import_file(session, write_workbook(tmp_path / "base.xlsx", {**BASE, "targets": []}))
    rows = [{"scheme": "T2024", "unit": "C01", "indicator": "GDP", "annual_value": 0.1},
            {"scheme": "T2024", "unit": "C02", "indicator": "GDP", "annual_value": 1234.5678}]
    import_file(session, write_workbook(tmp_path / "t.xlsx", {"targets": rows}))
    session.expire_all()
    assert _target(session, "C01", "GDP").annual_value == Decimal("0.1")
    assert _target(session, "C02", "GDP").annual_value == Decimal("1234.5678")


def test_excel_float_with_more_places_than_the_column_is_refused(session: Session,
                                                                  tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", {**BASE, "targets": []}))
    rows = [{"scheme": "T2024", "unit": "C01", "indicator": "GDP", "annual_value": 1 / 3}]
    with pytest.raises(ImportRejected) as info:
        import_file(session, write_workbook(tmp_path / "t.xlsx", {"targets": rows}))
    assert [str(e) for e in info.value.errors] == [
        "t.xlsx: sheet targets, row 2, column annual_value: 0.333333333333333 has more than 4 "
        "decimal places"]


def test_thousands_separators_and_chinese_sheet_names(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", {**BASE, "targets": []}))
    path = write_workbook(tmp_path / "t.xlsx", {"targets": [
        {"scheme": "T2024", "unit": "C01", "indicator": "GDP", "annual_value": "1,234.5"}]})
    wb = openpyxl.load_workbook(path)
    wb["targets"].title = "目标任务"
    wb.save(path)
    assert import_file(session, path)["targets"].created == 1
    assert _target(session, "C01", "GDP").annual_value == Decimal("1234.5")


def test_empty_rows_are_skipped_and_rows_keep_excel_numbers(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "scheme.csv"
    good = csv_text("scheme", SCHEME).splitlines()
    path.write_text("\n".join([good[0], ",,,,,", good[1], "", good[1].replace("T2024", "T2025")
                               .replace(",2024,", ",20x5,")]) + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as info:
        import_file(session, path)
    assert [str(e) for e in info.value.errors] == [
        'scheme.csv: sheet scheme, row 5, column year: expected a whole number, got "20x5"']


def test_reimport_of_the_same_file_changes_nothing(session: Session, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "full.xlsx", FULL)
    import_file(session, path)
    before = row_counts(session)
    summary = import_file(session, path)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 17)
    assert row_counts(session) == before


def test_unlocked_target_is_updated_and_its_version_bumps(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    assert _target(session, "C01", "GDP").version == 1
    rows = [{**TARGETS[0], "annual_value": "7", "co_units": "D07"}, TARGETS[1], TARGETS[2]]
    summary = import_file(session, write_csv(tmp_path / "targets.csv", "targets", rows))
    assert (summary["targets"].updated, summary["targets"].unchanged) == (1, 2)
    target = _target(session, "C01", "GDP")
    assert (target.annual_value, target.version) == (Decimal(7), 2)
    assert [(c.unit.code, c.share) for c in target.co_units] == [("D07", Decimal(0))]
    old = TARGETS[0]["annual_value"]
    assert summary.replaced == [f"target C01 × GDP annual_value: {old} → 7",
                                "target C01 × GDP co_units: (none) → D07:0"]
    assert "  replaced: target C01 × GDP annual_value: " in str(summary)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "import.file")
                            .order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert json.loads(event.payload)["replaced"] == summary.replaced


def test_co_unit_change_alone_bumps_the_version(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    rows = [TARGETS[0], {**TARGETS[1], "co_units": None}, TARGETS[2]]
    summary = import_file(session, write_csv(tmp_path / "targets.csv", "targets", rows))
    assert summary["targets"].updated == 1
    target = _target(session, "C02", "GDP")
    session.refresh(target)
    assert (target.co_units, target.version) == ([], 2)
    assert row_counts(session)["target_co_unit"] == 0


def test_locking_an_unlocked_target_by_reimport(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    rows = [{**TARGETS[0], "locked": "yes"}]
    assert import_file(session, write_csv(tmp_path / "t.csv", "targets", rows))["targets"].updated == 1
    assert _target(session, "C01", "GDP").locked
    # An empty locked cell keeps the stored state: the same row without it is unchanged.
    assert import_file(session, write_csv(tmp_path / "t2.csv", "targets", [TARGETS[0]])
                       )["targets"].unchanged == 1


def test_definition_rows_update_while_the_scheme_is_a_draft(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    units = [dict(u) for u in UNITS]
    units[2]["name"] = "东山区"
    units[2]["level"] = "district"
    summary = import_file(session, write_csv(tmp_path / "units.csv", "units", units))
    assert (summary["units"].updated, summary["units"].unchanged) == (1, 3)
    unit = session.scalars(select(Unit).where(Unit.code == "C02")).one()
    assert (unit.name, unit.level) == ("东山区", "district")
    inds = [dict(i) for i in INDICATORS]
    inds[1]["points"] = "6"
    assert import_file(session, write_csv(tmp_path / "i.csv", "indicators", inds)
                       )["indicators"].updated == 1


def test_verification_may_be_added_to_a_stored_report(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "full.xlsx", FULL))
    rows = [{**PROGRESS[0], "verified_value": "1.5", "verified_by": "李四"}, PROGRESS[1]]
    summary = import_file(session, write_csv(tmp_path / "progress.csv", "progress", rows))
    assert (summary["progress"].updated, summary["progress"].unchanged) == (1, 1)
    report = session.scalars(select(ProgressReport).where(ProgressReport.verified_by == "李四")).one()
    assert report.verified_value == Decimal("1.5")
    rows[1] = {**PROGRESS[1], "verified_value": "1.0"}
    with pytest.raises(ImportRejected) as info:
        import_file(session, write_csv(tmp_path / "progress2.csv", "progress", rows))
    assert [str(e) for e in info.value.errors] == [
        "progress2.csv: sheet progress, row 3, column verified_value: progress report C02 × GDP "
        "2024-03 from C02 is already verified as 1.1 by 王五; a verification is changed through the "
        "verification workflow, not a re-import"]


def test_csv_kind_option_and_kind_detection(session: Session, tmp_path: Path) -> None:
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    path = write_csv(tmp_path / "anything.csv", "progress", PROGRESS)
    assert import_file(session, path)["progress"].created == 2
    assert import_file(session, path, kind="进度报送")["progress"].unchanged == 2


def test_a_readme_sheet_is_ignored(session: Session,
                                    tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "s.xlsx", {"scheme": SCHEME})
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("README").append(["any notes", "are ignored"])
    wb.save(path)
    assert import_file(session, path).created == 1
    assert session.scalars(select(Section)).all() == []


def test_an_accepted_import_is_in_the_audit_ledger_with_its_hash(session: Session, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "base.xlsx", BASE)
    import_file(session, path, actor="office.li")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "import.file")).all()
    assert len(events) == 1 and events[0].actor == "office.li"
    payload = json.loads(events[0].payload)
    assert payload["file"] == "base.xlsx"
    assert payload["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert payload["counts"]["units"]["created"] == len(BASE["units"])
    assert audit.verify(session).ok
