"""Typed reads of YAML values that report problems instead of raising, so one load lists them all."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.pack.errors import Issues, Path
from engine.values.decimals import check_decimal


class Reader:
    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.constants: dict[str, Decimal] = {}  # the pack's constants:, read before its rules

    def mapping(
        self,
        data: Any,
        path: Path,
        allowed: tuple[str, ...],
        rule_id: str | None = None,
        required: tuple[str, ...] = (),
        where: str | None = None,
    ) -> dict[str, Any]:
        """``data`` as a dict; unknown keys and missing required keys are reported by name."""
        label = where if where is not None else ".".join(str(p) for p in path if isinstance(p, str))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.issues.add(path, "must be a mapping", rule_id, label or "(pack)")
            return {}
        for key in data:
            if key not in allowed:
                self.issues.add(
                    (*path, key),
                    f"unknown field '{key}' (allowed: {', '.join(allowed)})",
                    rule_id,
                    f"{label}.{key}" if label else key,
                )
        for key in required:
            if key not in data or data[key] is None:
                self.issues.add(
                    path, f"missing required field '{key}'", rule_id, f"{label}.{key}" if label else key
                )
        return {k: v for k, v in data.items() if k in allowed}

    def num(self, value: Any, path: Path, field: str, rule_id: str | None = None) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.issues.add(path, f"must be a number, not {value!r}", rule_id, field)
            return None
        try:
            return check_decimal(value, field)
        except ValueError as exc:
            self.issues.add(path, str(exc), rule_id, field)
            return None

    def int_(
        self, value: Any, path: Path, field: str, rule_id: str | None = None, minimum: int = 0
    ) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.issues.add(path, f"must be an integer ≥ {minimum}, not {value!r}", rule_id, field)
            return None
        return value

    def text(self, value: Any, path: Path, field: str, rule_id: str | None = None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.issues.add(path, f"must be non-empty text, not {value!r}", rule_id, field)
            return None
        return value

    def bool_(self, value: Any, path: Path, field: str, default: bool, rule_id: str | None = None) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.issues.add(path, f"must be true or false, not {value!r}", rule_id, field)
            return default
        return value

    def choice(
        self, value: Any, path: Path, field: str, options: tuple[str, ...], rule_id: str | None = None
    ) -> str | None:
        if value is None:
            return None
        if value not in options:
            self.issues.add(path, f"{value!r} is not one of {', '.join(options)}", rule_id, field)
            return None
        return str(value)

    def text_list(self, value: Any, path: Path, field: str, rule_id: str | None = None) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.issues.add(path, "must be a list of text", rule_id, field)
            return ()
        return tuple(value)
