"""Faults leave nothing lost or corrupt: kill -9 mid-pipeline, two repros at once, secrets, the UI's address."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import yaml
from conftest import bake, dvc
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from team_stack import free_port

pytestmark = pytest.mark.xdist_group("faults")


def stage_running(project: Path, stage: str) -> bool:
    """Whether a process of `stage` runs in `project` now."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if f".stages.{stage}" in cmdline and Path(os.readlink(proc / "cwd")) == project:
                return True
        except (OSError, ValueError):
            continue
    return False


def run_started(project: Path) -> bool:
    """Whether the project's MLflow store holds a run in state RUNNING."""
    try:
        with closing(sqlite3.connect(project / "mlflow.db", timeout=0.1)) as db:
            return db.execute("select count(*) from runs where status = 'RUNNING'").fetchone()[0] > 0
    except sqlite3.OperationalError:  # the store is being written: ask again
        return False


def wait_for(condition: Callable[[], bool], repro: subprocess.Popen, deadline: float, what: str) -> None:
    """Poll `condition` until it holds; fail if `repro` ends first or the deadline passes."""
    while not condition():
        assert repro.poll() is None, f"repro ended before {what}:\n{repro.stdout.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.02)


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


@pytest.mark.parametrize("stage", ["train", "evaluate", "register"])
def test_kill_9_mid_stage_then_repro_completes_cleanly(
    tmp_path: Path, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = bake(tmp_path)
    repro = start([sys.executable, "-m", "dvc", "repro"], project)
    deadline = time.monotonic() + 120
    wait_for(lambda: stage_running(project, stage), repro, deadline, f"{stage} was caught")
    # Kill well into the stage's work (for register: once its MLflow run has started).
    if stage == "register":
        wait_for(lambda: run_started(project), repro, deadline, "register's MLflow run started")
    time.sleep({"train": 0.5, "evaluate": 1.2, "register": 0.3}[stage])
    os.killpg(repro.pid, signal.SIGKILL)
    repro.wait()
    lock = project / "dvc.lock"
    recorded = yaml.safe_load(lock.read_text())["stages"] if lock.exists() else {}
    assert stage not in recorded, f"{stage} had finished before the kill: nothing was interrupted"

    assert "register: models:/" in dvc(project, "repro")
    client = store(project)
    experiment = client.get_experiment_by_name(project.name)
    statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
    assert "RUNNING" not in statuses and statuses.count("FINISHED") == 1, statuses
    with sqlite3.connect(project / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    versions = client.search_model_versions(f"name = '{project.name}'")
    assert len(versions) == 1  # a replayed register stage found the version it had made
    assert client.get_registered_model(project.name).aliases == {"staging": 1}
    run_id = versions[0].run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", client.tracking_uri)  # registry too, not ./mlflow.db
    model_dir = download_artifacts(artifact_uri=f"models:/{project.name}/1", dst_path=str(tmp_path / "model"))
    assert (Path(model_dir) / "MLmodel").exists()  # no registry version without its model
    assert dvc(project, "status").strip().endswith("Data and pipelines are up to date.")


def test_two_repros_at_once_one_waits_or_fails_clearly(tmp_path: Path) -> None:
    project = bake(tmp_path)
    first, second = (start([sys.executable, "-m", "dvc", "repro"], project) for _ in range(2))
    outputs = [process.communicate()[0] for process in (first, second)]
    codes = [first.returncode, second.returncode]
    assert 0 in codes, outputs
    for code, output in zip(codes, outputs, strict=True):
        if code != 0:
            assert "lock" in output.lower(), output  # DVC's repository lock, said plainly
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
