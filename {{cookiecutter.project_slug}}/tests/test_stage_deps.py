"""dvc.yaml's code deps are exactly what each stage runs: the package modules its module imports,
transitively (lazy imports too; import_graph reads them), so editing any of them reruns the stage
in `dvc repro`, and editing any other (serving, tuning, the UI) reruns nothing.

Two imports are not written as `import` statements, so they are named here: tasks.load imports the
schema's task module by name, and loading an XGBoost classifier (model_file, through skops) imports
xgboost_classifier by name. (Loading the fitted model imports its other classes by name too, but
model_file imports the project's own one, date_features, to trust it.) A new import by name in what
a stage runs fails the test until it is named here too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from import_graph import calls, closure, import_graph, modules

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }} import schema

PACKAGE_DIR = Path({{ cookiecutter.package_name }}.__file__).parent
PROJECT_ROOT = PACKAGE_DIR.parent
PACKAGE = PACKAGE_DIR.name


def edges_not_written_as_imports() -> dict[str, set[str]]:
    """The imports that happen by name: the schema's task module, and the XGBoost classifier a
    model file may hold."""
    task = schema.load(PROJECT_ROOT / schema.SCHEMA_FILE).task
    return {
        f"{PACKAGE}.tasks": {f"{PACKAGE}.tasks.{task}"},
        f"{PACKAGE}.model_file": {f"{PACKAGE}.xgboost_classifier"},
    }


@pytest.fixture(scope="module")
def stages() -> dict[str, tuple[set[str], set[str]]]:
    """Each stage of dvc.yaml -> (the package's files it runs, its deps as DVC reads them, vars
    substituted), paths relative to the project root."""
    from dvc.repo import Repo

    found = modules(PACKAGE_DIR)
    graph, _ = import_graph(PACKAGE_DIR)
    for module, targets in edges_not_written_as_imports().items():
        graph[module] |= targets
    with Repo(str(PROJECT_ROOT)) as repo:
        pipeline = repo.stage.load_all("dvc.yaml")
    found_stages, named = {}, set(edges_not_written_as_imports())
    for stage in pipeline:
        command = re.search(rf"-m ({PACKAGE}\.\S+)", stage.cmd)
        runs = closure(graph, command.group(1)) if command else set()
        by_name = {module for module in runs - named if calls(found[module], "importlib.import_module")}
        assert not by_name, f"{stage.name} runs imports by name: say what they import in this test: {by_name}"
        files = {found[module].relative_to(PROJECT_ROOT).as_posix() for module in runs}
        found_stages[stage.name] = (files, {dep.def_path for dep in stage.deps})
    return found_stages


def code_files(deps: set[str]) -> set[str]:
    """The package's modules among `deps`: a folder stands for every module in it."""
    files = set()
    for dep in deps:
        if dep.startswith(f"{PACKAGE}/"):
            path = PROJECT_ROOT / dep
            found = path.rglob("*.py") if path.is_dir() else [path]
            files |= {module.relative_to(PROJECT_ROOT).as_posix() for module in found}
    return files


def test_every_stage_depends_on_exactly_the_code_it_runs(stages: dict) -> None:
    wrong = {}
    for name, (runs, deps) in stages.items():
        code = code_files(deps)
        if missing := sorted(runs - code):
            wrong[f"add to stages.{name}.deps"] = missing
        if extra := sorted(code - runs):
            wrong[f"remove from stages.{name}.deps (the stage does not run it)"] = extra
    assert wrong == {}, f"dvc.yaml ({PACKAGE}/ written there as the var pkg): {wrong}"


def test_the_pipeline_stages_run_the_package_and_train_depends_on_the_model(stages: dict) -> None:
    assert {"prepare", "train", "evaluate", "register"} <= {
        name for name, (runs, _) in stages.items() if runs
    }
    assert f"{PACKAGE}/model.py" in stages["train"][0]
    assert f"{PACKAGE}/date_features.py" in stages["evaluate"][0]  # the fitted model's date step
    assert not any(
        "/serving/" in path or "/experiments/" in path for runs, _ in stages.values() for path in runs
    )


def test_the_closure_follows_imports_and_the_packages_they_run_in(tmp_path: Path) -> None:
    for name, text in {
        "__init__.py": "",
        "stages/__init__.py": "",
        "stages/run.py": "from ..core import go\n",
        "core.py": "def go():\n    from .late import late\n",
        "late.py": "",
        "unused.py": "import toy.core\n",
    }.items():
        (tmp_path / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "toy" / name).write_text(text)
    graph, _ = import_graph(tmp_path / "toy")
    assert closure(graph, "toy.stages.run") == {"toy", "toy.stages", "toy.stages.run", "toy.core", "toy.late"}
