"""tracking.sync and the outage register falls back on: what counts as the tracking server being
down, and a run sent from the project's store to another one (standing for the server) once, with
its params, metrics, lineage, model and version."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import RANKING, run_pipeline, unused_port
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts

from {{ cookiecutter.package_name }} import model_file
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.tracking import registry, store, sync


@contextmanager
def answering(status: int) -> Iterator[str]:
    """A server on 127.0.0.1 answering every request with `status`; its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_listening_and_a_failing_server_are_outages_a_refusal_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = f"http://127.0.0.1:{unused_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(store.ServerDown) as down:
        store.connect()
    assert down.value.uri == uri and down.value.problem.startswith("is not reachable")
    with answering(503) as failing:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", failing)
        with pytest.raises(store.ServerDown, match="answers with HTTP 503"):
            store.reachable_tracking_uri()
    with answering(401) as refusing:  # MLflow's own call then names the refusal: no fallback
        monkeypatch.setenv("MLFLOW_TRACKING_URI", refusing)
        assert store.reachable_tracking_uri() == refusing


def test_a_pending_run_is_sent_once_with_its_model_and_version(
    tiny_raw: Path, tmp_path: Path, params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    """register's local run (tagged pending), sent to another store twice: one run there, the same
    params, metrics and lineage, a model that loads, one version @staging; the local run marked."""
    local_uri, server_uri = f"sqlite:///{tmp_path / 'local.db'}", f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_uri)
    run, _ = run_pipeline(tiny_raw, tmp_path, params)
    local = MlflowClient(local_uri, local_uri)
    local.set_tag(run["mlflow_run_id"], sync.PENDING_TAG, "http://tracking.example")
    name = params.registry.model_name
    registry.set_alias(
        name, "staging", registry.register(run["model_uri"], name, run["mlflow_run_id"], RANKING).version
    )
    kept = local.get_run(run["mlflow_run_id"])
    assert [found.info.run_id for found in sync.pending_runs(local, "http://tracking.example")] == [
        kept.info.run_id
    ]

    experiment_id = store.connect(server_uri)
    server = MlflowClient(server_uri, server_uri)
    first = sync.send(local, server, experiment_id, kept, RANKING)
    again = sync.send(local, server, experiment_id, kept, RANKING)  # as after a crash before the mark
    (copy,) = server.search_runs([experiment_id])
    assert first == again == f"run {copy.info.run_id}, models:/{name}@staging -> version 1"
    assert copy.data.params == kept.data.params and copy.data.metrics == kept.data.metrics
    assert {key: copy.data.tags[key] for key in ("git_commit", "inputs_key", "dvc_model_md5")} == {
        key: kept.data.tags[key] for key in ("git_commit", "inputs_key", "dvc_model_md5")
    }
    assert sync.PENDING_TAG not in copy.data.tags and copy.data.tags[sync.ORIGIN_TAG] == kept.info.run_id
    version = server.get_model_version_by_alias(name, "staging")
    assert (str(version.version), version.run_id) == ("1", copy.info.run_id)
    downloaded = download_artifacts(f"models:/{name}@staging", dst_path=str(tmp_path / "sent"))
    loaded = model_file.load_logged(Path(downloaded))  # the copy, from the other store's registry
    assert type(loaded).__name__ == "Pipeline"
    assert sync.pending_runs(local, "http://tracking.example") == []
    assert local.get_run(kept.info.run_id).data.tags[sync.SENT_TAG] == copy.info.run_id
