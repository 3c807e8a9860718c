"""tracking.lineage with an MLflow store of the test's own: the raw data logged as a run's input,
also when a parallel run adds it first."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from conftest import another_run_inserts_first

from {{ cookiecutter.package_name }}.tracking import lineage, store


def test_data_another_run_just_added_to_the_store_is_linked_not_an_error(
    tiny_raw: Path, mlflow_store: str
) -> None:
    """Parallel experiments on data new to the store race to add its dataset row."""
    import mlflow

    experiment_id = store.connect()
    md5 = lineage.file_md5(tiny_raw)
    database = mlflow_store.removeprefix("sqlite:///")
    winner = {
        "dataset_uuid": "winner",
        "experiment_id": int(experiment_id),
        "name": tiny_raw.name,
        "digest": md5,
        "dataset_source_type": "local",
        "dataset_source": "{}",
    }
    with (
        another_run_inserts_first(database, "datasets", winner),
        mlflow.start_run(experiment_id=experiment_id) as run,
    ):
        lineage.log_data_source(tiny_raw, md5)
    logged = store.client().get_run(run.info.run_id)
    assert logged.info.status == "FINISHED"
    assert [item.dataset.digest for item in logged.inputs.dataset_inputs] == [md5]
    with closing(sqlite3.connect(database)) as database_file:
        assert database_file.execute("SELECT dataset_uuid FROM datasets").fetchall() == [("winner",)]
