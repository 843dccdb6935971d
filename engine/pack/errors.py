"""Errors found in a rule pack, each naming file, line, rule id and field."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PackIssue:
    file: str
    line: int
    rule_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{where}:{rule} {self.field}: {self.message}"


class PackError(ValueError):
    """A pack that must not be stored or run; ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: list[PackIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("invalid rule pack:\n" + "\n".join(f"  {i}" for i in self.issues))


Path = tuple[str | int, ...]


@dataclass
class Issues:
    """Collects issues while loading; ``line(path)`` finds the nearest YAML mark for a path."""

    file: str
    marks: dict[Path, int]
    found: list[PackIssue] = field(default_factory=list)

    def line(self, path: Path) -> int:
        p = path
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), 1)

    def add(
        self, path: Path, message: str, rule_id: str | None = None, field_name: str | None = None
    ) -> None:
        name = field_name if field_name is not None else ".".join(str(x) for x in path) or "(pack)"
        self.found.append(PackIssue(self.file, self.line(path), rule_id, name, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise PackError(sorted(self.found, key=lambda i: (i.line, i.field, i.message)))
