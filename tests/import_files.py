"""Builders for import test files: a small valid scheme, written as a workbook or as CSVs."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import Base
from workflows.imports.sheets import SHEETS_BY_KIND

Rows = Sequence[Mapping[str, Any]]

SCHEME: Rows = [{"code": "T2024", "year": 2024, "name": "测试方案", "cutoff_date": "2024-12-31",
                 "publication_days": 7, "appeal_days": 5}]
CATEGORIES: Rows = [{"scheme": "T2024", "code": "county", "name_zh": "县区", "name_en": "Counties",
                     "excellent_min": 90, "good_min": 80, "fair_min": 60, "excellent_quota": "20%"}]
SECTIONS: Rows = [
    {"scheme": "T2024", "category": "county", "code": "key_work", "name_zh": "重点工作",
     "name_en": "Key work", "weight": 40},
    {"scheme": "T2024", "category": "county", "code": "quantitative", "name_zh": "定量指标",
     "name_en": "Quantitative", "weight": "50"},
    {"scheme": "T2024", "category": "county", "code": "other", "name_zh": "其他",
     "name_en": "Other", "weight": 10},
]
UNITS: Rows = [
    {"scheme": "T2024", "code": "T01", "name": "城关街道", "level": "street", "parent": "C01"},
    {"scheme": "T2024", "code": "C01", "name": "城关区", "level": "district", "category": "county"},
    {"scheme": "T2024", "code": "C02", "name": "东山县", "level": "county", "category": "county"},
    {"scheme": "T2024", "code": "D07", "name": "市发改委", "level": "department"},
]
INDICATORS: Rows = [
    {"scheme": "T2024", "code": "GDP", "name_zh": "地区生产总值增速", "name_en": "GDP growth",
     "section": "quantitative", "measure": "%", "direction": "higher", "method": "step",
     "points": 10, "params": '{"per_point": 0.1, "cap": 3}', "source_department": "市统计局"},
    {"scheme": "T2024", "code": "PROJ", "name_zh": "重点项目", "name_en": "Key projects",
     "section": "key_work", "measure": "个", "direction": "higher", "method": "proportional",
     "points": "5.5"},
]
TARGETS: Rows = [
    {"scheme": "T2024", "unit": "C01", "indicator": "GDP", "annual_value": "6.5"},
    {"scheme": "T2024", "unit": "C02", "indicator": "GDP", "annual_value": 6,
     "milestones": "03=20;06=45;09=70;12=100", "co_units": "D07:0.3"},
    {"scheme": "T2024", "unit": "C01", "indicator": "PROJ", "annual_value": 10, "locked": "是"},
]
PROGRESS: Rows = [
    {"scheme": "T2024", "unit": "C01", "indicator": "GDP", "period": "2024-03", "value": "1.6"},
    {"scheme": "T2024", "unit": "C02", "indicator": "GDP", "period": "2024-03", "value": "1.2",
     "verified_value": "1.1", "verified_by": "王五"},
]
EVENTS: Rows = [
    {"scheme": "T2024", "code": "E01", "unit": "C01", "kind": "honour", "type": "honour",
     "level": "national", "title": "全国文明城市", "document_no": "文明委〔2024〕1号",
     "document_date": "2024-06-01", "work_year": 2024},
]
BASE: dict[str, Rows] = {"scheme": SCHEME, "categories": CATEGORIES, "sections": SECTIONS,
                         "units": UNITS, "indicators": INDICATORS, "targets": TARGETS}
FULL: dict[str, Rows] = {**BASE, "progress": PROGRESS, "events": EVENTS}


def header(kind: str, rows: Rows) -> list[str]:
    """The columns the rows use, in the order sheets.py lists them (required ones always)."""
    spec = SHEETS_BY_KIND[kind]
    used = {k for r in rows for k in r}
    return [c.name for c in spec.columns if c.required or c.name in used]


def write_workbook(path: Path, sheets: Mapping[str, Rows]) -> Path:
    wb = openpyxl.Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for kind, rows in sheets.items():
        ws = wb.create_sheet(kind)
        columns = header(kind, rows)
        ws.append(columns)
        for r in rows:
            ws.append([r.get(c) for c in columns])
    wb.save(path)
    return path


def csv_text(kind: str, rows: Rows, columns: list[str] | None = None) -> str:
    columns = columns or header(kind, rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return out.getvalue()


def write_csv(path: Path, kind: str, rows: Rows, encoding: str = "utf-8") -> Path:
    path.write_bytes(csv_text(kind, rows).encode(encoding))
    return path


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table: every table, so a test sees any write an import should not have made."""
    return {t.name: session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables}
