"""The package's layout: no import cycle between its modules, and no module too long to read.

The import graph is read from the source with `ast`: every import that runs counts, inside
functions too, not those under `if TYPE_CHECKING:` (for type hints only). An import of `pkg.a.b`
is an edge to module a/b.py, or to the package a/__init__.py when `b` is a name defined there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import {{ cookiecutter.package_name }}

PACKAGE_DIR = Path({{ cookiecutter.package_name }}.__file__).parent
LONGEST_MODULE = 300  # lines


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


def test_every_import_of_the_package_names_one_of_its_modules() -> None:
    unresolved = import_graph(PACKAGE_DIR)[1]
    assert unresolved == [], f"imports of no module of the package: {', '.join(unresolved)}"


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(PACKAGE_DIR)[0])
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_module_is_longer_than_300_lines() -> None:
    lengths = {
        path.relative_to(PACKAGE_DIR).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in modules(PACKAGE_DIR).values()
    }
    too_long = {name: lines for name, lines in lengths.items() if lines > LONGEST_MODULE}
    assert too_long == {}, f"modules longer than {LONGEST_MODULE} lines (split them): {too_long}"


# A small package with each kind of import the graph must read, and a cycle through a function.
TOY = {
    "__init__.py": "from .core import run\n",
    "core.py": """\
import typing
from typing import TYPE_CHECKING

from . import helpers
from .sub import VALUE

if TYPE_CHECKING:
    from .late import Late
if typing.TYPE_CHECKING:
    from .late import Other
else:
    from .sub.leaf import leaf


def run():
    from .late import late
""",
    "helpers.py": "import os\n\nimport toy.sub.leaf\n",
    "late.py": "from .core import run\n",
    "sub/__init__.py": "VALUE = 1\n",
    "sub/leaf.py": "from .. import sub\nfrom ..missing import gone\n",
}


def test_the_graph_reads_every_import_that_runs_and_names_a_cycle(tmp_path: Path) -> None:
    for name, text in TOY.items():
        (tmp_path / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "toy" / name).write_text(text)
    graph, unresolved = import_graph(tmp_path / "toy")
    assert graph == {
        "toy": {"toy.core"},
        "toy.core": {"toy.helpers", "toy.sub", "toy.sub.leaf", "toy.late"},
        "toy.helpers": {"toy.sub.leaf"},
        "toy.late": {"toy.core"},
        "toy.sub": set(),
        "toy.sub.leaf": {"toy.sub"},
    }
    assert unresolved == ["sub/leaf.py: toy.missing.gone"]
    assert find_cycle(graph) == ["toy.core", "toy.late", "toy.core"]
    assert find_cycle(graph | {"toy.late": set()}) is None
