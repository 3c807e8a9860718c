"""ops.bytecode: what it compiles ahead is what the pipeline loads, not the machinery's."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.ops.bytecode import (
    FOLDERS,
    LAZY_IMPORTS,
    MODULE_LIST,
    FoundFiles,
    compile_listed,
    pipeline_imports,
    read_list,
    write_list,
)

PACKAGE_DIR = Path({{ cookiecutter.package_name }}.__file__).parent
SITE = sysconfig.get_paths()["purelib"]


def test_the_libraries_the_stages_import_lazily_too_are_compiled_and_the_serving_ones_are_not() -> None:
    found = pipeline_imports(PACKAGE_DIR)
    # imported inside functions: register's MLflow, evaluate's dvclive and pyplot, model.py's estimators
    assert {"mlflow", "dvclive", "matplotlib.pyplot", "sklearn.ensemble", "pandas", "yaml"} <= found
    assert not {"optuna", "bentoml"} & found  # tuning and serving: not the pipeline
    assert not any(
        name.split(".")[0] == PACKAGE_DIR.name for name in found
    )  # the package's own: compiled as run


def test_a_new_lazy_import_in_a_stage_is_found(tmp_path: Path) -> None:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "fit.py").write_text("def fit():\n    import lightgbm.sklearn\n")
    (tmp_path / "serving").mkdir()
    (tmp_path / "serving" / "api.py").write_text("import fastapi\n")
    assert pipeline_imports(tmp_path) == {"lightgbm.sklearn"}


def test_every_module_named_for_the_libraries_lazy_imports_is_installed() -> None:
    """A relock that renames or drops one shows here, not as a module compiled at each run."""
    named = [name for names in LAZY_IMPORTS.values() for name in names.split()]
    assert len(named) == len(set(named))
    assert [name for name in named if importlib.util.find_spec(name) is None] == []
    assert [folder for folder in FOLDERS if not Path(SITE, folder).is_dir()] == []


def test_recording_lists_what_the_pipeline_loads_from_site_packages() -> None:
    """What `make setup` does when the lock or the pipeline's imports change (in a process of its
    own: it imports the pipeline's libraries)."""
    recorded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, pathlib, sysconfig\n"
            "from {{ cookiecutter.package_name }}.ops.bytecode import record, to_import\n"
            f"files, missing = record(to_import(pathlib.Path({str(PACKAGE_DIR)!r})), sysconfig.get_paths()['purelib'])\n"
            "print(json.dumps(files))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    files = json.loads(recorded.stdout)
    # the libraries of each stage, of DVC's command line, and of what MLflow loads as the pipeline runs
    assert {
        "sklearn/ensemble/_forest.py",
        "pandas/__init__.py",
        "dvc/cli/__init__.py",
        "mlflow/store/tracking/sqlalchemy_store.py",
        "dvclive/live.py",
    } <= set(files)
    assert [file for file in files if not Path(SITE, file).is_file()] == []  # paths in site-packages
    assert not [file for file in files if file.startswith(("optuna/", "bentoml/", "ruff/"))]
    _, listed = read_list(MODULE_LIST)
    assert len(set(files) ^ set(listed)) < len(listed) / 50  # this platform's list, or close to it


def test_the_module_list_holds_what_each_stage_loads_at_start() -> None:
    _, files = read_list(MODULE_LIST)
    stages = [f"{PACKAGE_DIR.name}.stages.{path.stem}" for path in (PACKAGE_DIR / "stages").glob("[!_]*.py")]
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys\nfor name in {stages!r}: __import__(name)\n"
            "print(json.dumps([getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix = SITE + "/"
    in_site = {file[len(prefix) :] for file in json.loads(loaded.stdout) if file.startswith(prefix)}
    assert {"pandas/__init__.py", "yaml/__init__.py"} <= in_site
    # the rest: site-packages' top level (what .pth files load) and FOLDERS, which setup compiles whole
    rest = {file for file in in_site if "/" not in file or file.startswith(tuple(f"{f}/" for f in FOLDERS))}
    unlisted = sorted(file for file in in_site - rest if file.endswith(".py") and file not in set(files))
    assert unlisted == [], "run `make setup` (it records the list anew) and commit ops/pipeline_modules.txt"


def test_the_listed_modules_are_compiled_where_they_exist(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "lib").mkdir(parents=True)
    (site / "lib" / "__init__.py").write_text("")
    (site / "lib" / "fit.py").write_text("def fit():\n    return 1\n")
    write_list(tmp_path / "modules.txt", "0123", ["lib/__init__.py", "lib/fit.py", "lib/windows_only.py"])
    key, files = read_list(tmp_path / "modules.txt")
    assert (key, files) == ("0123", ["lib/__init__.py", "lib/fit.py", "lib/windows_only.py"])
    assert compile_listed(str(site), files) == 2
    assert sorted(path.name.split(".")[0] for path in site.glob("lib/__pycache__/*.pyc")) == [
        "__init__",
        "fit",
    ]


def test_a_module_whose_import_fails_is_recorded_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such an import leaves sys.modules, yet it compiled the module, as the pipeline's runs would."""
    (tmp_path / "needs_windows.py").write_text("import winreg_is_not_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = FoundFiles()
    monkeypatch.setattr(sys, "meta_path", [found, *sys.meta_path])
    with pytest.raises(ImportError):
        importlib.import_module("needs_windows")
    assert str(tmp_path / "needs_windows.py") in found.files
    assert "needs_windows" not in sys.modules
