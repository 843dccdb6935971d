"""docs/import-format.md carries the column tables generated from sheets.py, unchanged."""

from __future__ import annotations

from pathlib import Path

from workflows.imports.docgen import tables
from workflows.imports.sheets import SHEETS

DOC = Path(__file__).resolve().parent.parent / "docs" / "import-format.md"


def test_doc_holds_the_generated_tables() -> None:
    assert tables() in DOC.read_text(encoding="utf-8"), (
        "regenerate the tables: python -m workflows.imports.docgen")


def test_every_column_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in SHEETS:
        assert f"### `{spec.kind}`" in text
        for column in spec.columns:
            assert f"| `{column.name}` | {column.label_zh} |" in text


def test_labels_are_unique_within_each_sheet() -> None:
    """A header cell must name one column: no two columns of a sheet share a name or label."""
    for spec in SHEETS:
        names = [c.name for c in spec.columns] + [c.label_zh for c in spec.columns]
        assert len(set(names)) == len(names), spec.kind
