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
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..common.project import PACKAGE

# What `dvc repro` and `dvc exp run` import before any stage runs.
DVC_COMMANDS = ("dvc.cli", "dvc.commands.repro", "dvc.commands.experiments.run", "dvc.repo.reproduce")
# The package's machinery the stages do not run: its imports need not be ready at the first run.
NOT_THE_PIPELINE = ("experiments", "serving", "ops")
# The largest trees of modules, started first so that the processes share them out rather than
# compile the same ones side by side (what they have in common is then mostly compiled already).
LARGEST_FIRST = ("sklearn.ensemble", "dvc.cli", "mlflow.sklearn", "pandas", "matplotlib.pyplot")


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


def import_caching(name: str) -> str | None:
    """Import `name`, writing the compiled files of what it loads; the name when not installed."""
    sys.dont_write_bytecode = False  # cache, whatever the environment says
    try:
        importlib.import_module(name)
    except ImportError:  # an optional reader (python-calamine, zstandard) not installed here
        return name
    return None


def main() -> None:
    package_dir = Path(__file__).resolve().parents[1]
    modules = [
        *sorted(pipeline_imports(package_dir)),
        *DVC_COMMANDS,
        *(f"{PACKAGE}.stages.{stage.stem}" for stage in (package_dir / "stages").glob("[!_]*.py")),
    ]
    rank = {name: place for place, name in enumerate(LARGEST_FIRST)}
    ordered = sorted(modules, key=lambda name: rank.get(name, len(rank)))  # stable: the rest as listed
    # fork where it is safe (Linux: this process has imported no library and started no thread)
    method = "fork" if sys.platform == "linux" else "spawn"
    workers = min(os.cpu_count() or 1, 4)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        missing = [name for name in pool.map(import_caching, ordered) if name]
    print(
        f"bytecode: {len(ordered)} imports compiled by {workers} processes"
        + (f" ({', '.join(missing)} not installed)" if missing else "")
    )


if __name__ == "__main__":
    main()
