"""Generate projects from the template for real, for every meaningful combination of options."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
OPTIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
SAMPLES = OPTIONS["_datasets"]
TEST_DATA = Path(__file__).resolve().parent / "data"
# Real public tables (tests/data/README.md says where each is from): file -> target, task, and the
# model it is generated with, so every model meets real columns of each task.
OWN_TABLES = {
    "penguins.csv": ("species", "classification", "linear"),  # text labels, text features, gaps
    "titanic.csv": ("survived", "classification", "gradient_boosting"),  # yes/no; every feature text
    "diamonds.csv.gz": ("price", "regression", "linear"),  # 53,940 rows, categories, R's row names
}
# A sample and model whose kind of task a real table already runs with that model: breast_cancer
# with gradient boosting would be binary classification with gradient boosting, as titanic is.
COVERED_BY_OWN_TABLES = {("breast_cancer", "gradient_boosting")}
# Tools of this interpreter's environment (dvc, python, ruff) first on PATH, for hooks and stages.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ.pop("MLFLOW_TRACKING_URI", None)


@dataclass(frozen=True)
class Combo:
    """One combination of the options that change what is generated."""

    dataset: str  # a sample's name, or a table of tests/data
    model: str
    local_remote: bool

    @property
    def id(self) -> str:
        return f"{self.dataset.split('.')[0]}-{self.model}-{'remote' if self.local_remote else 'noremote'}"

    @property
    def own(self) -> bool:
        """Whether the data is a user's table rather than a bundled sample."""
        return self.dataset not in SAMPLES

    @property
    def task(self) -> str:
        return OWN_TABLES[self.dataset][1] if self.own else SAMPLES[self.dataset]["task"]

    @property
    def target(self) -> str:
        return OWN_TABLES[self.dataset][0] if self.own else "target"

    @property
    def raw(self) -> str:
        """The raw table's path in the project."""
        return f"data/raw/{self.dataset if self.own else SAMPLES[self.dataset]['file']}"


def all_combos() -> list[Combo]:
    """Each sample with the tree models (but those COVERED_BY_OWN_TABLES), and for the first of
    each task the same with a local DVC remote (a remote changes only DVC's config, the git hooks
    and the README, so once per task checks it); then each real table of tests/data with its
    model (see OWN_TABLES)."""
    trees = [model for model in OPTIONS["model"] if model != "linear"]
    pairs = itertools.product(SAMPLES, trees)
    combos = [Combo(d, m, False) for d, m in pairs if (d, m) not in COVERED_BY_OWN_TABLES]
    with_remote: dict[str, Combo] = {}
    for combo in combos:
        with_remote.setdefault(combo.task, dataclasses.replace(combo, local_remote=True))
    own = [Combo(table, model, False) for table, (_, _, model) in OWN_TABLES.items()]
    return combos + list(with_remote.values()) + own


COMBOS = all_combos()


def bake(output_dir: Path, **options: str) -> Path:
    """Generate a project with the given options (others default) and return its folder."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=options))


def bake_combo(combo: Combo, output_dir: Path) -> Path:
    remote = str(output_dir / "dvc-remote") if combo.local_remote else ""
    dataset = str(TEST_DATA / combo.dataset) if combo.own else combo.dataset
    options = {"dataset": dataset, "target": combo.target, "model": combo.model, "dvc_remote_url": remote}
    if combo.own:
        options["project_name"] = combo.dataset.split(".")[0]
    return bake(output_dir, **options)


def load_module(path: Path):
    """A Python file of the template (a hook, a tool) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def locked_versions(lock: Path) -> dict[str, str]:
    """Package name -> version in a generated project's uv.lock (its own entry left out)."""
    packages = tomllib.loads(lock.read_text())["package"]
    return {package["name"]: package["version"] for package in packages if "registry" in package["source"]}


DVC = [sys.executable, "-m", "dvc"]  # the DVC of the tests' environment, the one the projects lock


