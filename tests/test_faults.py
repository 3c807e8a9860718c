"""Faults leave nothing lost or corrupt: a crash at each named fail point, two repros at once,
secrets, the UI's address."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from conftest import bake, dvc, run
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


PIPELINE_POINTS = [
    "train.model_written",
    "evaluate.metrics_logged",
    "register.run_started",
    "register.model_logged",
    "register.version_created",
    "register.alias_moved",
]
PROMOTE_POINTS = ["promote.before_alias", "promote.alias_moved"]
# After a kill at these, the next run of register starts a new MLflow run (the killed one is
# marked KILLED); at the later ones, it reuses the finished run and its version.
RUN_LEFT_RUNNING = {"register.run_started", "register.model_logged"}


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that has run its pipeline once; each crash test then works on a new commit."""
    project = bake(tmp_path_factory.mktemp("crash"), project_name="crashed")
    params = project / "params.yaml"  # promote any candidate, better than production or not
    params.write_text(params.read_text().replace("must_beat_production: true", "must_beat_production: false"))
    dvc(project, "repro")
    return project


def new_commit(project: Path, trees: int) -> str:
    """Commit train.n_estimators=`trees` (new inputs for every stage from train on), returned as the
    commit's hash."""
    params = project / "params.yaml"
    params.write_text(re.sub(r"n_estimators: \d+", f"n_estimators: {trees}", params.read_text(), count=1))
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    run(["git", *identity, "commit", "--quiet", "-m", f"{trees} trees", "params.yaml"], project)
    return run(["git", "rev-parse", "HEAD"], project).stdout.strip()


def killed_at(point: str, command: list[str], project: Path) -> None:
    """Run `command` with FAIL_POINT=point; check that it ended killed by SIGKILL, not otherwise."""
    result = subprocess.run(
        command, cwd=project, capture_output=True, text=True, env={**os.environ, "FAIL_POINT": point}
    )
    output = result.stdout + result.stderr
    # DVC: "failed to run: <cmd>, exited with -9" when the shell exec'd the command, or the shell's
    # "Killed" line and "exited with 137" (128 + SIGKILL) when it forked it (dash, Debian's /bin/sh,
    # which DVC runs stages with when SHELL is unset);
    # make: "make: *** [Makefile:<n>: <target>] Killed"
    by_dvc = "exited with -9" in output or (
        "exited with 137" in output and re.search(r"^\s*Killed$", output, re.MULTILINE)
    )
    assert result.returncode != 0 and (by_dvc or "] Killed" in output), output


def assert_consistent(project: Path, commit: str) -> dict:
    """The state an uninterrupted run on `commit` leaves: one FINISHED MLflow run for it (others
    KILLED), one registry version per run, `staging` on the finished run's version, the decision
    file saying so, an intact store, DVC up to date and no leftover temporary file. Returns the
    decision."""
    client = store(project)
    experiment = client.get_experiment_by_name(project.name)
    runs = client.search_runs([experiment.experiment_id], f"tags.git_commit = '{commit}'")
    statuses = sorted(r.info.status for r in runs)
    assert statuses.count("FINISHED") == 1 and set(statuses) <= {"FINISHED", "KILLED"}, statuses
    finished = next(r for r in runs if r.info.status == "FINISHED")
    for logged in runs:
        versions = client.search_model_versions(
            f"name = '{project.name}' and run_id = '{logged.info.run_id}'"
        )
        assert len(versions) == (1 if logged is finished else 0), (logged.info.status, versions)
    version = client.search_model_versions(f"run_id = '{finished.info.run_id}'")[0]
    assert client.get_registered_model(project.name).aliases["staging"] == int(version.version)
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert (decision["mlflow_run_id"], decision["model_version"]) == (
        finished.info.run_id,
        int(version.version),
    )
    with closing(sqlite3.connect(project / "mlflow.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert dvc(project, "status").strip().endswith("Data and pipelines are up to date.")
    for folder in ("reports", "models", "dvclive"):
        leftovers = [path.name for path in (project / folder).rglob("*") if ".tmp" in path.name]
        assert leftovers == [], leftovers
    return decision


@pytest.mark.parametrize("point", PIPELINE_POINTS)
def test_a_crash_at_each_fail_point_then_repro_ends_as_an_uninterrupted_run(
    crashed: Path, point: str
) -> None:
    commit = new_commit(crashed, trees=10 + PIPELINE_POINTS.index(point))
    client = store(crashed)
    experiment = client.get_experiment_by_name(crashed.name).experiment_id
    killed_at(point, [sys.executable, "-m", "dvc", "repro"], crashed)
    runs = client.search_runs([experiment], f"tags.git_commit = '{commit}'")
    # What the kill left proves where it struck: no run before register, a running one at its
    # first two points, a finished one after.
    expected = (
        {"RUNNING"} if point in RUN_LEFT_RUNNING else {"FINISHED"} if point.startswith("register") else set()
    )
    assert {r.info.status for r in runs} == expected
    assert "register: models:/" in dvc(crashed, "repro")  # the documented recovery
    assert_consistent(crashed, commit)
    killed = client.search_runs(
        [experiment], f"tags.git_commit = '{commit}' and attributes.status = 'KILLED'"
    )
    assert len(killed) == (1 if point in RUN_LEFT_RUNNING else 0)


@pytest.mark.parametrize("point", PROMOTE_POINTS)
def test_a_crash_in_promote_then_promote_again_moves_production_once(crashed: Path, point: str) -> None:
    commit = new_commit(crashed, trees=40 + PROMOTE_POINTS.index(point))
    dvc(crashed, "repro")
    decision = assert_consistent(crashed, commit)
    client = store(crashed)
    before = client.get_registered_model(crashed.name).aliases.get("production")
    killed_at(point, ["make", "promote"], crashed)
    moved = client.get_registered_model(crashed.name).aliases.get("production")
    assert moved == (before if point == "promote.before_alias" else decision["model_version"])
    again = run(["make", "promote"], crashed).stdout
    assert client.get_registered_model(crashed.name).aliases["production"] == decision["model_version"]
    if point == "promote.alias_moved":
        assert f"version {decision['model_version']} already has alias 'production'" in again
    assert_consistent(crashed, commit)


def test_two_repros_at_once_one_waits_or_fails_clearly(tmp_path: Path) -> None:
    project = bake(tmp_path)
    first, second = (start([sys.executable, "-m", "dvc", "repro"], project) for _ in range(2))
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


def test_no_secret_reaches_generated_files_or_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "wJalrXUtnFEMI-test-only-" + os.urandom(6).hex()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTONLY")
    project = bake(tmp_path)
    dvc(project, "repro")
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert secret.encode() not in path.read_bytes(), path
    client = store(project)
    experiment = client.get_experiment_by_name(project.name)
    for logged in client.search_runs([experiment.experiment_id]):
        assert secret not in repr(logged.data.params) + repr(logged.data.tags)


def test_make_ui_points_to_the_tracking_server_pyproject_names(tmp_path: Path) -> None:
    """With a tracking server configured (pyproject.toml), `make ui` starts no local UI of its own."""
    server = f"http://127.0.0.1:{free_port()}"
    project = bake(tmp_path, mlflow_tracking_uri=server)
    result = subprocess.run(["make", "ui"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"runs go to the tracking server: open {server}" in result.stdout
    assert not (project / "mlflow.db").exists()
