"""experiments.study: a study's experiment names, its journal file, and its report."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.experiments.study import experiment_name, open_study, report


def test_a_trial_runs_as_the_experiment_named_after_its_study_and_number() -> None:
    study = optuna.create_study(study_name="tune")
    assert experiment_name(study, 0) == "tune-0"
    assert experiment_name(study, 12) == "tune-12"


def test_a_study_is_continued_only_in_its_direction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = open_study("tune", "maximize")
    study.add_trial(optuna.trial.create_trial(value=0.5))
    assert (tmp_path / ".optuna" / "tune.jsonl").is_file()
    assert len(open_study("tune", "maximize").trials) == 1  # continued from its file
    with pytest.raises(PipelineError, match="study 'tune' was created to maximize its metric"):
        open_study("tune", "minimize")


def test_the_report_names_the_best_trial_and_how_to_adopt_it() -> None:
    study = optuna.create_study(study_name="tune", direction="maximize")
    depth = optuna.distributions.IntDistribution(2, 16)
    for value, max_depth in ((0.81, 4), (0.93, 8), (0.88, 12)):
        study.add_trial(
            optuna.trial.create_trial(
                params={"train.max_depth": max_depth}, distributions={"train.max_depth": depth}, value=value
            )
        )
    assert report(study, "f1_macro") == (
        "tune: best of 3 finished trial(s) of 'tune': tune-1, f1_macro=0.9300 with train.max_depth=8\n"
        "To adopt it: dvc exp apply tune-1 && make promote"
    )


def test_a_study_without_a_finished_trial_has_no_report() -> None:
    study = optuna.create_study(study_name="tune")
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    with pytest.raises(PipelineError, match="no trial of study 'tune' finished"):
        report(study, "rmse")
