"""The template workbook: one sheet per kind with exactly one header row, so it imports as is.

Each header cell carries its Chinese label and description as a cell comment; a README sheet
(which the importer ignores) lists every column in one table.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from workflows.imports.sheets import SHEETS, Column

README_TITLE = "README"


def describe(column: Column) -> str:
    """One line per fact a user filling the column needs: label, type, required, doc, choices."""
    lines = [column.label_zh, f"{column.type}, {'required' if column.required else 'optional'}",
             column.doc]
    if column.choices:
        lines.append("one of: " + ", ".join(column.choices))
    return "\n".join(lines)


def write_template(path: Path) -> None:
    wb = Workbook()
    readme = wb.active
    assert readme is not None
    readme.title = README_TITLE
    readme.append(["This sheet is ignored by `kaohe import`. Fill in the other sheets; the header "
                   "row may use the English names or the Chinese labels. See docs/import-format.md."])
    readme.append([])
    readme.append(["sheet", "工作表", "column", "列名", "type", "required", "description", "choices"])
    for cell in readme[3]:
        cell.font = Font(bold=True)
    for spec in SHEETS:
        for col in spec.columns:
            readme.append([spec.kind, spec.label_zh, col.name, col.label_zh, col.type,
                           "yes" if col.required else "no", col.doc, ", ".join(col.choices)])
        ws = wb.create_sheet(spec.kind)
        ws.append([c.name for c in spec.columns])
        for index, (cell, col) in enumerate(zip(ws[1], spec.columns, strict=True), start=1):
            cell.font = Font(bold=col.required)
            comment = Comment(describe(col), "kaohe")
            comment.width, comment.height = 300, 120
            cell.comment = comment
            ws.column_dimensions[get_column_letter(index)].width = max(12, len(col.name) + 4)
        ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGH", (12, 12, 22, 14, 10, 10, 70, 40), strict=True):
        readme.column_dimensions[letter].width = width
    wb.save(path)
