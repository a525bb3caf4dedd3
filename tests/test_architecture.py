"""The package's shape, as docs/architecture.md draws it: data flows one way, modules stay small.

data -> methods (classical, deep) -> evaluation -> studies -> notebooks -> runner -> book; the CLI is an edge
that may call any layer. Imports are read from the source (``ast``), lazy ones inside functions included, so a
test fails the day someone adds an arrow against the flow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "drugsim"
MAX_LINES = 600

#: What each part of the package must never import (any module under these prefixes).
FORBIDDEN = {
    "drugsim.data": ("drugsim.classical", "drugsim.deep", "drugsim.evaluation", "drugsim.studies",
                     "drugsim.runner", "drugsim.book", "drugsim.cli"),
    "drugsim.classical": ("drugsim.deep", "drugsim.evaluation", "drugsim.studies", "drugsim.runner",
                          "drugsim.book", "drugsim.cli"),
    "drugsim.evaluation": ("drugsim.deep", "drugsim.studies", "drugsim.runner", "drugsim.book", "drugsim.cli"),
    "drugsim.deep": ("drugsim.studies", "drugsim.runner", "drugsim.book", "drugsim.cli"),
    "drugsim.studies": ("drugsim.runner", "drugsim.book", "drugsim.cli"),
    "drugsim.runner": ("drugsim.cli", "drugsim.studies"),
    "drugsim.book": ("drugsim.cli", "drugsim.studies", "drugsim.runner.execute", "drugsim.runner.orchestrate",
                     "drugsim.runner.plan"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The drugsim modules a file imports (``from drugsim.x import y`` counts as ``drugsim.x`` and, when y is
    a module, ``drugsim.x.y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("drugsim") and name in ALL_MODULES}


FILES = sorted(PACKAGE.rglob("*.py"))
ALL_MODULES = {module_name(path) for path in FILES}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_no_module_is_over_the_size_limit():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in FILES}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_runs_against_the_flow(layer):
    wrong = []
    for path in FILES:
        name = module_name(path)
        if not _under(name, layer):
            continue
        for imported in imports_of(path):
            if any(_under(imported, banned) for banned in FORBIDDEN[layer]):
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_module_level_imports_have_no_cycle():
    graph = {module_name(p): {m for m in imports_of(p, top_level_only=True) if m != module_name(p)}
             for p in FILES}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how packages re-export; not a cycle.
            if _under(nxt, node):
                continue
            if state.get(nxt) == 1 and not _under(node, nxt):
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_architecture_page_names_every_subpackage_and_study():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    studies = sorted(p.stem for p in (PACKAGE / "studies").glob("*.py") if p.stem != "__init__")
    missing = [f"drugsim/{name}/" for name in subpackages if f"drugsim/{name}/" not in page]
    missing += [f"studies/{name}.py" for name in studies if f"{name}.py" not in page]
    assert missing == []
