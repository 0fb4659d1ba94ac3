"""Package structure, measured with ``ast`` over ``dpok_framework/``: no import circles (between packages or
between files; function-level imports count too, only ``if TYPE_CHECKING:`` blocks are skipped),
evaluation/ and selection/ never import training/, and no function longer than 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "dpok_framework"
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    return skip


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of dpok_framework that ``name`` imports (the most specific existing module of each target)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])  # dpok_framework.<package or top-level module>


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes, or None (iterative DFS, white/grey/black)."""
    colour = {n: 0 for n in graph}
    for start in graph:
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(nxt, 2) == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour.get(nxt, 2) == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def test_no_import_cycle_between_files():
    assert find_cycle(import_graph()) is None


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for mod, targets in import_graph().items():
        src = package_of(mod)
        graph.setdefault(src, set()).update(package_of(t) for t in targets if package_of(t) != src)
        for t in targets:
            graph.setdefault(package_of(t), set())
    # the root package (dpok_framework/__init__.py re-exports the registry) is not a layer of its own
    graph = {k: {t for t in v if t != "dpok_framework"} for k, v in graph.items() if k != "dpok_framework"}
    assert find_cycle(graph) is None


def test_evaluation_and_selection_never_import_training():
    for mod, targets in import_graph().items():
        if package_of(mod) in ("dpok_framework.evaluation", "dpok_framework.selection", "dpok_framework.objective"):
            bad = sorted(t for t in targets if package_of(t) in ("dpok_framework.training", "dpok_framework.engine"))
            assert not bad, f"{mod} imports {bad}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def function_lengths() -> list[tuple[int, str]]:
    out = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((node.end_lineno - node.lineno + 1, f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def test_no_function_is_longer_than_80_lines():
    longest = function_lengths()[:5]
    assert longest[0][0] <= MAX_FUNCTION_LINES, longest
