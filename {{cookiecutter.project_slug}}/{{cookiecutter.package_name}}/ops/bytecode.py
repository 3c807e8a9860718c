"""Compile ahead what the pipeline imports, where Python is told not to cache compiled modules.

Where PYTHONDONTWRITEBYTECODE is set (many Docker images and CI machines), Python compiles every
module it imports again at each start: seconds per stage for MLflow, scikit-learn and DVC.
Compiling all of .venv at install (`uv sync --compile-bytecode`) takes longer than the rest of
`make setup`, for packages the stages never load (the dev tools, JupyterLab). So `make setup` runs
this instead: it imports, with caching allowed, every module the pipeline's code imports (read
from its source, lazy imports too) and DVC's `repro`, which writes their compiled files. The few
modules those libraries import later, inside their functions, are compiled when first used.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

from ..common.project import PACKAGE

# What `dvc repro` and `dvc exp run` import before any stage runs.
DVC_COMMANDS = ("dvc.cli", "dvc.commands.repro", "dvc.commands.experiments.run", "dvc.repo.reproduce")
# The package's machinery the stages do not run: its imports need not be ready at the first run.
NOT_THE_PIPELINE = ("experiments", "serving", "ops")


def pipeline_imports(package_dir: Path) -> set[str]:
    """The modules of other packages that the pipeline's code imports anywhere in its source."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        if path.relative_to(package_dir).parts[0] in NOT_THE_PIPELINE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] not in (PACKAGE, "__future__")}


def main() -> None:
    sys.dont_write_bytecode = False  # this process caches what it imports, whatever the environment says
    package_dir = Path(__file__).resolve().parents[1]
    modules = sorted(pipeline_imports(package_dir)) + [
        f"{PACKAGE}.stages.{stage.stem}" for stage in (package_dir / "stages").glob("[!_]*.py")
    ]
    failed = []
    for name in [*modules, *DVC_COMMANDS]:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional reader (python-calamine, zstandard) not installed here
            failed.append(name)
    print(
        f"bytecode: {len(sys.modules)} modules compiled for the pipeline"
        + (f" ({', '.join(failed)} not installed)" if failed else "")
    )


if __name__ == "__main__":
    main()
