"""Compile ahead what the pipeline imports, where Python is told not to cache compiled modules.

Where PYTHONDONTWRITEBYTECODE is set (many Docker images and CI machines), Python compiles every
module it imports again at each start: seconds per stage for MLflow, scikit-learn and DVC.
Compiling all of .venv at install (`uv sync --compile-bytecode`) takes longer than the rest of
`make setup`, for packages the stages never load (the dev tools, JupyterLab). So `make setup` runs
this instead. It compiles the library modules listed in pipeline_modules.txt, a process per core:
what the pipeline loads at the versions uv.lock pins. The list holds while uv.lock's runtime pins
and the modules the pipeline's code imports stay as they were recorded; when either changes (a
dependency added or upgraded, a new import in a stage), it records the list anew: it imports,
with caching allowed, every module the pipeline's code imports (read from its source, lazy imports
too), DVC's `repro`, and what those libraries import later, inside their functions (LAZY_IMPORTS),
and lists the files they loaded. Commit the list it rewrites, as you commit uv.lock.
"""

from __future__ import annotations

import ast
import compileall
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import multiprocessing
import os
import py_compile
import sys
import sysconfig
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from types import ModuleType

from ..common.errors import PipelineError, run_main
from ..common.files import write_atomic
from ..common.project import PACKAGE, project_root
from .environment import pins_of

MODULE_LIST = Path(__file__).with_name("pipeline_modules.txt")
KEY_PREFIX = "# recorded for the pins and imports "
# Compiled files checked by the source's time, as imports write them (SOURCE_DATE_EPOCH would make
# py_compile hash the source instead, which every import would then read and hash again).
TIMESTAMP = py_compile.PycInvalidationMode.TIMESTAMP
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
# Compiled as folders, in site-packages: MLflow's migration scripts, which its schema check loads by
# path (alembic), with the modules of mlflow.store.db they import; setuptools's hook, which a .pth
# file loads at every start (before caching can be allowed).
FOLDERS = ("mlflow/store/db_migrations", "mlflow/store/db", "_distutils_hack")
# The package's machinery the stages do not run: its imports need not be ready at the first run.
NOT_THE_PIPELINE = ("experiments", "serving", "ops")
WORKERS = min(os.cpu_count() or 1, 4)


def pipeline_imports(package_dir: Path) -> set[str]:
    """The modules of installed packages that the pipeline's code imports anywhere in its source."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        if path.relative_to(package_dir).parts[0] in NOT_THE_PIPELINE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    # the standard library's come compiled with Python
    return {
        name for name in names if name.split(".")[0] not in {PACKAGE, "__future__", *sys.stdlib_module_names}
    }


def to_import(package_dir: Path) -> list[str]:
    """What recording imports: the pipeline's imports, DVC's commands, LAZY_IMPORTS, the stages."""
    return [
        *sorted(pipeline_imports(package_dir)),
        *DVC_COMMANDS,
        *(name for names in LAZY_IMPORTS.values() for name in names.split()),
        *sorted(f"{PACKAGE}.stages.{stage.stem}" for stage in (package_dir / "stages").glob("[!_]*.py")),
    ]


def list_key(lock: Path, names: list[str]) -> str:
    """A digest of the lock's runtime pins (see ops.environment) and of the names recording
    imports (see to_import): the list holds while neither changes."""
    pins = [f"{name}=={version}" for name, version in pins_of(lock).items()]
    return hashlib.sha256("\n".join([*pins, *names]).encode()).hexdigest()[:16]


def read_list(path: Path) -> tuple[str | None, list[str]]:
    """The key a module list was recorded for, and its files; (None, []) when there is none."""
    if not path.exists():
        return None, []
    lines = path.read_text(encoding="utf-8").splitlines()
    key = next((line.removeprefix(KEY_PREFIX) for line in lines if line.startswith(KEY_PREFIX)), None)
    return key, [line for line in lines if line and not line.startswith("#")]


def write_list(path: Path, key: str, files: list[str]) -> None:
    """Write the module list: its key, then one file (in site-packages) per line."""
    header = (
        "# The library modules the pipeline loads, as paths in site-packages: `make setup` compiles them\n"
        "# (ops/bytecode.py), and records them anew when uv.lock's runtime pins or the pipeline's imports change.\n"
        f"{KEY_PREFIX}{key}\n"
    )
    text = header + "".join(f"{file}\n" for file in files)
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


class FoundFiles(importlib.abc.MetaPathFinder):
    """Notes the file of every module the path finder finds, then lets the usual finders load it:
    a module whose import fails (a Windows-only or optional part) is left out of sys.modules, yet
    that attempt compiled it, as each run's would."""

    def __init__(self) -> None:
        self.files: set[str] = set()

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.origin:
            self.files.add(spec.origin)


