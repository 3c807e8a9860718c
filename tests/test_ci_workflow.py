"""The CI workflows: the generated project's (valid for GitHub, its steps work on a fresh clone, an
optional macOS leg) and the template's own (make test on Linux and macOS, Python 3.11 and 3.13);
the tests' parts that are Linux-only say so on macOS, and the rest work there."""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import DVC, TEMPLATE, bake, load_module, pytest_collection_modifyitems, run
from team_stack import free_port, listening_addresses, lsof_listening_addresses, proc_listening_addresses

pytestmark = pytest.mark.xdist_group("ci-workflow")
# GitHub's schema for workflow files, as check-jsonschema bundles it.
SCHEMA_CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
TEMPLATE_WORKFLOW = TEMPLATE / ".github" / "workflows" / "test.yml"
SUPPORTED_PYTHON = load_module(TEMPLATE / "hooks" / "pre_gen_project.py").SUPPORTED_PYTHON


def test_workflow_is_valid_and_calls_only_existing_make_targets(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="ci-checked", python_version="3.12")
    workflow = project / ".github" / "workflows" / "ci.yml"
    run([*SCHEMA_CHECK, str(workflow)], project)
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
    ] * len(jobs)
    assert set(jobs) == {"checks", "macos", "pipeline"}
    assert (project / ".python-version").read_text() == "3.12\n"
    assert 'requires-python = ">=3.12"' in (project / "pyproject.toml").read_text().splitlines()
    assert "MLFLOW_TRACKING_PASSWORD" not in workflow.read_text()  # no tracking server: no identity


def workflow_triggers(workflow: dict) -> dict:
    """The workflow's `on:` (YAML 1.1, as PyYAML reads it, takes the key `on` for true)."""
    return workflow.get("on", workflow.get(True))


def test_macos_leg_runs_only_when_the_repository_asks_for_it(tmp_path: Path) -> None:
    """The generated workflow's macOS job runs the tests and the pipeline on macos-latest only when
    the repository variable MACOS_CI is true or a manual run ticks `macos`; the comment above it
    says how; the Linux jobs neither wait for it nor change."""
    project = bake(tmp_path, project_name="ci-macos")
    text = (project / ".github" / "workflows" / "ci.yml").read_text()
    workflow = yaml.safe_load(text)
    jobs = workflow["jobs"]
    macos = jobs["macos"]
    assert macos["runs-on"] == "macos-latest"
    assert macos["if"] == "vars.MACOS_CI == 'true' || inputs.macos"
    triggers = workflow_triggers(workflow)
    assert set(triggers) == {"push", "pull_request", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]} and triggers["pull_request"] is None
    assert triggers["workflow_dispatch"]["inputs"]["macos"] == {
        "description": "Also run the tests and the pipeline on macOS",
        "type": "boolean",
        "default": False,
    }
    assert (
        "`gh variable set MACOS_CI --body true`" in text and "`gh workflow run ci.yml -f macos=true`" in text
    )
    commands = [step["run"] for step in macos["steps"] if "run" in step]
    assert commands == ["make setup", "make data", "make test", "make repro"]
    checks_env = next(step["env"] for step in jobs["checks"]["steps"] if step.get("run") == "make data")
    assert next(step["env"] for step in macos["steps"] if step.get("run") == "make data") == checks_env
    # The Linux jobs as before: on ubuntu-latest, always, the pipeline after the checks only.
    for name in ("checks", "pipeline"):
        assert jobs[name]["runs-on"] == "ubuntu-latest" and "if" not in jobs[name]
    assert [job.get("needs") for job in jobs.values()] == [None, None, "checks"]


