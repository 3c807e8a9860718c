"""The package's layout: no import cycle between its modules (the graph import_graph reads from
the source), and no module too long to read."""

from __future__ import annotations

from pathlib import Path

from import_graph import find_cycle, import_graph, modules

import {{ cookiecutter.package_name }}

PACKAGE_DIR = Path({{ cookiecutter.package_name }}.__file__).parent
LONGEST_MODULE = 300  # lines


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
