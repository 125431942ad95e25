"""The import graph of the portal's own code, read from the source (nothing is imported).

A module is a dotted name (``portal.grants.tokens``); a room is what a module belongs to: a
subpackage of ``portal`` (``portal.grants``), a top-level module of ``portal``
(``portal.models``), or ``accounts``. ``include("portal.api.urls")`` in a URL module counts as
an import, since Django imports it by that name.
"""

import ast
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "accounts")


def modules() -> dict[str, Path]:
    """Every module of the portal's own packages, migrations left out."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def room(module: str) -> str:
    """``accounts`` for the accounts app, else ``portal.<first part>``."""
    parts = module.split(".")
    if parts[0] == "accounts":
        return "accounts"
    return ".".join(parts[:2])


def _imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in known else base
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "include"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def module_graph() -> dict[str, set[str]]:
    """Module -> the portal modules it imports (packages' ``__init__`` only when named)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        for target in _imported(module, path, known):
            if target in known and target != module and target not in PACKAGES:
                graph[module].add(target)
    return graph


def room_graph() -> dict[str, set[str]]:
    """Room -> the other rooms its modules import."""
    rooms: dict[str, set[str]] = defaultdict(set)
    for module, targets in module_graph().items():
        for target in targets:
            if room(target) != room(module):
                rooms[room(module)].add(room(target))
    return rooms


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of nodes that reach each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def depth(graph: dict[str, set[str]]) -> int:
    """Levels in the longest import chain of an acyclic graph (a lone module is 1)."""

    @cache
    def levels(node: str) -> int:
        return 1 + max((levels(nxt) for nxt in graph.get(node, ())), default=0)

    return max((levels(node) for node in list(graph)), default=0)
