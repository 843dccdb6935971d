"""The column tables of docs/import-format.md, generated from ``sheets.py`` so they cannot drift.

``python -m workflows.imports.docgen`` prints them; a test checks the document contains them.
"""

from __future__ import annotations

from workflows.imports.sheets import SHEETS, SheetSpec


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def sheet_table(spec: SheetSpec) -> str:
    lines = [f"### `{spec.kind}` — {spec.label_zh}", "", spec.doc, "",
             "| column | 中文 | type | required | description |",
             "|---|---|---|---|---|"]
    for c in spec.columns:
        doc = c.doc + (f" One of: {', '.join(f'`{x}`' for x in c.choices)}." if c.choices else "")
        lines.append(f"| `{c.name}` | {c.label_zh} | {c.type} | {'yes' if c.required else ''} | "
                     f"{_cell(doc)} |")
    return "\n".join(lines)


def tables() -> str:
    return "\n\n".join(sheet_table(s) for s in SHEETS) + "\n"


if __name__ == "__main__":
    print(tables(), end="")
