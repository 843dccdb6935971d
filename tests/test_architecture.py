"""The house's rules, checked on the code as it is: no import circle inside any package.

An import circle makes a module's meaning depend on which of its partners was imported first, and
it is how the rooms blur (the CLI commands each importing the group that imports them). The
layering between rooms is checked by ``lint-imports`` (``[tool.importlinter]`` in pyproject.toml,
run by ``make lint``); this test finds circles of any length, function-level imports included.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("engine", "workflows", "audit", "store", "web")


def _circles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v) & modules):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return sorted(found)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(graph: grimp.ImportGraph, package: str) -> None:
    modules = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    assert _circles(graph, modules) == []


def test_the_circle_finder_finds_a_circle() -> None:
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c", "p.d"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.c")
    g.add_import(importer="p.c", imported="p.a")
    g.add_import(importer="p.d", imported="p.a")
    assert _circles(g, set(g.modules)) == [["p.a", "p.b", "p.c"]]
