"""Every validation error: the exact message (file, sheet, row, column) and nothing written."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import Scheme
from tests.import_files import (
    BASE,
    CATEGORIES,
    EVENTS,
    PROGRESS,
    SCHEME,
    SECTIONS,
    TARGETS,
    UNITS,
    Rows,
    row_counts,
    write_csv,
    write_workbook,
)
from workflows.imports import ImportRejected, import_file


@pytest.fixture
def base(session: Session, tmp_path: Path) -> Session:
    """The session with the small test scheme T2024 (through targets) already imported."""
    import_file(session, write_workbook(tmp_path / "base.xlsx", BASE))
    return session


def rejected(session: Session, path: Path, kind: str | None = None) -> list[str]:
    """Import ``path`` expecting a rejection; assert that no table changed; return the messages."""
    before = row_counts(session)
    with pytest.raises(ImportRejected) as info:
        import_file(session, path, kind)
    assert row_counts(session) == before
    return [str(e) for e in info.value.errors]


def csv_rejected(session: Session, tmp_path: Path, kind: str, rows: Rows,
                 name: str | None = None) -> list[str]:
    return rejected(session, write_csv(tmp_path / (name or f"{kind}.csv"), kind, rows))


def with_(rows: Rows, index: int, **changes: object) -> list[dict[str, object]]:
    """A copy of ``rows`` with row ``index`` changed (a None value empties the cell)."""
    out = [dict(r) for r in rows]
    out[index].update(changes)
    return out


T = {"scheme": "T2024"}


def test_missing_required_column(base: Session, tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("scheme,unit,indicator\nT2024,C01,GDP\n", encoding="utf-8")
    assert rejected(base, path, kind="targets") == [
        "targets.csv: sheet targets, row 1, column annual_value: missing required column (年度目标值)"]


def test_csv_kind_not_recognisable_without_kind(base: Session, tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("scheme,unit,indicator\nT2024,C01,GDP\n", encoding="utf-8")
    assert rejected(base, path) == [
        "targets.csv: row 1: cannot tell which kind of sheet this is from its header (closest: "
        "targets, which lacks annual_value); name it with --kind"]


def test_unknown_column_is_named(base: Session, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("scheme,code,name,level,remark\nT2024,C09,新区,county,x\n", encoding="utf-8")
    assert rejected(base, path) == [
        'units.csv: sheet units, row 1, column E: unknown column "remark"; the columns of units are '
        "scheme, code, name, level, category, parent"]


def test_missing_required_value(base: Session, tmp_path: Path) -> None:
    rows = [*UNITS, {**T, "code": "C09", "name": "", "level": "county"}]
    assert csv_rejected(base, tmp_path, "units", rows) == [
        "units.csv: sheet units, row 6, column name: missing required value (单位名称)"]


def test_non_numeric_decimal(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 0, annual_value="abc")) == [
        'targets.csv: sheet targets, row 2, column annual_value: expected a number, got "abc"']


def test_percent_sign_is_refused(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 0, annual_value="6.5%")) == [
        'targets.csv: sheet targets, row 2, column annual_value: expected a number without %, '
        'got "6.5%" (the indicator\'s measure says the unit)']


def test_too_many_decimal_places(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 1, annual_value="6.12345")) == [
        'targets.csv: sheet targets, row 3, column annual_value: "6.12345" has more than 4 decimal places']


def test_non_numeric_int(session: Session, tmp_path: Path) -> None:
    assert csv_rejected(session, tmp_path, "scheme", with_(SCHEME, 0, year="2024年")) == [
        'scheme.csv: sheet scheme, row 2, column year: expected a whole number, got "2024年"']


def test_bad_date(session: Session, tmp_path: Path) -> None:
    assert csv_rejected(session, tmp_path, "scheme", with_(SCHEME, 0, cutoff_date="2024-02-30")) == [
        'scheme.csv: sheet scheme, row 2, column cutoff_date: expected a date YYYY-MM-DD, got '
        '"2024-02-30" (day is out of range for month)']


def test_value_not_in_choices(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "units", with_(UNITS, 2, level="city")) == [
        "units.csv: sheet units, row 4, column level: expected one of county, district, township, "
        'street, department, stationed, got "city"']


@pytest.mark.parametrize(("kind", "rows", "message"), [
    ("targets", [{"scheme": "X2024", "unit": "C01", "indicator": "GDP", "annual_value": 1}],
     "row 2, column scheme: unknown scheme code X2024"),
    ("targets", [{**T, "unit": "C99", "indicator": "GDP", "annual_value": 1}],
     "row 2, column unit: unknown unit code C99 in scheme T2024"),
    ("targets", [{**T, "unit": "C01", "indicator": "XX", "annual_value": 1}],
     "row 2, column indicator: unknown indicator code XX in scheme T2024"),
    ("units", [{**T, "code": "C09", "name": "新区", "level": "county", "category": "city"}],
     "row 2, column category: unknown category code city in scheme T2024"),
    ("units", [{**T, "code": "T09", "name": "新街道", "level": "street", "parent": "C99"}],
     "row 2, column parent: unknown parent unit code C99 in scheme T2024"),
    ("indicators", [{**T, "code": "NEW", "name_zh": "新", "name_en": "New", "section": "social",
                     "measure": "分", "direction": "higher", "method": "rubric", "points": 5}],
     "row 2, column section: unknown section code social in scheme T2024"),
    ("sections", [{**T, "category": "dept", "code": "x", "name_zh": "x", "name_en": "x",
                   "weight": 100}],
     "row 2, column category: unknown category code dept in scheme T2024"),
    ("targets", [{**T, "unit": "C01", "indicator": "GDP", "annual_value": 1, "lead_unit": "Z1"}],
     "row 2, column lead_unit: unknown lead unit code Z1 in scheme T2024"),
    ("targets", [{**T, "unit": "C01", "indicator": "GDP", "annual_value": 1, "co_units": "D07;Z2"}],
     "row 2, column co_units: unknown co-unit code Z2 in scheme T2024"),
    ("events", [{**EVENTS[0], "unit": "C99"}],
     "row 2, column unit: unknown unit code C99 in scheme T2024"),
])
def test_unknown_code(base: Session, tmp_path: Path, kind: str, rows: Rows, message: str) -> None:
    assert csv_rejected(base, tmp_path, kind, rows) == [f"{kind}.csv: sheet {kind}, {message}"]


def test_codes_resolve_against_rows_of_the_same_workbook(session: Session, tmp_path: Path) -> None:
    """A unit naming a category that only this workbook defines is fine; a typo is not."""
    sheets = {**BASE, "units": with_(UNITS, 3, category="countyy")}
    assert rejected(session, write_workbook(tmp_path / "all.xlsx", sheets)) == [
        "all.xlsx: sheet units, row 5, column category: unknown category code countyy in scheme T2024"]


def test_duplicate_unit_code_in_file(base: Session, tmp_path: Path) -> None:
    rows = [*UNITS, {**T, "code": "C02", "name": "东山县(重复)", "level": "county"}]
    assert csv_rejected(base, tmp_path, "units", rows) == [
        "units.csv: sheet units, row 6, column code: duplicate unit code C02 in scheme T2024 "
        "(also on row 4)"]


def test_duplicate_target_in_file(base: Session, tmp_path: Path) -> None:
    rows = [*TARGETS, {**T, "unit": "C01", "indicator": "GDP", "annual_value": 7}]
    assert csv_rejected(base, tmp_path, "targets", rows) == [
        "targets.csv: sheet targets, row 5, column indicator: duplicate target C01 × GDP in scheme "
        "T2024 (also on row 2)"]


def test_progress_conflicting_with_the_database(base: Session, tmp_path: Path) -> None:
    import_file(base, write_csv(tmp_path / "p1.csv", "progress", PROGRESS))
    assert csv_rejected(base, tmp_path, "progress", with_(PROGRESS, 0, value="1.7")) == [
        "progress.csv: sheet progress, row 2, column value: progress report C01 × GDP 2024-03 from "
        "C01 already exists with value 1.6, not 1.7: a correction goes through verification, "
        "not a re-import"]


def test_event_conflicting_with_the_database(base: Session, tmp_path: Path) -> None:
    import_file(base, write_csv(tmp_path / "e1.csv", "events", EVENTS))
    assert csv_rejected(base, tmp_path, "events", with_(EVENTS, 0, title="全国文明城区")) == [
        'events.csv: sheet events, row 2, column title: event E01 already exists with title '
        '"全国文明城市", not "全国文明城区": an event is corrected through verification, not a re-import']


@pytest.mark.parametrize(("period", "message"), [
    ("2024-13", 'expected a month YYYY-MM, got "2024-13"'),
    ("March", 'expected a month YYYY-MM, got "March"'),
    ("2023-12", "period 2023-12 is outside the scheme year 2024"),
])
def test_bad_period(base: Session, tmp_path: Path, period: str, message: str) -> None:
    assert csv_rejected(base, tmp_path, "progress", with_(PROGRESS, 1, period=period)) == [
        f"progress.csv: sheet progress, row 3, column period: {message}"]


def test_locked_target_value_cannot_change(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 2, annual_value=12)) == [
        "targets.csv: sheet targets, row 4, column annual_value: target C01 × PROJ is locked: "
        "annual_value would change from 10 to 12; a locked target changes only through an approved "
        "target adjustment"]


def test_locked_target_cannot_be_unlocked(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 2, locked="no")) == [
        "targets.csv: sheet targets, row 4, column locked: target C01 × PROJ is locked and cannot be "
        "unlocked by import; use a target adjustment"]


def test_section_weights_must_sum_to_100(session: Session, tmp_path: Path) -> None:
    sheets = {**BASE, "sections": with_(SECTIONS, 2, weight="5")}
    assert rejected(session, write_workbook(tmp_path / "scheme.xlsx", sheets)) == [
        "scheme.xlsx: sheet sections, row 2, column weight: the section weights of category county "
        "sum to 95, not 100 (key_work=40, quantitative=50, other=5)"]


def test_section_weight_sum_counts_the_stored_sections(base: Session, tmp_path: Path) -> None:
    rows = [{**T, "category": "county", "code": "social", "name_zh": "社会评价",
             "name_en": "Social", "weight": "0.0001"}]
    assert csv_rejected(base, tmp_path, "sections", rows) == [
        "sections.csv: sheet sections, row 2, column weight: the section weights of category county "
        "sum to 100.0001, not 100 (social=0.0001, key_work=40, other=10, quantitative=50)"]


@pytest.mark.parametrize(("params", "message"), [
    ('{"cap": 3', "invalid JSON (Expecting ',' delimiter: line 1 column 10 (char 9))"),
    ("[1, 2]", 'expected a JSON object {…}, got "[1, 2]"'),
    ('{"cap": NaN}', "invalid JSON (NaN is not a number JSON allows)"),
])
def test_invalid_params_json(base: Session, tmp_path: Path, params: str, message: str) -> None:
    rows = [{**T, "code": "NEW", "name_zh": "新", "name_en": "New", "section": "other",
             "measure": "分", "direction": "higher", "method": "rubric", "points": 5, "params": params}]
    assert csv_rejected(base, tmp_path, "indicators", rows) == [
        f"indicators.csv: sheet indicators, row 2, column params: {message}"]


@pytest.mark.parametrize(("milestones", "message"), [
    ("03-20;06-45", 'expected milestones like 03=20;06=45;12=100, got "03-20"'),
    ("03=20;06=15;12=100", "milestones must be cumulative (never decreasing): 06=15 is below 03=20"),
    ("03=20;13=100", 'milestone month must be 01–12, got "13=100"'),
    ("00=5;12=100", 'milestone month must be 01–12, got "00=5"'),
    ("03=abc", 'milestone "03=abc": expected a number, got "abc"'),
    ("03=20;03=30", "milestone month 03 is given twice"),
])
def test_bad_milestones(base: Session, tmp_path: Path, milestones: str, message: str) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 1, milestones=milestones)) == [
        f"targets.csv: sheet targets, row 3, column milestones: {message}"]


def test_milestones_schedule_needs_milestones(base: Session, tmp_path: Path) -> None:
    rows = with_(TARGETS, 1, schedule="milestones", milestones=None)
    assert csv_rejected(base, tmp_path, "targets", rows) == [
        "targets.csv: sheet targets, row 3, column milestones: schedule milestones needs milestones, "
        "e.g. 03=20;06=45;12=100"]


@pytest.mark.parametrize(("co_units", "message"), [
    ("D07:1.5", "co-unit D07: share must be between 0 and 1, got 1.5"),
    ("D07:-0.1", "co-unit D07: share must be between 0 and 1, got -0.1"),
    ("D07:abc", 'co-unit D07: share expected a number, got "abc"'),
    ("C02:0.5", "unit C02 cannot be a co-unit of its own target"),
])
def test_bad_co_units(base: Session, tmp_path: Path, co_units: str, message: str) -> None:
    assert csv_rejected(base, tmp_path, "targets", with_(TARGETS, 1, co_units=co_units)) == [
        f"targets.csv: sheet targets, row 3, column co_units: {message}"]


def test_verified_value_needs_verified_by(base: Session, tmp_path: Path) -> None:
    assert csv_rejected(base, tmp_path, "progress", with_(PROGRESS, 1, verified_by=None)) == [
        "progress.csv: sheet progress, row 3, column verified_by: verified_value needs verified_by "
        "(核定人): who verified it"]


def test_nothing_imports_into_a_sealed_scheme(base: Session, tmp_path: Path) -> None:
    scheme = base.scalars(select(Scheme).where(Scheme.code == "T2024")).one()
    scheme.status = "sealed"
    base.flush()
    assert csv_rejected(base, tmp_path, "progress", PROGRESS) == [
        "progress.csv: sheet progress, row 2, column scheme: scheme T2024 is sealed: nothing can be "
        "imported into it"]


def test_locked_scheme_definition_cannot_change(base: Session, tmp_path: Path) -> None:
    scheme = base.scalars(select(Scheme).where(Scheme.code == "T2024")).one()
    scheme.status = "locked"
    base.flush()
    assert csv_rejected(base, tmp_path, "units", with_(UNITS, 2, name="东山区")) == [
        "units.csv: sheet units, row 4, column name: scheme T2024 is locked: unit C02 cannot be added "
        "or changed by import"]
    # facts still import up to the in-force scheme's cut-off (2024-12-31, Beijing time), not after
    in_time = dt.datetime(2024, 12, 31, 15, 59, tzinfo=dt.UTC)
    import_file(base, write_csv(tmp_path / "p.csv", "progress", PROGRESS), now=in_time)


def test_progress_needs_a_target(base: Session, tmp_path: Path) -> None:
    rows = [{**T, "unit": "C02", "indicator": "PROJ", "period": "2024-03", "value": 1}]
    assert csv_rejected(base, tmp_path, "progress", rows) == [
        "progress.csv: sheet progress, row 2, column indicator: no target for unit C02 × indicator "
        "PROJ in scheme T2024: progress can be reported only against a target"]


def test_every_error_is_reported_not_just_the_first(base: Session, tmp_path: Path) -> None:
    rows = with_(with_(TARGETS, 0, annual_value="x"), 2, unit="C99")
    rows.append({**T, "unit": "C02", "indicator": "GDP", "annual_value": 1})
    assert csv_rejected(base, tmp_path, "targets", rows) == [
        'targets.csv: sheet targets, row 2, column annual_value: expected a number, got "x"',
        "targets.csv: sheet targets, row 4, column unit: unknown unit code C99 in scheme T2024",
        "targets.csv: sheet targets, row 5, column indicator: duplicate target C02 × GDP in scheme "
        "T2024 (also on row 3)",
    ]


def test_unknown_sheet_name_in_workbook(session: Session, tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "wb.xlsx", {"scheme": SCHEME, "categories": CATEGORIES})
    wb = openpyxl.load_workbook(path)
    wb["categories"].title = "Sheet2"
    wb.save(path)
    assert rejected(session, path) == [
        "wb.xlsx: sheet Sheet2: sheet name is not a kind; name it one of scheme, categories, "
        "sections, units, indicators, targets, progress, events (or its Chinese label), or README "
        "for notes"]


def test_undecodable_csv(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(b"scheme,code\n\xff\xfe\xff,x\n")
    assert rejected(session, path) == [
        "units.csv: is neither UTF-8 nor GB18030 (undecodable byte at 12); save it as CSV UTF-8"]


def test_unsupported_file_type(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "units.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    assert rejected(session, path) == ["units.xls: is an old .xls workbook; save it as .xlsx"]


def test_unit_parents_must_not_loop(base: Session, tmp_path: Path) -> None:
    rows = with_(UNITS, 1, parent="T01")
    assert csv_rejected(base, tmp_path, "units", rows) == [
        "units.csv: sheet units, row 2, column parent: units' parents form a loop: T01 → C01 → T01",
        "units.csv: sheet units, row 3, column parent: units' parents form a loop: C01 → T01 → C01",
    ]


@pytest.mark.parametrize(("kind", "rows", "message"), [
    ("scheme", [{**SCHEME[0], "year": 2025}],
     "row 2, column year: scheme T2024 exists with year 2024; a scheme's year cannot change"),
    ("scheme", [{**SCHEME[0], "code": "T1999", "year": 1999, "appeal_days": 0}],
     "row 2, column year: year must be between 2000 and 2100, got 1999"),
    ("categories", [{**CATEGORIES[0], "good_min": 95}],
     "row 2, column good_min: good_min 95 is above excellent_min 90"),
    ("categories", [{**CATEGORIES[0], "excellent_quota": "三个"}],
     'row 2, column excellent_quota: expected a count like 3 or a percentage like 20%, got "三个"'),
    ("progress", [{**PROGRESS[0], "verified_by": "王五"}],
     "row 2, column verified_value: verified_by is given without verified_value"),
    ("events", [{**EVENTS[0], "verified_quantity": 1}],
     "row 2, column verified_by: verified_quantity needs verified_by (核定人): who verified it"),
    ("events", [{**EVENTS[0], "quantity": -1}],
     "row 2, column quantity: quantity must not be negative, got -1"),
    ("sections", [{**SECTIONS[0], "weight": 140}],
     "row 2, column weight: weight must be between 0 and 100, got 140"),
])
def test_more_value_rules(base: Session, tmp_path: Path, kind: str, rows: Rows, message: str) -> None:
    errors = csv_rejected(base, tmp_path, kind, rows)
    assert errors[0] == f"{kind}.csv: sheet {kind}, {message}"


def test_corrupt_workbook(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "scheme.xlsx"
    path.write_text("code,year\n", encoding="utf-8")
    assert rejected(session, path) == [
        "scheme.xlsx: is not a readable .xlsx workbook (File is not a zip file)"]


def test_workbook_with_a_wrong_stored_dimension_is_read_whole(session: Session, tmp_path: Path) -> None:
    """Some writers store <dimension ref="A1"/>; read-only openpyxl would then see one cell only."""
    good = write_workbook(tmp_path / "good.xlsx", {"scheme": SCHEME})
    path = tmp_path / "scheme.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1"/>', data)
                assert n == 1
            dst.writestr(item, data)
    summary = import_file(session, path)
    assert summary["scheme"].created == 1
