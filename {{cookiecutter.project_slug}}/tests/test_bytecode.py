"""ops.bytecode: what it compiles ahead is what the pipeline's code imports, not the machinery's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.ops.bytecode import FOLDERS, LAZY_IMPORTS, pipeline_imports

PACKAGE_DIR = Path({{ cookiecutter.package_name }}.__file__).parent


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
    assert [name for name in [*named, *FOLDERS] if importlib.util.find_spec(name) is None] == []