def test_team_workflow_reads_the_team_server_with_ci_identity_from_secrets(tmp_path: Path) -> None:
    """With the team stack: CI's identity comes from the repository's secrets and reaches only the
    step that reads (`make compare`), which alone points at the team's server, and runs only when
    the secret is set; the job sees whether it is, not its value."""
    project = bake(tmp_path, project_name="ci-team", team_stack="yes")
    workflow = project / ".github" / "workflows" / "ci.yml"
    run([*SCHEMA_CHECK, str(workflow)], project)
    pipeline = yaml.safe_load(workflow.read_text())["jobs"]["pipeline"]
    assert pipeline["env"] == {"HAS_TRACKING_IDENTITY": "${{ secrets.MLFLOW_TRACKING_PASSWORD != '' }}"}
    with_identity = [step for step in pipeline["steps"] if "MLFLOW_TRACKING_PASSWORD" in step.get("env", {})]
    assert [(step["run"], step["if"], step["env"]) for step in with_identity] == [
        (
            "make compare",
            "env.HAS_TRACKING_IDENTITY == 'true'",
            {
                "MLFLOW_TRACKING_URI": "",
                "MLFLOW_TRACKING_USERNAME": "${{ secrets.MLFLOW_TRACKING_USERNAME }}",
                "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
            },
        )
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


def test_template_workflow_runs_make_test_on_linux_and_macos_for_oldest_and_newest_python() -> None:
    """The template's own workflow (.github/workflows/test.yml): valid for GitHub; `make test` on
    ubuntu-latest and macos-latest with Python 3.11 and 3.13 (the template's oldest and newest),
    in .venv made by that Python; `make lint` once; PostgreSQL, nginx and Chromium on Linux only."""
    run([*SCHEMA_CHECK, str(TEMPLATE_WORKFLOW)], TEMPLATE)
    workflow = yaml.safe_load(TEMPLATE_WORKFLOW.read_text())
    triggers = workflow_triggers(workflow)
    assert triggers["push"] == {"branches": ["main"]} and "pull_request" in triggers
    assert set(workflow["jobs"]) == {"test", "lint"}
    test, lint = workflow["jobs"]["test"], workflow["jobs"]["lint"]
    strategy = test["strategy"]
    assert strategy["matrix"] == {"os": ["ubuntu-latest", "macos-latest"], "python": ["3.11", "3.13"]}
    assert strategy["matrix"]["python"] == [SUPPORTED_PYTHON[0], SUPPORTED_PYTHON[-1]]
    assert strategy["fail-fast"] is False  # one system's failure does not hide the other's result
    assert test["runs-on"] == "${{ matrix.os }}"
    setup_python = next(step for step in test["steps"] if "setup-python" in step.get("uses", ""))
    assert setup_python["with"] == {"python-version": "${{ matrix.python }}"}
    commands = [step["run"] for step in test["steps"] if "run" in step]
    # make venv and make test with the matrix's Python: the Makefile's PYTHON3 makes .venv.
    chosen = 'PYTHON3="${{ steps.' + setup_python["id"] + '.outputs.python-path }}"'
    assert f"make venv {chosen}" in commands and commands[-1] == f"make test {chosen}"
    assert any(".venv/bin/python" in command and "${{ matrix.python }}" in command for command in commands)
    makefile = (TEMPLATE / "Makefile").read_text()
    assert re.search(r"^PYTHON3 [?:]?=", makefile, re.M)
    assert re.search(r'^\t.* venv .*--python "?\$\(PYTHON3\)"? \$\(VENV\)$', makefile, re.M)
    # Debian's tools for the team-mode and browser tests, on Linux only (on macOS those are skipped).
    system = next(step for step in test["steps"] if "apt-get install" in step.get("run", ""))
    assert system["if"] == "runner.os == 'Linux'"
    assert all(tool in system["run"] for tool in ("/usr/lib/postgresql/*/bin/initdb", "nginx", "chromium"))
    # make lint once, on one machine.
    every_command = [step.get("run", "") for job in (test, lint) for step in job["steps"]]
    assert [command for command in every_command if "make lint" in command] == [lint["steps"][-1]["run"]]
    assert "strategy" not in lint
    for target in ("venv", "test", "lint"):  # each exists: make -n fails on an unknown target
        run(["make", "-n", target], TEMPLATE)
    # Actions pinned by version tag, as in the generated workflow; uv comes from make venv.
    generated = (TEMPLATE / "{{cookiecutter.project_slug}}" / ".github" / "workflows" / "ci.yml").read_text()
    pinned = dict(re.findall(r"uses: ([\w-]+/[\w-]+)@(v\d+)", generated))
    actions = [step["uses"] for job in (test, lint) for step in job["steps"] if "uses" in step]
    assert all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+", action) for action in actions), actions
    assert "actions/checkout@" + pinned["actions/checkout"] in actions
    assert not any("setup-uv" in action for action in actions)


def test_linux_only_tests_are_skipped_on_macos_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """On macOS (where CI=true would make a missing tool fail) exactly the tests that need Debian's
    PostgreSQL server and nginx (those on the `stack` fixture) or headless Chromium are skipped,
    each with a reason naming Linux; on Linux none is."""
    tests, needs_linux = [], set()
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        source = path.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                tests.append((path.name, node.name))
                if "stack" in [arg.arg for arg in node.args.args]:
                    needs_linux.add((path.name, node.name))
                for call in ast.walk(node):  # shutil.which("chromium") or test_plots' chromium()
                    if isinstance(call, ast.Call) and (
                        getattr(call.func, "id", "") == "chromium"
                        or any(getattr(arg, "value", None) == "chromium" for arg in call.args)
                    ):
                        needs_linux.add((path.name, node.name))
    assert len(needs_linux) > 2

    def skipped_on(platform: str) -> dict[tuple[str, str], str]:
        items = [
            SimpleNamespace(path=Path(module), originalname=name, name=name, markers=[])
            for module, name in tests
        ]
        for item in items:
            item.add_marker = item.markers.append
        monkeypatch.setattr(sys, "platform", platform)
        pytest_collection_modifyitems(None, items)
        monkeypatch.undo()
        return {
            (i.path.name, i.name): m.kwargs["reason"] for i in items for m in i.markers if m.name == "skip"
        }

    on_macos = skipped_on("darwin")
    assert set(on_macos) == needs_linux
    assert all(
        reason.startswith("Linux only: ") and "ubuntu-latest" in reason for reason in on_macos.values()
    )
    assert skipped_on("linux") == {}


def test_listening_addresses_come_from_proc_on_linux_and_from_lsof_elsewhere() -> None:
    """The tests' check of where a server listens: /proc/net/tcp(6) on Linux, lsof on macOS; on
    Linux, where both work, they agree (loopback and any address, IPv4 and IPv6)."""
    sockets, expected = [], {}
    try:
        for addresses in (("127.0.0.1", "::1"), ("0.0.0.0", "::")):
            port = free_port()
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sock = socket.socket(family)
                sockets.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # beside 0.0.0.0
                try:
                    sock.bind((address, port))
                except OSError:
                    assert family == socket.AF_INET6  # no IPv6 on this machine
                    continue
                sock.listen()
                expected.setdefault(port, set()).add(address)
        for port, addresses in expected.items():
            assert listening_addresses(port) == addresses
            if sys.platform.startswith("linux"):
                assert proc_listening_addresses(port) == addresses
                if shutil.which("lsof"):
                    assert lsof_listening_addresses(port) == addresses
        assert listening_addresses(free_port()) == set()
    finally:
        for sock in sockets:
            sock.close()


def test_tune_workflow_spreads_one_study_over_the_runners_asked_for(tmp_path: Path) -> None:
    """Team projects get a hand-started workflow whose matrix has one runner per `workers`, each
    running `make tune` on the study named by `study`; the database and identities come from
    secrets, only into the steps that use them; a bad `workers` stops before any runner starts."""
    project = bake(tmp_path, project_name="ci-tune", team_stack="yes")
    workflow_file = project / ".github" / "workflows" / "tune.yml"
    run([*SCHEMA_CHECK, str(workflow_file)], project)
    workflow = yaml.safe_load(workflow_file.read_text())
    assert set(workflow_triggers(workflow)) == {"workflow_dispatch"}
    assert set(workflow_triggers(workflow)["workflow_dispatch"]["inputs"]) == {"study", "trials", "workers"}
    plan, tune = workflow["jobs"]["plan"], workflow["jobs"]["tune"]
    assert tune["needs"] == "plan" and tune["strategy"]["matrix"]["worker"] == (
        "${{ fromJSON(needs.plan.outputs.workers) }}"
    )
    (plan_step,) = plan["steps"]
    for workers, expected in (("3", "list=[1,2,3]\n"), ("1", "list=[1]\n")):
        output = tmp_path / "github_output"
        output.write_text("")
        env = {**os.environ, "WORKERS": workers, "GITHUB_OUTPUT": str(output)}
        run(["bash", "-e", "-c", plan_step["run"]], tmp_path, env=env)
        assert output.read_text() == expected
    for bad in ("0", "21", "2; rm -rf /", ""):
        env = {**os.environ, "WORKERS": bad, "GITHUB_OUTPUT": str(tmp_path / "github_output")}
        refused = run(["bash", "-e", "-c", plan_step["run"]], tmp_path, check=False, env=env)
        assert refused.returncode != 0 and "workers must be" in refused.stdout
    commands = [step["run"] for step in tune["steps"] if "run" in step]
    targets = {match for command in commands for match in re.findall(r"\bmake ([a-z-]+)", command)}
    assert targets == {"setup", "data", "tune"}
    for target in targets:
        run(["make", "-n", target], project)
    search = next(step for step in tune["steps"] if step.get("name") == "Search")
    assert search["run"] == 'make tune TRIALS="$TRIALS" JOBS=1 STUDY="$STUDY"'  # inputs as data, not code
    with_secrets = {
        step.get("name", step.get("run")): sorted(
            k for k, v in step.get("env", {}).items() if "secrets." in v
        )
        for step in tune["steps"]
        if any("secrets." in value for value in step.get("env", {}).values())
    }
    assert with_secrets == {
        "Data": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        "Search": [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "MLFLOW_TRACKING_PASSWORD",
            "MLFLOW_TRACKING_USERNAME",
            "OPTUNA_STORAGE",
        ],
    }
    assert not (
        bake(tmp_path / "alone", project_name="ci-alone") / ".github" / "workflows" / "tune.yml"
    ).exists()
