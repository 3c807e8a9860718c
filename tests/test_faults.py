"""Faults leave nothing lost or corrupt: a crash at each named fail point (the pipeline, promote,
`make adopt`, the post-generation hook), two repros at once, the UI's address. (Secrets and the
fail points against a tracking server: test_team.py.)"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from conftest import DVC, TEMPLATE, TEST_DATA, bake, dvc, run
from crash import (
    PIPELINE_POINTS,
    PROMOTE_POINTS,
    RUN_LEFT_RUNNING,
    Before,
    assert_consistent,
    assert_left_by,
    killed_at,
    new_commit,
)
from mlflow import MlflowClient
from team_stack import free_port

pytestmark = pytest.mark.xdist_group("faults")


def start(command: list[str], project: Path) -> subprocess.Popen:
    """Start a command in its own process group (so kill -9 reaches DVC and its stage)."""
    return subprocess.Popen(
        command,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def store(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that has run its pipeline once; each crash test then works on a new commit."""
    project = bake(tmp_path_factory.mktemp("crash"), project_name="crashed")
    params = project / "params.yaml"  # promote any candidate, better than production or not
    params.write_text(params.read_text().replace("must_beat_production: true", "must_beat_production: false"))
    dvc(project, "repro")
    return project


@pytest.mark.parametrize("point", PIPELINE_POINTS)
def test_a_crash_at_each_fail_point_then_repro_ends_as_an_uninterrupted_run(
    crashed: Path, point: str
) -> None:
    index = PIPELINE_POINTS.index(point)
    # New inputs: a new split reruns prepare (the first atomic write), new trees train onwards.
    param, value = (
        ("test_size", f"0.{20 + index}")
        if point == "files.before_rename"
        else ("n_estimators", str(10 + index))
    )
    commit = new_commit(crashed, param, value)
    client = store(crashed)
    experiment = client.get_experiment_by_name(crashed.name).experiment_id
    before = Before.of(crashed, client)
    output = killed_at(point, [*DVC, "repro"], crashed)
    assert_left_by(point, output, crashed, commit, client, before)  # proves where it struck
    assert "register: models:/" in dvc(crashed, "repro")  # the documented recovery
    assert_consistent(crashed, commit, store(crashed))
    killed = client.search_runs(
        [experiment], f"tags.git_commit = '{commit}' and attributes.status = 'KILLED'"
    )
    assert len(killed) == (1 if point in RUN_LEFT_RUNNING else 0)


@pytest.mark.parametrize("point", PROMOTE_POINTS)
def test_a_crash_in_promote_then_promote_again_moves_production_once(crashed: Path, point: str) -> None:
    commit = new_commit(crashed, "n_estimators", str(40 + PROMOTE_POINTS.index(point)))
    dvc(crashed, "repro")
    decision = assert_consistent(crashed, commit, store(crashed))
    client = store(crashed)
    before = client.get_registered_model(crashed.name).aliases.get("production")
    killed_at(point, ["make", "promote"], crashed)
    moved = client.get_registered_model(crashed.name).aliases.get("production")
    assert moved == (before if point == "promote.before_alias" else decision["model_version"])
    again = run(["make", "promote"], crashed).stdout
    assert client.get_registered_model(crashed.name).aliases["production"] == decision["model_version"]
    if point == "promote.alias_moved":
        assert f"version {decision['model_version']} already has alias 'production'" in again
    assert_consistent(crashed, commit, store(crashed))


HOOK_POINTS = ["hook.store_created", "hook.git_initialised", "hook.dvc_initialised"]
ADOPT_POINTS = ["adopt.table_copied", "adopt.previous_removed", "adopt.data_added"]


def committed_tree(project: Path) -> str:
    """The git tree of the project's files as they are (all added): equal trees, equal projects."""
    run(["git", "add", "--all"], project)
    return run(["git", "write-tree"], project).stdout.strip()


