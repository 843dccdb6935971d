"""Recognising sheets and header cells: English names or Chinese labels from ``sheets.py``."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.imports.readers import Cell, is_blank
from workflows.imports.sheets import SHEETS, SHEETS_BY_KIND, SheetSpec

# Sheets a workbook may carry besides the data sheets (the template's notes); never imported.
IGNORED_SHEETS = frozenset({"readme", "说明"})


def normalize(text: str) -> str:
    """Header and sheet names compare without case and surrounding or repeated blanks."""
    return " ".join(text.replace("\u3000", " ").split()).casefold()


def kind_named(name: str) -> str | None:
    """The kind a sheet name (or a ``--kind`` value) stands for: English kind or Chinese label."""
    key = normalize(name)
    for spec in SHEETS:
        if key in (spec.kind, normalize(spec.label_zh)):
            return spec.kind
    return None


def _names(spec: SheetSpec) -> dict[str, str]:
    names: dict[str, str] = {}
    for col in spec.columns:
        names[normalize(col.name)] = col.name
        names.setdefault(normalize(col.label_zh), col.name)
    return names


@dataclass(frozen=True)
class HeaderMap:
    """Which cell index holds which column, plus what could not be matched."""

    columns: dict[int, str]
    unknown: tuple[tuple[int, str], ...]
    duplicated: tuple[tuple[int, str], ...]
    missing: tuple[str, ...]

    @property
    def score(self) -> int:
        return len(self.columns)


def map_header(spec: SheetSpec, cells: tuple[Cell, ...]) -> HeaderMap:
    names = _names(spec)
    columns: dict[int, str] = {}
    unknown: list[tuple[int, str]] = []
    duplicated: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
        if is_blank(cell):
            continue
        text = str(cell).strip()
        column = names.get(normalize(text))
        if column is None:
            unknown.append((index, text))
        elif column in columns.values():
            duplicated.append((index, column))
        else:
            columns[index] = column
    missing = tuple(c for c in spec.required if c not in columns.values())
    return HeaderMap(columns, tuple(unknown), tuple(duplicated), missing)


def detect_kind(cells: tuple[Cell, ...]) -> tuple[str | None, str]:
    """The kind of a CSV from its header: all required columns present, most columns matched.

    Returns (kind, "") or (None, why not) when no kind fits or two fit equally well.
    """
    fits = [(map_header(spec, cells), spec.kind) for spec in SHEETS]
    complete = sorted(((m.score, kind) for m, kind in fits if not m.missing), reverse=True)
    if not complete:
        best, kind = max(fits, key=lambda f: f[0].score - len(f[0].missing))
        return None, (f"cannot tell which kind of sheet this is from its header (closest: {kind}, "
                      f"which lacks {', '.join(best.missing)}); name it with --kind")
    if len(complete) > 1 and complete[0][0] == complete[1][0]:
        return None, (f"header fits both {complete[0][1]} and {complete[1][1]}; "
                      "name the kind with --kind")
    return complete[0][1], ""


def column_letter(index: int) -> str:
    """Excel's name for a 0-based column index: 0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def spec_for(kind: str) -> SheetSpec:
    return SHEETS_BY_KIND[kind]
