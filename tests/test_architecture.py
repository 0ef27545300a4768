"""The map holds: no import cycle between any two modules, and no part imports what
ARCHITECTURE.md's boundary table says it must not know.

Every import counts: module-level, function-local and under TYPE_CHECKING (a cycle hidden
in a function is still a cycle). The rules are read from ARCHITECTURE.md itself, so the
document and this test cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import milvus_conn

PACKAGE = Path(milvus_conn.__file__).parent
ARCHITECTURE = PACKAGE.parent.parent / "ARCHITECTURE.md"
MAX_TOP_LEVEL = 20  # modules directly in src/milvus_conn/


def module_names() -> dict[str, Path]:
    """Every module, by its dotted name under milvus_conn ("" for the package itself)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = module_names()


def imports_of(name: str) -> set[str]:
    """The modules of ours that `name` imports anywhere in its source."""
    path = MODULES[name]
    here = name.split(".") if name else []
    if path.name != "__init__.py":
        here = here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("milvus_conn."):
                    found.add(alias.name.removeprefix("milvus_conn."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "milvus_conn":
                module = node.module.removeprefix("milvus_conn").removeprefix(".")
            else:
                continue
            for alias in node.names:  # `from . import health` imports the module health
                inner = f"{module}.{alias.name}" if module else alias.name
                found.add(inner if inner in MODULES else module)
    return {each for each in found if each in MODULES and each != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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


def within(module: str, part: str) -> bool:
    return module == part or module.startswith(part + ".")


def boundaries() -> list[tuple[list[str], set[str] | None, set[str]]]:
    """ARCHITECTURE.md's boundary table: (parts, the only parts they may import or None
    for any, the parts they must not import). A row `library` stands for every module
    that no other row names."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Boundaries", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        parts, only, never = (re.findall(r"`([\w.*]+)`", cell) for cell in cells)
        rows.append((parts, set(only) if cells[1] != "any" else None, set(never)))
    assert rows, "ARCHITECTURE.md has no boundary table"
    return rows


def part_of(module: str, rows: list[tuple[list[str], set[str] | None, set[str]]]) -> int:
    """The row a module falls under: the longest part that contains it, else `library`."""
    best, length = None, -1
    for number, (parts, _, _) in enumerate(rows):
        for part in parts:
            if part != "library" and within(module, part) and len(part) > length:
                best, length = number, len(part)
    if best is None:
        best = next(n for n, (parts, _, _) in enumerate(rows) if "library" in parts)
    return best


def test_no_two_modules_import_each_other_even_inside_a_function():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    graph = {**GRAPH, "probe.results": GRAPH["probe.results"] | {"probe.health"}}
    assert any({"probe.health", "probe.results"} <= set(c) for c in cycles(graph))


def violations(module: str, graph: dict[str, set[str]]) -> list[str]:
    """What `module` imports that its row of the boundary table forbids."""
    rows = boundaries()
    parts, only, never = rows[part_of(module, rows)]
    found = []
    for target in sorted(graph[module]):
        if only is not None and not any(within(target, part) for part in only):
            found.append(f"{module} imports {target}; {parts} may import only {sorted(only)}")
        if any(within(target, part) for part in never):
            found.append(f"{module} imports {target}, which {parts} must not know")
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m))
def test_each_module_imports_only_what_its_part_may_know(module):
    assert violations(module, GRAPH) == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("probe.health", "storage.profile"),
        ("registry", "cli.output"),
        ("storage.store", "probe.health"),
    ],
)
def test_the_boundary_check_refuses_a_forbidden_import(module, target):
    assert violations(module, {**GRAPH, module: GRAPH[module] | {target}})


def test_the_boundary_table_covers_the_parts_the_folders_show():
    named = {part for parts, _, _ in boundaries() for part in parts}
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py" and name}
    assert packages <= named, f"a package without a row in ARCHITECTURE.md: {packages - named}"
    assert "library" in named


def test_the_probe_core_is_a_leaf():
    """Said in words too: it imports nothing of ours outside itself but the errors and the
    untrusted-input modules."""
    outside = {t for m in MODULES if within(m, "probe") for t in GRAPH[m] if not within(t, "probe")}
    assert outside == {"errors", "untrusted"}


def test_at_most_twenty_modules_sit_directly_in_the_package():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top
