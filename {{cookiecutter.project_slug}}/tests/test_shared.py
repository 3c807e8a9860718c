"""experiments.shared: a study many machines search together, in a database (SQLite here; the
template's tests run it on PostgreSQL with two clones)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import optuna
import pytest
from conftest import unused_port
from optuna.distributions import IntDistribution
from optuna.storages import fail_stale_trials

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.experiments.shared import (
    MACHINE_ATTR,
    check_git_remote,
    database_problem,
    heartbeats,
    shared_storage,
    shown,
    storage_url,
    this_machine,
)
from {{ cookiecutter.package_name }}.experiments.study import open_study, report
from {{ cookiecutter.package_name }}.experiments.tune import unfinished
from {{ cookiecutter.package_name }}.tracking import store

SPACE = {"train.max_depth": IntDistribution(2, 16)}
GRACE = 10  # seconds: the least tune.grace_period takes


def test_the_environment_then_dot_env_name_the_storage_before_params_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    assert storage_url("") == ""
    assert storage_url("sqlite:///in-params.db") == "sqlite:///in-params.db"
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=x\nOPTUNA_STORAGE=sqlite:///from-dot-env.db\n")
    assert storage_url("sqlite:///in-params.db") == "sqlite:///from-dot-env.db"
    monkeypatch.setenv("OPTUNA_STORAGE", "sqlite:///from-env.db")
    assert storage_url("sqlite:///in-params.db") == "sqlite:///from-env.db"


def test_a_storage_is_printed_without_its_password() -> None:
    assert shown("postgresql+psycopg2://optuna:s3cret@db.example.com:5432/optuna") == (
        "postgresql+psycopg2://optuna:***@db.example.com:5432/optuna"
    )
    assert shown("s3cret") == "(not a database URL)"


def test_a_storage_that_does_not_answer_stops_tune_in_one_line_before_any_trial() -> None:
    """No trial asked, no experiment queued, no password printed: one line naming the database."""
    port = unused_port()
    url = f"postgresql+psycopg2://optuna:s3cret@127.0.0.1:{port}/optuna"
    before = subprocess.run(["git", "for-each-ref", "refs/exps/"], capture_output=True, text=True).stdout
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.experiments.tune", "--trials", "1", "--study", "unreachable"],
        capture_output=True,
        text=True,
        env={**os.environ, "OPTUNA_STORAGE": url},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"optuna:***@127.0.0.1:{port}/optuna does not answer" in lines[0], (
        result.stderr
    )
    assert "s3cret" not in result.stderr + result.stdout
    assert "OPTUNA_STORAGE" in lines[0]
    after = subprocess.run(["git", "for-each-ref", "refs/exps/"], capture_output=True, text=True).stdout
    assert after == before


def test_mlflows_own_database_is_refused_as_the_storage(mlflow_store: str) -> None:
    store.connect()  # MLflow makes its tables
    problem = database_problem(mlflow_store)
    assert problem is not None and "is MLflow's database" in problem[0] and "optuna" in problem[1]
    with pytest.raises(PipelineError, match="is MLflow's database"):
        shared_storage(mlflow_store, GRACE)


def test_a_shared_study_needs_a_git_remote_to_push_its_trials_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    with pytest.raises(PipelineError, match="git remote 'origin'.*git remote add origin URL"):
        check_git_remote()
    subprocess.run(["git", "remote", "add", "origin", str(tmp_path / "elsewhere.git")], check=True)
    check_git_remote()


def two_machines_study(tmp_path: Path) -> tuple[optuna.Study, optuna.Study, str]:
    """The same study opened twice from one database, as two machines would; and the database URL."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    first = open_study("shared", "maximize", shared_storage(url, GRACE))
    second = open_study("shared", "maximize", shared_storage(url, GRACE))
    return first, second, url


def test_two_machines_share_one_numbering_and_each_settles_only_its_own_trials(tmp_path: Path) -> None:
    here, elsewhere, _ = two_machines_study(tmp_path)
    mine = here.ask(SPACE)
    mine.set_user_attr(MACHINE_ATTR, this_machine())
    theirs = elsewhere.ask(SPACE)
    theirs.set_user_attr(MACHINE_ATTR, "other-host:/home/bob/project")
    assert (mine.number, theirs.number) == (0, 1)  # one numbering: shared-0 and shared-1 differ
    assert unfinished(here) == [0]  # Ctrl-C or a restart here never fails bob's running trial


def test_a_trial_whose_machine_stopped_beating_fails_and_its_params_run_once_more(tmp_path: Path) -> None:
    """A trial that beat, and then not for longer than the grace period (its machine was killed),
    is failed by the next machine's tune, which is asked the same params first; a trial still
    beating is left alone. A retried trial that is lost again is not retried a third time."""
    here, elsewhere, url = two_machines_study(tmp_path)
    lost, alive = elsewhere.ask(SPACE), elsewhere.ask(SPACE)
    with heartbeats(shared_storage(url, GRACE), elsewhere, [lost.number, alive.number]):
        pass  # one beat each
    database = url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(database)) as connection, connection:
        trial_id = connection.execute(
            "SELECT trial_id FROM trials WHERE number = ?", (lost.number,)
        ).fetchone()[0]
        # the machine of `lost` went silent long ago
        connection.execute(
            "UPDATE trial_heartbeats SET heartbeat = '2000-01-01' WHERE trial_id = ?", (trial_id,)
        )
    fail_stale_trials(here)
    states = {trial.number: trial.state for trial in here.get_trials(deepcopy=False)}
    assert states[lost.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == optuna.trial.TrialState.RUNNING
    retried = here.ask(SPACE)
    assert retried.params == lost.params and retried.number == 2

    with heartbeats(shared_storage(url, GRACE), here, [retried.number]):
        pass
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(
            "UPDATE trial_heartbeats SET heartbeat = '2000-01-01' WHERE trial_id = "
            "(SELECT trial_id FROM trials WHERE number = ?)",
            (retried.number,),
        )
    fail_stale_trials(here)
    states = [trial.state for trial in here.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.FAIL) == 2
    assert optuna.trial.TrialState.WAITING not in states  # no third try of the same params


def test_the_report_of_a_shared_study_says_where_the_best_trial_ran_and_how_to_pull_it(
    tmp_path: Path,
) -> None:
    study, _, _ = two_machines_study(tmp_path)
    for value, machine in ((0.81, this_machine()), (0.93, "gpu-box:/srv/project")):
        study.add_trial(
            optuna.trial.create_trial(
                params={"train.max_depth": 4},
                distributions=SPACE,
                value=value,
                user_attrs={MACHINE_ATTR: machine},
            )
        )
    assert report(study, "f1_macro", shared=True) == (
        "tune: best of 2 finished trial(s) of 'shared': shared-1, f1_macro=0.9300 with "
        "train.max_depth=4, run on gpu-box:/srv/project\n"
        "To adopt it: dvc exp pull origin shared-1 && dvc exp apply shared-1 && make promote"
    )