def record(names: list[str], site: str) -> tuple[list[str], list[str]]:
    """Import, caching their compiled files, the modules `names` (see to_import); the library files
    they loaded (in `site`), and the names not installed."""
    sys.dont_write_bytecode = False  # cache, whatever the environment says
    found = FoundFiles()
    sys.meta_path.insert(0, found)
    missing = []
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional reader (python-calamine, zstandard) not installed here
                missing.append(name)
    finally:
        sys.meta_path.remove(found)
    prefix = site.rstrip(os.sep) + os.sep
    files = {file[len(prefix) :] for file in found.files if file.startswith(prefix) and file.endswith(".py")}
    if not files:  # the modules were found elsewhere than sysconfig says: a list of nothing would hold
        raise PipelineError(
            f"recording the pipeline's modules found none in {site}: is .venv's Python running?"
        )
    return sorted(Path(file).as_posix() for file in files), missing


def compile_listed(site: str, files: list[str]) -> int:
    """Compile the listed files that exist in `site`, as an import would cache them, a process per
    core (at most 4); how many are compiled (a list recorded on another platform names a few
    modules this one lacks, and lacks a few it loads: those compile as they run)."""
    present = [path for path in (os.path.join(site, file) for file in files) if os.path.isfile(path)]
    compile_one = partial(compileall.compile_file, quiet=2, invalidation_mode=TIMESTAMP)
    # fork where it is safe (Linux: this process has imported no library and started no thread)
    method = "fork" if sys.platform == "linux" else "spawn"
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context(method)) as pool:
        return sum(bool(ok) for ok in pool.map(compile_one, present, chunksize=64))


def compile_folders(package_dir: Path, site: str) -> None:
    """Compile, without running them, the package's own modules, FOLDERS, and the modules that
    site-packages' .pth files load at every start (the editable install's finder)."""
    for folder in [package_dir, *(Path(site, folder) for folder in FOLDERS)]:
        if folder.is_dir():
            compileall.compile_dir(folder, quiet=1, invalidation_mode=TIMESTAMP)
    compileall.compile_dir(site, maxlevels=0, quiet=1, invalidation_mode=TIMESTAMP)


def main() -> None:
    package_dir = Path(__file__).resolve().parents[1]
    site = sysconfig.get_paths()["purelib"]
    names = to_import(package_dir)
    key = list_key(project_root() / "uv.lock", names)
    listed_key, files = read_list(MODULE_LIST)
    if listed_key == key:
        compiled = compile_listed(site, files)
        done = f"{compiled} library modules compiled by {WORKERS} processes" + (
            "" if compiled else f" (is {site} writable?)"
        )
    else:
        files, missing = record(names, site)
        write_list(MODULE_LIST, key, files)
        done = (
            f"no module list for uv.lock's runtime pins and these imports: recorded the {len(files)} library modules the pipeline"
            f" loads in {MODULE_LIST.relative_to(package_dir.parent)} (commit it with uv.lock)"
            + (f"; {', '.join(missing)} not installed" if missing else "")
        )
    compile_folders(package_dir, site)
    print(f"bytecode: {done}")


if __name__ == "__main__":
    run_main(main)
