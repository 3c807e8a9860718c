"""Compile ahead what the pipeline imports, where Python is told not to cache compiled modules.

Where PYTHONDONTWRITEBYTECODE is set (many Docker images and CI machines), Python compiles every
module it imports again at each start: seconds per stage for MLflow, scikit-learn and DVC.
Compiling all of .venv at install (`uv sync --compile-bytecode`) takes longer than the rest of
`make setup`, for packages the stages never load (the dev tools, JupyterLab). So `make setup` runs
this instead: it imports, with caching allowed, every module the pipeline's code imports (read
from its source, lazy imports too), DVC's `repro`, and what those libraries import later, inside
their functions (LAZY_IMPORTS), which writes their compiled files.
"""

from __future__ import annotations

import ast
import compileall
import importlib
import importlib.util
import multiprocessing
import os
import sys
import sysconfig
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..common.project import PACKAGE

# What `dvc repro` and `dvc exp run` import before any stage runs.
DVC_COMMANDS = ("dvc.cli", "dvc.commands.repro", "dvc.commands.experiments.run", "dvc.repo.reproduce")
# What the libraries import inside their functions when the pipeline runs, by who loads it; found by
# running the pipeline on a fresh .venv (the template's test_setup names each module it left to
# compile).
LAZY_IMPORTS = {
    "dvc repro: the graph, the repository, the command line": """
        dvc.cli.parser dvc.repo.graph dvc.repo.index dvc.repo.open_repo dvc.repo.plots dvc.repo.stage
        dvc.repo.artifacts dvc.repo.datasets dvc.repo.trie dvc.cachemgr dvc.data_cloud dvc.compare
        dvc.daemon dvc.analytics dvc.info dvc.dirs dvc.utils.strictyaml dvc._debug configobj networkx
        dvc_data.hashfile.db.local dvc_data.hashfile.status dvc_data.hashfile._progress
        scmrepo.git.backend.pygit2.filter dulwich.porcelain dulwich.worktree dulwich.filters
        dulwich.line_ending ruamel.yaml.mergevalue fsspec.implementations.memory iterative_telemetry
    """,
    "pandas's Parquet and plots, scikit-learn's dataframe interchange": """
        pyarrow.dataset pyarrow.pandas_compat pyarrow.substrait pandas.core.methods.to_dict
        pandas.core.arrays.arrow.extension_types pandas.plotting._matplotlib
        narwhals._pandas_like.namespace narwhals._interchange.dataframe narwhals._namespace
        narwhals.stable.v2._namespace
    """,
    "dvclive's images; skops's list of estimators (which loads pytest)": """
        matplotlib.backends.backend_agg PIL.BmpImagePlugin PIL.GifImagePlugin PIL.JpegImagePlugin
        PIL.PpmImagePlugin PIL.features sklearn.utils._testing
    """,
    "MLflow: the SQLite store and its schema check, tracing, git, Databricks's probe, pyfunc": """
        mlflow.store.tracking.sqlalchemy_store mlflow.store.tracking.sqlalchemy_workspace_store
        mlflow.store.model_registry.sqlalchemy_store mlflow.store.model_registry.sqlalchemy_workspace_store
        mlflow.store.db.utils mlflow.store.analytics sqlalchemy.dialects.sqlite alembic.config
        mlflow.tracing.processor.base_mlflow mlflow.tracing.processor.otel mlflow.tracing.export
        mlflow.tracing.trace_archival_config mlflow.tracing.utils.environment mlflow.genai.scorers.online
        mlflow.pyfunc mlflow.pyfunc.scoring_server mlflow.pyfunc.utils.environment
        mlflow.pyfunc.utils.serving_data_parser mlflow.models.display_utils mlflow.models.rag_signatures
        mlflow.types.responses mlflow.types.agent mlflow.utils.spark_utils mlflow.utils.nfs_on_spark
        mlflow.utils.crypto mlflow.utils.name_utils git IPython
    """,
}
# Compiled as folders: MLflow's migration scripts, which its schema check loads by path (alembic),
# with the modules of mlflow.store.db they import; setuptools's hook, which a .pth file loads at
# every start (before caching can be allowed).
FOLDERS = ("mlflow.store.db_migrations", "mlflow.store.db", "_distutils_hack")
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


def compile_folders(package_dir: Path) -> None:
    """Compile, without running them, the package's own modules (this process imported some before
    it could allow caching), FOLDERS, and the modules that site-packages' .pth files load at every
    start (the editable install's finder)."""
    for folder in [package_dir, *(find_folder(name) for name in FOLDERS)]:
        if folder:
            compileall.compile_dir(folder, quiet=1)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], maxlevels=0, quiet=1)


def find_folder(package: str) -> str | None:
    """The folder of `package`, if installed."""
    spec = importlib.util.find_spec(package)
    return spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None


def main() -> None:
    package_dir = Path(__file__).resolve().parents[1]
    modules = [
        *sorted(pipeline_imports(package_dir)),
        *DVC_COMMANDS,
        *(name for names in LAZY_IMPORTS.values() for name in names.split()),
        *(f"{PACKAGE}.stages.{stage.stem}" for stage in (package_dir / "stages").glob("[!_]*.py")),
    ]
    rank = {name: place for place, name in enumerate(LARGEST_FIRST)}
    ordered = sorted(modules, key=lambda name: rank.get(name, len(rank)))  # stable: the rest as listed
    # fork where it is safe (Linux: this process has imported no library and started no thread)
    method = "fork" if sys.platform == "linux" else "spawn"
    workers = min(os.cpu_count() or 1, 4)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        missing = [name for name in pool.map(import_caching, ordered) if name]
    compile_folders(package_dir)
    print(
        f"bytecode: {len(ordered)} imports compiled by {workers} processes"
        + (f" ({', '.join(missing)} not installed)" if missing else "")
    )


if __name__ == "__main__":
    main()
