"""YAML to plain values with line marks, numbers as exact Decimals.

PyYAML would turn ``0.5`` into a binary float and keep no positions; composing the node tree
ourselves gives Decimals, refuses exponent numbers, NaN/inf and duplicate keys, and remembers the
line of every key so errors can point at it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from engine.pack.errors import Issues, Path

_PLAIN_DECIMAL = re.compile(r"^[-+]?(\d[\d_]*)?(\.\d*)?$")


def load_with_marks(text: str, filename: str) -> tuple[Any, Issues]:
    """Parse ``text``; the returned Issues holds the marks and any problem met while converting."""
    issues = Issues(filename, {})
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        issues.marks[()] = mark.line + 1 if mark is not None else 1
        issues.add((), f"not valid YAML: {getattr(exc, 'problem', None) or exc}", field_name="(yaml)")
        return None, issues
    if node is None:
        return None, issues
    issues.marks[()] = node.start_mark.line + 1
    return _convert(node, (), issues), issues


def _convert(node: yaml.Node, path: Path, issues: Issues) -> Any:
    issues.marks.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            # Keys are always text: YAML 1.1 would read `on:` as true and `01:` as an integer.
            if not isinstance(key_node, yaml.ScalarNode):
                issues.add(path, "a key must be a plain scalar")
                continue
            skey = str(key_node.value)
            child = (*path, skey)
            issues.marks[child] = key_node.start_mark.line + 1
            if skey in out:
                issues.add(child, f"duplicate key {skey!r}")
                continue
            out[skey] = _convert(value_node, child, issues)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            issues.marks[child] = item.start_mark.line + 1
            items.append(_convert(item, child, issues))
        return items
    return _scalar(node, path, issues)


def _scalar(node: yaml.Node, path: Path, issues: Issues) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        issues.add(path, "a key must be a plain scalar")
        return None
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:float":
        if not _PLAIN_DECIMAL.match(value):
            issues.add(path, f"number {value!r} must be written as a plain decimal (no exponent, NaN or inf)")
            return None
        try:
            return Decimal(value.replace("_", ""))
        except InvalidOperation:
            issues.add(path, f"number {value!r} is not a decimal")
            return None
    if tag == "tag:yaml.org,2002:int":
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            issues.add(path, f"integer {value!r} must be written in decimal")
            return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() in ("yes", "true", "on", "y")
    if tag == "tag:yaml.org,2002:null":
        return None
    # Dates, timestamps and anything else stay text: the pack format has no date values.
    return str(value)
