"""tracking.store and registry against an MLflow store of the test's own, with a tracking server's
refusal (HTTP 403) staged: right after this process created the experiment or model, or was told a
parallel one had, a refusal is retried until the grant lands; anywhere else it surfaces at once."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import mlflow
import pytest
from conftest import PROJECT_ROOT
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

from {{ cookiecutter.package_name }}.common.project import project_settings
from {{ cookiecutter.package_name }}.tracking import registry, store


def refusal() -> MlflowException:
    return MlflowException("Permission denied", error_code=PERMISSION_DENIED)  # as the client raises a 403


class Refused:
    """A call the server refuses `refusals` times (the grant not there yet), then answers."""

    def __init__(self, call: Callable, refusals: int) -> None:
        self.call, self.refusals, self.calls = call, refusals, 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.calls <= self.refusals:
            raise refusal()
        return self.call(*args, **kwargs)


def logged_model(client: mlflow.MlflowClient) -> tuple[str, str]:
    """A run with a logged model (no files): its models:/ URI and the run's id."""
    experiment_id = store.connect()
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, source_run_id=run_id)
    return f"models:/{model.model_id}", run_id


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "GRANT_PAUSES", (0.0,) * len(store.GRANT_PAUSES))


def test_a_refusal_that_lasts_is_raised_after_the_bounded_retries() -> None:
    answered = Refused(lambda: "granted", refusals=2)
    assert store.once_granted(answered) == "granted"
    lasting = Refused(lambda: "granted", refusals=99)
    with pytest.raises(MlflowException, match="Permission denied"):
        store.once_granted(lasting)
    assert lasting.calls == len(store.GRANT_PAUSES) + 1


def test_an_experiment_a_parallel_process_just_created_is_used_once_granted(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: this process finds no experiment, a parallel one creates it, this one's create is
    told it exists, and its next two looks are refused until the other's grant lands."""
    real_lookup = mlflow.get_experiment_by_name
    looks = []

    def staged_lookup(name: str) -> object:
        looks.append(name)
        if len(looks) == 1:
            mlflow.create_experiment(name)  # the parallel process, right after this lookup
            return None
        if len(looks) <= 3:
            raise refusal()
        return real_lookup(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", staged_lookup)
    experiment_id = store.connect()
    assert len(looks) == 4
    assert experiment_id == real_lookup(looks[0]).experiment_id


def test_a_refusal_on_an_existing_experiment_surfaces_at_once(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.connect()  # the experiment exists; this user may not read it
    lookup = Refused(mlflow.get_experiment_by_name, refusals=99)
    monkeypatch.setattr(mlflow, "get_experiment_by_name", lookup)
    with pytest.raises(MlflowException, match="Permission denied"):
        store.connect()
    assert lookup.calls == 1


def test_a_version_of_a_model_this_process_just_created_is_added_once_granted(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.connect()
    client = store.client()
    create = Refused(client.create_model_version, refusals=2)
    monkeypatch.setattr(registry, "client", lambda: client)
    monkeypatch.setattr(client, "create_model_version", create)
    model_uri, run_id = logged_model(client)
    version = registry.register(model_uri, "granted-later", run_id, ())
    assert (version.name, version.version, create.calls) == ("granted-later", 1, 3)


def test_a_refusal_to_add_a_version_to_a_model_the_user_may_read_surfaces_at_once(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.connect()
    client = store.client()
    client.create_registered_model("read-only")  # made by someone else, readable here
    create = Refused(client.create_model_version, refusals=99)
    monkeypatch.setattr(registry, "client", lambda: client)
    monkeypatch.setattr(client, "create_model_version", create)
    model_uri, run_id = logged_model(client)
    with pytest.raises(MlflowException, match="Permission denied"):
        registry.register(model_uri, "read-only", run_id, ())
    assert create.calls == 1


def test_setup_creates_a_missing_local_store_and_leaves_an_existing_one_without_importing_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make setup`'s `python -m <package>.tracking` in a clone without mlflow.db, then again."""
    for name in ("pyproject.toml", "dvc.yaml"):
        shutil.copy2(PROJECT_ROOT / name, tmp_path / name)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    # the project's own store, as a team project's pyproject.toml would otherwise name its server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    setup = [
        sys.executable,
        "-c",
        "import runpy, sys; runpy.run_module('{{ cookiecutter.package_name }}.tracking', run_name='__main__');"
        " print('mlflow imported:', 'mlflow' in sys.modules)",
    ]
    first = subprocess.run(setup, capture_output=True, text=True, check=True).stdout
    assert f"MLflow tracking store: sqlite:///{tmp_path / 'mlflow.db'} (experiment " in first, first
    assert "mlflow imported: True" in first
    with closing(sqlite3.connect(tmp_path / "mlflow.db")) as created:
        names = [row[0] for row in created.execute("SELECT name FROM experiments")]
    assert project_settings()["mlflow_experiment"] in names  # the copied pyproject.toml's
    again = subprocess.run(setup, capture_output=True, text=True, check=True).stdout
    assert again.splitlines() == [
        f"MLflow tracking store: sqlite:///{tmp_path / 'mlflow.db'}",
        "mlflow imported: False",
    ]
