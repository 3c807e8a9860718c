"""What the crash tests share: a kill at a named fail point, proven; a new commit for new inputs;
and the state an uninterrupted run leaves, checked on the project's store (SQLite or a server)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from conftest import DVC, dvc_lock_hashes, run
from mlflow import MlflowClient

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
REGISTER_POINTS = [
    "register.run_started",
    "register.model_logged",
    "register.version_created",
    "register.alias_moved",
]
# files.before_rename strikes at the first atomic write of a run: prepare's, when its params change.
PIPELINE_POINTS = ["files.before_rename", "train.model_written", "evaluate.metrics_logged", *REGISTER_POINTS]
PROMOTE_POINTS = ["promote.before_alias", "promote.alias_moved"]
# After a kill at these, the next run of register starts a new MLflow run (the killed one is
# marked KILLED); at the later ones, it reuses the finished run and its version.
RUN_LEFT_RUNNING = {"register.run_started", "register.model_logged"}


def killed_at(point: str, command: list[str], project: Path, env: dict | None = None) -> str:
    """Run `command` with FAIL_POINT=point; check that it ended killed by SIGKILL, not otherwise.
    Return its output."""
    result = subprocess.run(
        command, cwd=project, capture_output=True, text=True, env={**(env or os.environ), "FAIL_POINT": point}
    )
    output = result.stdout + result.stderr
    # A process killed by SIGKILL shows as exit status -9 to the one that started it: DVC says
    # "exited with -9", make "make: *** [Makefile:<n>: <target>] Killed", cookiecutter "(exit status:
    # -9)". Started through a shell that forks it (dash, Debian's /bin/sh: DVC's when SHELL is unset,
    # make's for a line with quotes), the shell prints "Killed" and exits with 137 (128 + 9).
    direct = ("exited with -9", "] Killed", "(exit status: -9)")
    through_shell = re.search(r"^\s*Killed$", output, re.MULTILINE) and (
        "exited with 137" in output or "] Error 137" in output
    )
    assert result.returncode != 0 and (any(m in output for m in direct) or through_shell), output
    return output


@dataclass(frozen=True)
class Before:
    """What a project held before a crashed run: where `staging` pointed."""

    staging: int | None

    @classmethod
    def of(cls, project: Path, client: MlflowClient) -> Before:
        return cls(alias_version(client, project.name, "staging"))


def assert_left_by(
    point: str, output: str, project: Path, commit: str, client: MlflowClient, before: Before
) -> None:
    """What a kill at `point` alone leaves, so a fail point moved elsewhere fails its test: the stage
    DVC names, the files on disk, and the MLflow runs, versions and aliases of `commit`."""
    stage = "prepare" if point == "files.before_rename" else point.split(".")[0]
    assert f"failed to reproduce '{stage}'" in output, output
    prepared = project / "data" / "prepared"
    temporary = [path.name for path in prepared.glob(".*.tmp")]
    if stage == "prepare":  # the first split written, not yet renamed; DVC removed the old one
        assert len(temporary) == 1 and temporary[0].startswith(".train.parquet."), temporary
        assert not (prepared / "train.parquet").exists()
    else:
        assert temporary == []
    locked = dvc_lock_hashes(project)
    model = project / "models" / "model.skops"
    if stage in ("train", "evaluate"):  # the model written; DVC recorded it only when train ended
        assert (hashlib.md5(model.read_bytes()).hexdigest() == locked["models/model.skops"]) == (
            stage == "evaluate"
        )
    if stage == "evaluate":  # dvclive writes metrics.json at the end: nothing of evaluate's yet
        assert not (project / "dvclive" / "metrics.json").exists()
    experiment = client.get_experiment_by_name(project.name).experiment_id
    runs = client.search_runs([experiment], f"tags.git_commit = '{commit}'")
    if stage != "register":
        assert runs == []
        return
    (logged,) = runs
    assert logged.info.status == ("RUNNING" if point in RUN_LEFT_RUNNING else "FINISHED")
    models = client.search_logged_models([experiment], f"source_run_id = '{logged.info.run_id}'")
    assert (bool(logged.data.params), len(models)) == (
        (False, 0) if point == "register.run_started" else (True, 1)
    )
    versions = client.search_model_versions(f"name = '{project.name}' and run_id = '{logged.info.run_id}'")
    assert len(versions) == (1 if point in ("register.version_created", "register.alias_moved") else 0)
    staging = alias_version(client, project.name, "staging")
    if point == "register.alias_moved":
        assert staging == int(versions[0].version) != before.staging
    else:
        assert staging == before.staging
    assert not (project / "reports" / "registration.json").exists()  # DVC removed it; written last


def new_commit(project: Path, param: str, value: str) -> str:
    """Commit params.yaml with the first `param:` line set to `value` (new inputs for every stage
    that reads it), returned as the commit's hash."""
    params = project / "params.yaml"
    text, found = re.subn(
        rf"^(\s*{param}:) [^#\n]*?(\s*#|$)", rf"\1 {value}\2", params.read_text(), count=1, flags=re.M
    )
    assert found, param
    params.write_text(text)
    run(["git", *IDENTITY, "commit", "--quiet", "-m", f"{param}: {value}", "params.yaml"], project)
    return run(["git", "rev-parse", "HEAD"], project).stdout.strip()


def dvc_status(project: Path, env: dict | None = None) -> str:
    return run([*DVC, "status"], project, env=env).stdout


def alias_version(client: MlflowClient, name: str, alias: str) -> int | None:
    """The version number `alias` points to (a string from a tracking server, an int from SQLite)."""
    version = client.get_registered_model(name).aliases.get(alias)
    return None if version is None else int(version)


def assert_consistent(project: Path, commit: str, client: MlflowClient, env: dict | None = None) -> dict:
    """The state an uninterrupted run on `commit` leaves: one FINISHED MLflow run for it (others
    KILLED), one registry version per run, `staging` on the finished run's version, the decision
    file saying so, an intact store (SQLite's integrity check, for a local one), DVC up to date and
    no leftover temporary file. Returns the decision."""
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
    assert alias_version(client, project.name, "staging") == int(version.version)
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert (decision["mlflow_run_id"], decision["model_version"]) == (
        finished.info.run_id,
        int(version.version),
    )
    if (project / "mlflow.db").exists():
        with closing(sqlite3.connect(project / "mlflow.db")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert dvc_status(project, env).strip().endswith("Data and pipelines are up to date.")
    for folder in ("reports", "models", "dvclive", "data/prepared"):
        leftovers = [path.name for path in (project / folder).rglob("*") if ".tmp" in path.name]
        assert leftovers == [], leftovers
    return decision
