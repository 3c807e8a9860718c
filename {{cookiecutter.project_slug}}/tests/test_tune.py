"""experiments.tune: Optuna's search space from params.yaml's `tune:` ranges, the objective, and
what is told back to Optuna."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
from conftest import PROJECT_ROOT, TABLE
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from {{ cookiecutter.package_name }}.config import Params, TuneParams
from {{ cookiecutter.package_name }}.experiments.study import keep_oldest_study_run, study_run
from {{ cookiecutter.package_name }}.experiments.tune import objective, search_space, tell
from {{ cookiecutter.package_name }}.tracking import store
from {{ cookiecutter.package_name }}.tracking.runs import STUDY_RUN_TAG

# Each task's metrics with their goal, and the first metric of its ranking: the objective when
# `tune.metric` is null.
DIRECTIONS = {
    "classification": {
        "accuracy": "maximize",
        "f1_macro": "maximize",
        "roc_auc": "maximize",
        "log_loss": "minimize",
    },
    "regression": {"rmse": "minimize", "mae": "minimize", "r2": "maximize"},
}
FIRST_RANKED = {"classification": "f1_macro", "regression": "r2"}


def test_ranges_of_integers_are_integers_and_any_other_range_numbers() -> None:
    space = {
        "train.max_depth": {"low": 2, "high": 16},
        "train.n_estimators": {"low": 50, "high": 400, "log": True},
        "train.regularization": {"low": 0.01, "high": 10, "log": True},
        "train.min_samples_leaf": {"low": 1, "high": 2.5},
        "train.model": ["random_forest", "linear"],
    }
    tune = TuneParams.model_validate({"metric": None, "space": space, "storage": "", "grace_period": 120})
    assert search_space(tune.space) == {
        "train.max_depth": IntDistribution(2, 16),
        "train.n_estimators": IntDistribution(50, 400, log=True),
        "train.regularization": FloatDistribution(0.01, 10.0, log=True),
        "train.min_samples_leaf": FloatDistribution(1.0, 2.5),
        "train.model": CategoricalDistribution(["random_forest", "linear"]),
    }


@pytest.mark.parametrize("metric", DIRECTIONS[TABLE.task])
def test_the_objective_is_the_tune_metric_in_its_direction(params: Params, metric: str) -> None:
    chosen = params.model_copy(update={"tune": params.tune.model_copy(update={"metric": metric})})
    assert objective(chosen) == (metric, DIRECTIONS[TABLE.task][metric])


def test_without_a_tune_metric_the_objective_is_the_first_ranking_metric(params: Params) -> None:
    unset = params.model_copy(update={"tune": params.tune.model_copy(update={"metric": None})})
    first = FIRST_RANKED[TABLE.task]
    assert objective(unset) == (first, DIRECTIONS[TABLE.task][first])


def test_a_trial_whose_experiment_was_not_saved_fails_and_its_run_is_marked_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str
) -> None:
    """Ctrl-C can stop an experiment after its pipeline logged a finished run and before DVC saved
    it: that trial has nothing to adopt. Its sibling, saved as refs/exps/..., keeps its value."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)  # the store's settings
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.invalid")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "baseline"], check=True)
    study = optuna.create_study(study_name="tune", direction="maximize")
    numbers = [study.ask().number, study.ask().number]
    parent = study_run(study, "f1_macro")
    experiment_id = store.connect()
    client = store.client()
    logged = {}
    for number, value in zip(numbers, (0.7, 0.9), strict=True):
        run = client.create_run(experiment_id, tags={"dvc_exp_name": f"tune-{number}"})
        client.log_metric(run.info.run_id, "f1_macro", value)
        client.set_terminated(run.info.run_id)
        logged[number] = run.info.run_id
    # Only tune-0 was saved (DVC names its ref after the baseline commit and the experiment).
    subprocess.run([*git, "update-ref", "refs/exps/ab/cdef0123/tune-0", "HEAD"], check=True)

    tell(study, numbers, "f1_macro", parent)

    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert study.trials[0].value == 0.7
    assert client.get_run(logged[0]).info.status == "FINISHED"
    assert client.get_run(logged[1]).info.status == "KILLED"
    assert client.get_run(logged[0]).data.tags["mlflow.parentRunId"] == parent


def test_two_machines_making_a_study_run_at_once_keep_the_older_and_retire_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str
) -> None:
    """Both searched, found none and made one: the newer is retired without deleting it (a
    teammate's EDIT on a tracking server does not allow deleting runs)."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    experiment_id = store.connect()
    client = store.client()
    elsewhere, here = (
        client.create_run(experiment_id, start_time=start, tags={STUDY_RUN_TAG: "tune"}).info.run_id
        for start in (1_000, 2_000)
    )
    for run_id in (elsewhere, here):
        client.set_terminated(run_id)

    assert keep_oldest_study_run(experiment_id, "tune", here) == elsewhere

    retired = client.get_run(here)
    assert retired.info.status == "KILLED"
    assert STUDY_RUN_TAG not in retired.data.tags
    assert elsewhere in retired.data.tags["mlflow.note.content"]
    assert client.get_run(elsewhere).data.tags[STUDY_RUN_TAG] == "tune"
    assert client.get_run(elsewhere).info.status == "FINISHED"
    study = optuna.create_study(study_name="tune", direction="maximize")
    assert study_run(study, "f1_macro") == elsewhere  # every later tune finds the kept one
