"""The package's import graph, read from the source with `ast`: every import that runs counts,
inside functions too, not those under `if TYPE_CHECKING:` (for type hints only). An import of
`pkg.a.b` is an edge to module a/b.py, or to the package a/__init__.py when `b` is a name defined
there. test_layout checks the graph has no cycle; test_stage_deps that dvc.yaml covers it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    """The modules of the package in folder `root` by dotted name: `<package>.stages.train` for
    stages/train.py, `<package>.stages` for stages/__init__.py."""
    return {
        ".".join((root.name, *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in sorted(root.rglob("*.py"))
    }


def is_type_checking(test: ast.expr) -> bool:
    """Whether an `if` tests `TYPE_CHECKING` (or `typing.TYPE_CHECKING`)."""
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
    return name == "TYPE_CHECKING"


def runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports under `node` that run: inside functions too, not under `if TYPE_CHECKING:`
    (its `else:` does run)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    type_hints_only = isinstance(node, ast.If) and is_type_checking(node.test)
    for child in node.orelse if type_hints_only else ast.iter_child_nodes(node):
        yield from runtime_imports(child)


def imported_names(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The absolute dotted names an import in `module` brings in: `from ..a import b` -> `<package>.a.b`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    source = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]  # the package it is in
        base = ".".join(here[: len(here) - node.level + 1])
        source = f"{base}.{source}" if source else base
    return [f"{source}.{alias.name}" for alias in node.names]


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """Each module of the package in `root` -> the package's modules it imports; and the imports
    of the package that name none of its modules, as `file: name`."""
    found = modules(root)
    graph: dict[str, set[str]] = {}
    unresolved = []
    for module, path in found.items():
        graph[module] = set()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for name in imported_names(module, path.name == "__init__.py", node):
                if name.split(".")[0] != root.name:
                    continue  # another package's
                target = name if name in found else name.rpartition(".")[0]  # a module, or a name in one
                if target in found:
                    graph[module].add(target)
                else:
                    unresolved.append(f"{path.relative_to(root).as_posix()}: {name}")
    return graph, unresolved


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports as the modules along it, the first one again at the end; None if none."""
    finished: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in finished:
            return None
        for target in sorted(graph[module]):
            if cycle := visit(target, [*path, module]):
                return cycle
        finished.add(module)
        return None

    return next(filter(None, (visit(module, []) for module in sorted(graph))), None)


def calls(path: Path, function: str) -> bool:
    """Whether the module at `path` calls `function`, written as `module.name` (`importlib.import_module`)."""
    owner, name = function.rsplit(".", 1)
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == owner
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules that importing `start` runs: itself, the packages it is in (their __init__ runs
    first), and what each of them imports, transitively."""
    found: set[str] = set()
    waiting = [start]
    while waiting:
        module = waiting.pop()
        if module in found:
            continue
        found.add(module)
        parts = module.split(".")
        waiting.extend(".".join(parts[:end]) for end in range(1, len(parts)))
        waiting.extend(graph[module])
    return found
