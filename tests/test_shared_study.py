"""One Optuna study searched by two machines at once: two clones of a team project run `make tune`
(the steps of the project's Tune workflow, as two CI runners would) against Optuna's own database on the team stack's PostgreSQL (made by docker/optuna-db.sh), log to
its tracking server and push their trials to origin and the S3 remote. A clone killed mid-trial
loses nothing: the other's next `make tune` runs that trial's params again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import DVC, exp_show, run
from team_stack import TeamStack, bake_team, postgres_bin, running_stack

pytestmark = pytest.mark.xdist_group("shared-study")
MODEL = "shared-wine"
STUDY = "shared"
GRACE = 10  # tune.grace_period of the project: seconds before a silent machine's trial is retried


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with running_stack(tmp_path_factory.mktemp("stack")) as team:
        yield team


def origin_with_a_reproduced_project(stack: TeamStack, root: Path) -> Path:
    """A team project whose pipeline ran and was pushed (git to a bare origin, data to S3), with a
    short grace period so that the test need not wait two minutes for a killed clone's trial."""
    project = bake_team(stack, root, MODEL)
    run(["make", "identity", "NAME=person", "ROLE=person"], project, env=stack.admin_env())
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("grace_period: 120", f"grace_period: {GRACE}"))
    run([*DVC, "repro"], project, env=stack.client_env())
    run(["git", "add", "--all"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "repro"], project)
    run(["make", "push"], project, env=stack.client_env())
    origin = root / "origin.git"
    run(["git", "clone", "--quiet", "--bare", str(project), str(origin)], root)
    return origin


def workflow_step(project: Path, name: str) -> str:
    """The script of a step of the project's Tune workflow (.github/workflows/tune.yml), which
    each runner of the CI matrix runs: the test runs them as two runners would."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "tune.yml").read_text())
    return next(step["run"] for step in workflow["jobs"]["tune"]["steps"] if step.get("name") == name)


def clone(origin: Path, folder: Path, stack: TeamStack) -> Path:
    """A teammate's machine, or a CI runner: a clone of origin with its data (the workflow's Data
    step; `make setup` stands aside: these tests run projects in their own environment)."""
    run(["git", "clone", "--quiet", str(origin), str(folder)], folder.parent)
    run(["bash", "-e", "-c", workflow_step(folder, "Data")], folder, env=stack.client_env())
    return folder


def start_tune(project: Path, env: dict[str, str], trials: int) -> subprocess.Popen:
    """The workflow's Search step, with its inputs as the workflow passes them."""
    return subprocess.Popen(
        ["bash", "-e", "-c", workflow_step(project, "Search")],
        cwd=project,
        env={**env, "TRIALS": str(trials), "STUDY": STUDY},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to kill as a machine dies
    )


def finished(process: subprocess.Popen, timeout: float = 900) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def machine_of(trial: optuna.trial.FrozenTrial) -> str:
    return trial.user_attrs["machine"].split(":", 1)[1]  # host:folder


def kill_machine(project: Path, process: subprocess.Popen) -> None:
    """Kill with SIGKILL every process working in `project` or its DVC experiments' folders (make,
    tune, DVC's queue worker, the running stage), as when the machine goes down."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            working_in = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        if working_in == project or project in working_in.parents:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def test_two_clones_search_one_study_and_a_killed_clones_trial_runs_again_elsewhere(
    stack: TeamStack, tmp_path: Path
) -> None:
    storage = stack.create_optuna_database(postgres_bin())
    origin = origin_with_a_reproduced_project(stack, tmp_path)
    alice, bob = clone(origin, tmp_path / "alice", stack), clone(origin, tmp_path / "bob", stack)
    env = {**stack.client_env(), "OPTUNA_STORAGE": storage}

    # Two machines, three trials each, at the same moment: one study, created once.
    outputs = [finished(process) for process in [start_tune(alice, env, 3), start_tune(bob, env, 3)]]
    study = optuna.load_study(study_name=STUDY, storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert sorted(t.number for t in trials) == list(range(6))
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6  # no two machines ran the same params
    assert sorted(machine_of(t) for t in trials) == sorted([str(alice)] * 3 + [str(bob)] * 3)
    assert "best of 6 finished trial(s)" in outputs[0] + outputs[1]

    # Every trial's run is on the tracking server, nested under the study's one run.
    from mlflow import MlflowClient

    server = MlflowClient(stack.tracking_uri)
    experiment = server.get_experiment_by_name(MODEL)
    study_runs = server.search_runs([experiment.experiment_id], f"tags.optuna_study_run = '{STUDY}'")
    assert len(study_runs) == 1
    trial_runs = server.search_runs([experiment.experiment_id], f"tags.optuna_study = '{STUDY}'")
    assert sorted(r.data.tags["dvc_exp_name"] for r in trial_runs) == [f"{STUDY}-{n}" for n in range(6)]
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {study_runs[0].info.run_id}
    assert {r.info.status for r in trial_runs} == {"FINISHED"}

    # The best trial, pulled on the machine that did not run it, is adopted with nothing to rerun.
    best = study.best_trial
    name = f"{STUDY}-{best.number}"
    other = bob if machine_of(best) == str(alice) else alice
    run(["make", "exp-pull", f"NAME={name}"], other, env=stack.client_env())
    run([*DVC, "exp", "apply", name], other, env=stack.client_env())
    assert "Data and pipelines are up to date" in run([*DVC, "repro"], other, env=stack.client_env()).stdout
    decision = json.loads((other / "reports" / "registration.json").read_text())
    (best_run,) = [r for r in trial_runs if r.data.tags["dvc_exp_name"] == name]
    assert decision["mlflow_run_id"] == best_run.info.run_id
    assert exp_show(other)[name] == decision

    # Alice's machine dies in the middle of a trial; after the grace period, Bob's next
    # `make tune` fails that trial and runs its params again, once.
    process = start_tune(alice, env, 1)
    deadline = time.monotonic() + 300
    space = len(trials[0].params)
    while not (
        running := [
            trial
            for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if len(trial.params) == space  # asked in full, so queued next
        ]
    ):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()[0]
        time.sleep(0.5)
    time.sleep(5)  # into the trial's pipeline
    kill_machine(alice, process)
    (lost,) = running
    time.sleep(GRACE + 2)  # the heartbeat goes stale
    finished(start_tune(bob, env, 1))
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert trials[lost.number].state == optuna.trial.TrialState.FAIL
    (rerun,) = [t for t in trials.values() if t.number > lost.number]
    assert rerun.state == optuna.trial.TrialState.COMPLETE
    assert rerun.params == lost.params and machine_of(rerun) == str(bob)
