"""The imports of crashplan point one way, down the data flow, and form no cycle.

    cli -> commands -> cli_options -> crashplan -> api -> render -> planning -> {host, profiles} -> kernel -> values/units -> errors

Every import counts, also the ones inside functions (crashplan defers imports for start-up
speed; a deferred import is still a dependency).  A package may import its own modules and any
package below it; ``host`` and ``profiles`` sit side by side and do not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crashplan

PACKAGE = Path(crashplan.__file__).parent

# The rank of each top-level part of crashplan; a module imports only from its own part or
# from a part of lower rank.
RANK = {
    "_frozen": 0,
    "_version": 0,
    "errors": 0,
    "values": 1,
    "units": 1,
    "schemas": 1,  # JSON Schema documents and their loader
    "envelope": 1,
    "kernel": 2,
    "host": 3,
    "profiles": 3,
    "planning": 4,
    "render": 5,
    "api": 6,
    "": 7,  # the package itself: the front door's names, loaded lazily from api
    "cli_options": 8,
    "commands": 9,  # one module per command, imported by the group in cli when used
    "cli": 10,
    "__main__": 11,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _part(module: str) -> str:
    """``crashplan.host.facts`` -> ``host``; the package itself -> ``""``."""
    return module.split(".")[1] if "." in module else ""


def _imports(path: Path) -> set[str]:
    """Every crashplan module ``path`` imports (``from crashplan.x import y`` may name a module y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "crashplan")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "crashplan":
            found.add(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    found.add(sub)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def test_every_part_has_a_rank() -> None:
    """A new top-level module or package must be placed in the layering on purpose."""
    assert {_part(m) for m in MODULES} <= set(RANK), {_part(m) for m in MODULES} - set(RANK)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    """No import points up the data flow or across to a sibling part."""
    part = _part(module)
    upward = sorted(
        target for target in GRAPH[module] if _part(target) != part and RANK[_part(target)] >= RANK[part]
    )
    assert not upward, f"{module} imports {upward}"


def test_no_import_cycle() -> None:
    """No module reaches itself through imports (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v] & MODULES.keys()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checks_see_a_bad_import(tmp_path: Path) -> None:
    """The import reader finds deferred and ``from x import module`` imports (the test can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from crashplan.planning import recommend\n    import crashplan.cli\n")
    assert _imports(bad) >= {"crashplan.planning.recommend", "crashplan.cli"}
