"""The import graph of the source tree has no circle, and its arrows point the way DESIGN.md says.

Built from the source text (ast), so every import counts: at module top, inside a function, under
TYPE_CHECKING. Two graphs: modules, and "rooms" (each top-level package; docking split into its subpackages
and top-level modules), the level at which a newcomer reads the tree.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("disco_core", "data_prep", "docking", "images", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "results" in path.relative_to(ROOT).parts:    # study records, not the package
                continue
            found[_module_name(path)] = path
    return found


def _imported(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that `name` (a dotted import target) loads, if any: the longest known prefix."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports (read once per session; callers do not change it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                imported = _imported(target, modules)
                if imported is not None and imported != name:
                    graph[name].add(imported)
    return graph


def room(module: str) -> str:
    """docking.runs.run -> docking.runs; docking.api -> docking.api; benchmarks.pool -> benchmarks."""
    parts = module.split(".")
    if parts[0] == "docking" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = rooms.setdefault(room(module), set())
        edges.update(room(t) for t in targets if room(t) != room(module))
    return rooms


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_planted_circle():
    """The checker itself can fail: a three-node circle beside a tail is found, and only it."""
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(planted) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    # docking.api imports the run only inside dock(): the graph must still see it
    assert "docking.runs.run" in graph["docking.api"]
    assert "docking.api" in graph["docking"]


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_no_circle_between_packages():
    assert cycles(room_graph(import_graph())) == []


# (room, rooms it must not import): DESIGN.md's arrows
FORBIDDEN = [
    ("disco_core", {"data_prep", "images", "benchmarks"} | {"docking"}),
    ("images", {"docking"}),
    ("docking.physics", {"docking.model", "docking.inference", "docking.runs", "docking.request"}),
    ("docking.training", {"docking.inference", "docking.runs"}),
    ("docking.report", {"docking.inference", "docking.runs", "docking.model", "docking.physics"}),
    ("docking.contacts", {"docking.inference", "docking.runs", "docking.model", "docking.physics"}),
    ("docking.request", {"docking.inference", "docking.runs", "docking.report", "docking.contacts",
                         "docking.model", "docking.training", "docking.api"}),
    ("docking.inference", {"docking.runs", "docking.report", "docking.api"}),
    ("docking.scoring", {"docking.inference", "docking.runs", "docking.request", "docking.report", "docking.api"}),
]


@pytest.mark.parametrize("source,forbidden", FORBIDDEN, ids=[f for f, _ in FORBIDDEN])
def test_arrows_point_down(source, forbidden):
    rooms = room_graph(import_graph())
    reached = {target for target in rooms.get(source, set()) if target.split(".")[0] in forbidden or target in forbidden}
    assert not reached, f"{source} imports {sorted(reached)}"
