"""The dependency graph a reader sees is the real one: package imports at the top of files, no cycle.

Read statically (``ast``), so the test needs no import side effects:

* every import of a ``minih2rec`` module is a module-level statement (function-local imports
  are for optional or heavy third-party modules only), and none sits in a ``try`` that
  catches ``ImportError``;
* the graph "module -> package module it imports by name" has no cycle.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minih2rec"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path):
    return path.name == "__init__.py"


FILES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node, module, is_package):
    """Package modules named by one import statement (``from .a import b``: ``a.b`` if a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "minih2rec"]
    if node.level:
        base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join(base + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "minih2rec":
        return []
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in FILES]
    return found if len(found) == len(node.names) else found + [base]


def _imports(path):
    """[(statement, is_module_level, in_try_importerror, targets)] for every package import in ``path``."""
    module, tree = _module_name(path), ast.parse(path.read_text(encoding="utf-8"))
    out = []

    def walk(node, top, guarded):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = _targets(child, module, _is_package(path))
                if targets:
                    out.append((child.lineno, top, guarded, targets))
            elif isinstance(child, ast.Try):
                catches = any(h.type is not None and "ImportError" in ast.unparse(h.type) for h in child.handlers)
                walk(child, top, guarded or catches)
            else:
                walk(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                           ast.ClassDef, ast.Lambda)), guarded)
    walk(tree, True, False)
    return out


GRAPH = {m: sorted({t for _, top, _, ts in _imports(p) for t in ts if top}) for m, p in FILES.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None (iterative DFS, white/grey/black)."""
    state = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        state[start], path = 1, [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop(), path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph.get(child, ()))))
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_the_package_has_no_import_cycle():
    assert _cycle(GRAPH) is None, f"import cycle: {' -> '.join(_cycle(GRAPH))}"


@pytest.mark.parametrize("module", sorted(FILES))
def test_package_imports_sit_at_the_top_unguarded(module):
    path = FILES[module]
    rel = str(path.relative_to(ROOT))
    found = _imports(path)
    guarded = [line for line, _, g, _ in found if g]
    assert not guarded, f"{rel}: package import inside try/except ImportError at line(s) {guarded}"
    local = [line for line, top, _, _ in found if not top]
    assert not local, f"{rel}: package import inside a function or class at line(s) {local}; move it to the top"
