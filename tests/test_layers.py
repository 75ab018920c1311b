"""labkit's layers, checked on the source: each module imports only modules of its own layer
or below (function-level imports count too), and no two modules import each other, even
through others (no cycles, not even lazy ones). Modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "labkit"

LAYERS = [  # lowest first
    ("base", ("labkit.exceptions", "labkit.settings", "labkit.validate", "labkit.waiting",
              "labkit.moments")),
    ("queries", ("labkit.kafka",)),
    ("backends", ("labkit.cluster",)),
    ("domain", ("labkit.events", "labkit.codec", "labkit.batchcodec", "labkit.scenarios")),
    ("toolkit", ("labkit.deadletter", "labkit.producer", "labkit.records", "labkit.reader",
                 "labkit.services", "labkit.inspect", "labkit.segments", "labkit.members",
                 "labkit.streams", "labkit.shares", "labkit.shop",
                 "labkit.classroom")),
    ("teaching UI", ("labkit.lab",)),
    ("entry points", ("labkit.cli", "labkit")),
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    best = None
    for i, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[1]):
                best = (i, len(prefix))
    assert best is not None, f"{module} belongs to no layer; add it to LAYERS"
    return best[0]


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path) -> set[str]:
    """labkit modules ``path`` imports when it runs (top level or inside functions)."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("labkit"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("labkit"))
    return found


MODULES = {_module(p): p for p in ROOT.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The labkit module an imported name lives in (``labkit.kafka.topics.describe`` ->
    ``labkit.kafka.topics``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


GRAPH = {m: {r for i in _imports(p) if (r := _resolve(i)) and r != m}
         for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_own_layer_or_below(module: str) -> None:
    mine = _layer(module)
    above = sorted(i for i in GRAPH[module] if _layer(i) > mine and i != "labkit")
    assert not above, f"{module} ({LAYERS[mine][0]}) imports higher layers: {above}"


def test_no_import_cycles() -> None:
    """Packages' __init__ modules re-export their children, so an edge into a package's
    __init__ from its own child is left out (that is Python's packaging, not a cycle)."""
    def edges(m: str) -> set[str]:
        return {i for i in GRAPH[m] if not m.startswith(i + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges(m)):
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n):], n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 450, f"{module} has {lines} lines; split it (guide: ~450)"