def run(
    command: list[str], cwd: Path, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run a command in a generated project; on failure show its output."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def assert_every_test_passed(result: subprocess.CompletedProcess) -> None:
    """A generated project's own tests (pytest or `make test`) all ran and passed: pytest's summary
    says `<n> passed` and nothing else (a skipped, failed or erroring test fails this)."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert re.search(r"^(=+ )?\d+ passed(, \d+ warnings?)? in [\d.]+s", output, re.MULTILINE), output[-3000:]


def project_tests(project: Path, *args: str) -> None:
    """Run a generated project's own tests with this interpreter (see assert_every_test_passed)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    assert_every_test_passed(run(command, project, check=False))


def dvc_lock_hashes(project: Path) -> dict[str, str]:
    """path -> md5 of every stage output recorded in dvc.lock."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


def dvc(project: Path, *args: str) -> str:
    """The output of a `dvc` command in `project` (see DVC); on failure show its output."""
    return run([*DVC, *args], cwd=project).stdout


def exp_show(project: Path) -> dict[str, dict]:
    """Experiment name -> its registration.json, for the experiments `dvc exp show --json` lists."""
    found = {}
    for baseline in json.loads(dvc(project, "exp", "show", "--json")):
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                if rev.get("error"):
                    continue  # a failed experiment
                found[rev["name"]] = rev["data"]["metrics"]["reports/registration.json"]["data"]
    return found


def sweep_output(project: Path, result: subprocess.CompletedProcess) -> str:
    """What a sweep printed, then the end of each DVC queue worker's log: an experiment that fails
    while DVC sets it up, before it has a log of its own, is only told there."""
    parts = [result.stdout, result.stderr]
    for worker_log in sorted((project / ".dvc" / "tmp" / "exps" / "celery").glob("*.out")):
        lines = worker_log.read_text(errors="replace").splitlines()
        parts.append(f"--- the end of {worker_log.name}\n" + "\n".join(lines[-40:]))
    return "\n".join(parts)


def checked_runs_by_experiment(project: Path, runs: list) -> dict:
    """DVC experiment name -> its MLflow run, checking what parallel experiments must not break:
    every run finished, one run per experiment, the run ids that `dvc exp show` lists, no store
    left in DVC's temporary workspaces, no "database is locked" in any experiment's log."""
    by_exp = {}
    for logged in runs:
        assert logged.info.status == "FINISHED"
        name = logged.data.tags.get("dvc_exp_name")
        if name:
            assert name not in by_exp, f"two MLflow runs for experiment {name}"
            assert logged.info.run_name == name  # the MLflow UI lists the run by its DVC experiment
            by_exp[name] = logged
    shown = exp_show(project)
    assert set(by_exp) == set(shown)
    for name, decision in shown.items():
        assert decision["mlflow_run_id"] == by_exp[name].info.run_id
    assert not list((project / ".dvc" / "tmp" / "exps").glob("**/mlflow.db"))  # no stray stores
    for name in by_exp:
        assert "database is locked" not in dvc(project, "queue", "logs", name)
    return by_exp


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """combo -> a freshly generated project (generated once per session, never modified)."""
    cache: dict[Combo, Path] = {}

    def get(combo: Combo) -> Path:
        if combo not in cache:
            cache[combo] = bake_combo(combo, tmp_path_factory.mktemp(f"fresh-{combo.id}"))
        return cache[combo]

    return get


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory):
    """combo -> a generated project after one `dvc repro` (its output in ../repro.log)."""
    cache: dict[Combo, Path] = {}

    def get(combo: Combo) -> Path:
        if combo not in cache:
            project = bake_combo(combo, tmp_path_factory.mktemp(f"repro-{combo.id}"))
            result = run([*DVC, "repro"], cwd=project)
            (project.parent / "repro.log").write_text(result.stdout + result.stderr)
            cache[combo] = project
        return cache[combo]

    return get


# Option values for the hooks' tests: the defaults as cookiecutter renders them, and bad ones.
DEFAULTS = {
    **{key: value[0] if isinstance(value, list) else value for key, value in OPTIONS.items()},
    "project_slug": "wine-quality",
    "package_name": "wine_quality",
    "registered_model_name": "wine-quality",
    "mlflow_tracking_uri": "",
    "dvc_remote_url": "",
    "s3_endpoint_url": "",
}

BAD_OPTIONS = [
    ("project_name", "   "),
    ("project_slug", "my project"),
    ("project_slug", "MyProject"),
    ("project_slug", "-dash-first"),
    ("project_slug", "wine-quality\n"),
    ("project_name", "Two\nlines"),
    ("author_name", "Zoë\tO'Brien"),
    ("description", "Predicts things.\u2028And more."),
    ("package_name", "class"),
    ("package_name", "my-package"),
    ("package_name", "mlflow"),
    ("package_name", "json"),
    ("package_name", "wine_quality\n"),
    ("python_version", "3.9"),
    ("dataset", "iris"),
    ("dataset", "ftp://example.org/table.csv"),
    ("dataset", "https://user:hunter2@example.org/table.csv"),
    ("dataset", "s3://AKIAEXAMPLE:wJalr/K7MDENG+bPxRfiCY@bucket/table.csv"),
    ("dataset", "https://bucket.s3.amazonaws.com/t.csv?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12cd34"),
    ("dataset", "https://example.org/table.csv\n"),
    ("target", ""),
    ("task", "clustering"),
    ("model", "svm"),
    ("registered_model_name", "my model"),
    ("registered_model_name", "wine-quality\n"),
    ("mlflow_tracking_uri", "localhost:5000"),
    ("mlflow_tracking_uri", "http://"),
    ("mlflow_tracking_uri", "http://user:secret@mlflow.example.com"),
    ("mlflow_tracking_uri", "http://127.0.0.1:99999"),
    ("dvc_remote_url", "gs://bucket/path"),
    ("dvc_remote_url", "relative/dir"),
    ("dvc_remote_url", "s3://A_Bucket"),
    ("dvc_remote_url", "s3://AKIAEXAMPLE:hunter2@bucket/path"),
    ("s3_endpoint_url", "minio:9000"),
    ("s3_endpoint_url", "http://127.0.0.1:9000"),  # with no s3:// remote
    ("team_stack", "maybe"),
]
# The passwords and signatures in BAD_OPTIONS: no message may show them.
SECRETS = ("hunter2", "wJalr", "bPxRfiCY", "ab12cd34", ":secret@")


# Tests run on Linux only: they need Debian's PostgreSQL server and nginx (team mode) or headless
# Chromium, which .ci/run installs and GitHub's Ubuntu image ships. On macOS they are skipped with
# this reason, where CI=true would otherwise turn the missing tool into a failure. A module's name
# covers all its tests; "module::function" one test (all its parameters).
LINUX_ONLY = {
    "test_team.py": "team mode against Debian's PostgreSQL server and nginx",
    "test_shared_study.py": "a study on Debian's PostgreSQL server, a killed clone's processes found in /proc",
    "test_plots.py::test_dvc_plots_page_renders_in_headless_chromium": "Debian's headless Chromium",
    "test_predict.py::test_the_mlflow_ui_shows_where_runs_and_versions_came_from": "Debian's headless Chromium",
}


def linux_only_reason(module: str, function: str) -> str | None:
    """Why a test is skipped on macOS (see LINUX_ONLY), or None."""
    needs = LINUX_ONLY.get(module) or LINUX_ONLY.get(f"{module}::{function}")
    return f"Linux only: {needs}, tested on ubuntu-latest (.github/workflows/test.yml)" if needs else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if sys.platform != "darwin":
        return
    for item in items:
        reason = linux_only_reason(item.path.name, getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
