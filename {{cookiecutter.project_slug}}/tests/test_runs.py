"""tracking.runs with an MLflow store of the test's own: runs a killed process left are ended."""

from __future__ import annotations

import os
import socket
import subprocess

from {{ cookiecutter.package_name }}.tracking import runs, store


def test_runs_of_killed_processes_are_ended_before_a_new_run(mlflow_store: str) -> None:
    experiment_id = store.connect()
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now belongs to no process, as after a kill -9
    host = socket.gethostname()
    abandoned = store.client().create_run(experiment_id, tags={"host": host, "pid": str(gone.pid)})
    alive = store.client().create_run(experiment_id, tags={"host": host, "pid": str(os.getpid())})
    runs.end_abandoned_runs(experiment_id)
    assert store.client().get_run(abandoned.info.run_id).info.status == "KILLED"
    assert store.client().get_run(alive.info.run_id).info.status == "RUNNING"