@pytest.fixture(scope="module")
def generated_tree(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tree of the first commit of a project generated without interruption."""
    project = bake(tmp_path_factory.mktemp("uninterrupted"))
    return run(["git", "rev-parse", "HEAD^{tree}"], project).stdout.strip()


@pytest.mark.parametrize("point", HOOK_POINTS)
def test_a_crash_in_the_hook_leaves_no_folder_and_generating_again_makes_the_same_project(
    generated_tree: str, tmp_path: Path, point: str
) -> None:
    generate = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    killed_at(point, generate, tmp_path)
    assert list(tmp_path.iterdir()) == []  # cookiecutter removed the half-made project
    run(generate, tmp_path)  # the documented recovery: generate again
    project = tmp_path / "wine-quality"
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert run(["git", "rev-parse", "HEAD^{tree}"], project).stdout.strip() == generated_tree
    assert "up to date" in dvc(project, "status", "data/raw/wine.csv.dvc")  # the data in DVC's cache
    with closing(sqlite3.connect(project / "mlflow.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture(scope="module")
def adopting(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project on the wine sample, and the tree its copy has after an uninterrupted `make adopt` of
    the penguins table."""
    project = bake(tmp_path_factory.mktemp("adopting"), project_name="adopting")
    reference = tmp_path_factory.mktemp("adopted") / project.name
    shutil.copytree(project, reference, symlinks=True)
    run(ADOPT_PENGUINS, reference)
    assert "data/raw/penguins.csv" in dvc(reference, "status")  # the pipeline's input now
    return project, committed_tree(reference)


ADOPT_PENGUINS = ["make", "adopt", f"DATA={TEST_DATA / 'penguins.csv'}", "TARGET=species"]


@pytest.mark.parametrize("point", ADOPT_POINTS)
def test_a_crash_in_adopt_then_adopt_again_ends_as_an_uninterrupted_adopt(
    adopting: tuple[Path, str], tmp_path: Path, point: str
) -> None:
    original, adopted_tree = adopting
    project = tmp_path / original.name
    shutil.copytree(original, project, symlinks=True)
    killed_at(point, ADOPT_PENGUINS, project)
    raw = project / "data" / "raw"
    # What each point alone leaves: the new table copied; then the old one's .dvc file removed
    # with it; then the new one's .dvc file added. The schema is still the old table's.
    left = {
        name
        for name in ("wine.csv", "wine.csv.dvc", "penguins.csv", "penguins.csv.dvc")
        if (raw / name).exists()
    }
    assert (
        left
        == {
            "adopt.table_copied": {"wine.csv", "wine.csv.dvc", "penguins.csv"},
            "adopt.previous_removed": {"penguins.csv"},
            "adopt.data_added": {"penguins.csv", "penguins.csv.dvc"},
        }[point]
    )
    assert "wine" in (project / "data" / "schema.yaml").read_text()
    run(ADOPT_PENGUINS, project)  # the documented recovery: the same command again
    assert committed_tree(project) == adopted_tree
    assert not (project / "data" / "raw" / "wine.csv").exists()
    status = dvc(project, "status", "data/raw/penguins.csv.dvc")
    assert "up to date" in status, status  # the new table in DVC's cache, as committed


def test_two_repros_at_once_one_waits_or_fails_clearly(tmp_path: Path) -> None:
    project = bake(tmp_path)
    first, second = (start([*DVC, "repro"], project) for _ in range(2))
    outputs = [process.communicate()[0] for process in (first, second)]
    codes = [first.returncode, second.returncode]
    assert 0 in codes, outputs
    for code, output in zip(codes, outputs, strict=True):
        assert "Traceback" not in output, output
        if code != 0:  # DVC's repository lock, or its lock on the stage's files, in DVC's own words
            repository = "ERROR: Unable to acquire lock. Most likely another DVC process"
            files = re.search(
                r"^ERROR: failed to reproduce '.+': '.+' is busy, it is being blocked by:$", output, re.M
            )
            assert repository in output or files, output
    assert "Data and pipelines are up to date" in dvc(project, "repro")
    with sqlite3.connect(project / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    client = store(project)
    experiment = client.get_experiment_by_name(project.name)
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"]  # the pipeline ran once
    assert len(client.search_model_versions(f"name = '{project.name}'")) == 1


def test_make_ui_points_to_the_tracking_server_pyproject_names(tmp_path: Path) -> None:
    """With a tracking server configured (pyproject.toml), `make ui` starts no local UI of its own."""
    server = f"http://127.0.0.1:{free_port()}"
    project = bake(tmp_path, mlflow_tracking_uri=server)
    result = subprocess.run(["make", "ui"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"runs go to the tracking server: open {server}" in result.stdout
    assert not (project / "mlflow.db").exists()
