"""The generated project's CI workflow: valid for GitHub, and its steps work on a fresh clone."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import DVC, TEMPLATE, bake, run

pytestmark = pytest.mark.xdist_group("ci-workflow")


def test_workflow_is_valid_and_calls_only_existing_make_targets(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="ci-checked", python_version="3.12")
    workflow = project / ".github" / "workflows" / "ci.yml"
    run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        project,
    )
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert jobs["pipeline"]["needs"] == "checks"
    commands = [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]
    targets = {match for command in commands for match in re.findall(r"\bmake ([a-z-]+)", command)}
    assert targets >= {"setup", "data", "lint", "test", "repro", "metrics-diff", "gate"}
    for target in targets:  # each exists: make -n fails on an unknown target
        run(["make", "-n", target], project)
    # Each job installs the uv that `make setup` would bootstrap, caching on the lock; uv takes the
    # Python that python_version wrote to .python-version.
    uv_steps = [s for j in jobs.values() for s in j["steps"] if "setup-uv" in s.get("uses", "")]
    bootstrapped, template_uv = (
        re.search(r"^UV_VERSION := (\S+)$", (folder / "Makefile").read_text(), re.M).group(1)
        for folder in (project, TEMPLATE)
    )
    assert bootstrapped == template_uv  # the template's tests run the uv its projects get
    assert [(s["with"]["version"], s["with"]["cache-dependency-glob"]) for s in uv_steps] == [
        (bootstrapped, "uv.lock")
    ] * 2
    assert (project / ".python-version").read_text() == "3.12\n"
    assert 'requires-python = ">=3.12"' in (project / "pyproject.toml").read_text().splitlines()
    assert "MLFLOW_TRACKING_PASSWORD" not in workflow.read_text()  # no tracking server: no identity


def test_team_workflow_reads_the_team_server_with_ci_identity_from_secrets(tmp_path: Path) -> None:
    """With the team stack: CI's identity comes from the repository's secrets, and only a step
    that reads (`make compare`) points at the team's server, and only when the secret is set."""
    project = bake(tmp_path, project_name="ci-team", team_stack="yes")
    workflow = project / ".github" / "workflows" / "ci.yml"
    schema = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    run([*schema, str(workflow)], project)
    pipeline = yaml.safe_load(workflow.read_text())["jobs"]["pipeline"]
    assert pipeline["env"] == {
        "MLFLOW_TRACKING_USERNAME": "${{ secrets.MLFLOW_TRACKING_USERNAME }}",
        "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
    }
    on_server = [step for step in pipeline["steps"] if step.get("env", {}).get("MLFLOW_TRACKING_URI") == ""]
    assert [(step["run"], step["if"]) for step in on_server] == [
        ("make compare", "env.MLFLOW_TRACKING_PASSWORD != ''")
    ]


def ci_clone(tmp_path: Path, **options: str) -> Path:
    """A fresh clone of a generated project, as a CI runner checks it out (no DVC data)."""
    project = bake(tmp_path / "origin", **options)
    clone = tmp_path / "runner"
    run(["git", "clone", "--quiet", str(project), str(clone)], tmp_path)
    assert not any(clone.joinpath("data", "raw").glob("*.csv"))
    return clone


def test_pipeline_job_steps_pass_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = ci_clone(tmp_path, project_name="ci-run")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow-ci.db'}"}
    run(["make", "data"], clone, env=env)  # no remote: the bundled data set, checked against DVC's hash
    dvc_file = next(clone.joinpath("data", "raw").glob("*.dvc"))
    assert "up to date" in run([*DVC, "status", str(dvc_file)], clone).stdout
    run(["make", "repro"], clone, env=env)
    summary = run(["make", "metrics-diff", "REV=origin/main"], clone, env=env).stdout
    assert "| dvclive/metrics.json" in summary and "f1_macro" in summary
    assert "gate: passed" in run(["make", "gate"], clone, env=env).stdout


def test_gate_job_fails_when_the_model_misses_the_gate(tmp_path: Path) -> None:
    clone = ci_clone(tmp_path, project_name="ci-gate", dataset="diabetes")
    params = clone / "params.yaml"
    params.write_text(re.sub(r"gate: \{\}", "gate: {r2: 0.99}", params.read_text()))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow-ci.db'}"}
    run(["make", "data"], clone, env=env)
    run(["make", "repro"], clone, env=env)  # the pipeline itself succeeds, and registers nothing
    gate = run(["make", "gate"], clone, check=False, env=env)
    assert gate.returncode != 0
    assert re.search(r"gate: failed: r2=0\.\d{4} is below the gate's 0\.99", gate.stderr), gate.stderr


def test_bundled_data_refuses_data_that_is_not_the_tracked_version(tmp_path: Path) -> None:
    clone = ci_clone(tmp_path, project_name="ci-changed")
    dvc_file = next(clone.joinpath("data", "raw").glob("*.dvc"))
    dvc_file.write_text(re.sub(r"md5: [0-9a-f]+", "md5: " + "0" * 32, dvc_file.read_text()))
    failed = run(["make", "data"], clone, check=False)
    assert failed.returncode != 0 and "is no longer the bundled data set" in failed.stderr
    assert not any(clone.joinpath("data", "raw").glob("*.csv"))  # nothing written


def test_no_workflow_when_ci_is_none(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="no-ci", ci="none")
    assert not (project / ".github").exists()
