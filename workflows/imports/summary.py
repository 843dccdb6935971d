"""What an accepted import did, per kind: rows created, updated and found unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.imports.sheets import KIND_ORDER, SHEETS_BY_KIND


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportSummary:
    file: str
    counts: dict[str, KindCounts] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)  # each stored value an update replaced, old → new

    def count(self, kind: str, action: str) -> None:
        """Count one row; ``action`` is create, update or unchanged."""
        counts = self.counts.setdefault(kind, KindCounts())
        name = {"create": "created", "update": "updated"}.get(action, action)
        setattr(counts, name, getattr(counts, name) + 1)

    def __getitem__(self, kind: str) -> KindCounts:
        return self.counts.get(kind, KindCounts())

    @property
    def created(self) -> int:
        return sum(c.created for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.counts.values())

    def __str__(self) -> str:
        lines = [f"{self.file}: {self.created} created, {self.updated} updated, "
                 f"{self.unchanged} unchanged"]
        for kind in KIND_ORDER:
            if kind in self.counts:
                c = self.counts[kind]
                lines.append(f"  {kind:<11} created {c.created:>5}, updated {c.updated:>5}, "
                             f"unchanged {c.unchanged:>5}  ({SHEETS_BY_KIND[kind].label_zh})")
        lines.extend(f"  replaced: {change}" for change in self.replaced)
        return "\n".join(lines)
