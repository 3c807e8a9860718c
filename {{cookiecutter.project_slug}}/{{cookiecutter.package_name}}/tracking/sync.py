"""Runs logged while the tracking server was down, sent to it: `make sync`.

When the tracking server can't be reached (or fails with HTTP 5xx), `register` logs the run, its
model and the registry version into the project's own store (mlflow.db), tags the run pending for
that server, and the pipeline goes on. `make sync` sends each pending run, oldest first: its
params, metrics with their steps and times, tags (lineage too), dataset inputs, artifacts, its
model (a copy of MLflow's logged model) and, when the gate passed, a version of the registered
model with alias `staging`. Promotion stays `make promote`.

Every step first looks for what an earlier, interrupted sync sent (the server's run is tagged with
the local run's id, its model with the run), so a sync killed anywhere and run again leaves one
run and one version on the server per local run; the local run is marked sent last. A later
`dvc repro` finds the sent run by its inputs' key, as it finds its own, and logs no second one.

mlflow-export-import, MLflow's own tool for copying runs, predates MLflow 3's logged models (a
model is no longer among its run's artifacts), hence this module.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..common.errors import PipelineError, run_main
from ..common.failpoints import fail_point
from ..common.project import project_root, project_settings
from . import registry, runs, store

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

PENDING_TAG = "sync_pending_to"  # on a local run: the server it is for
SENT_TAG = "sync_sent_as"  # on a local run: its run id on the server, once sent
ORIGIN_TAG = "sync_local_run_id"  # on a server run: the local run it copies
MODEL_TAG = "sync_model_id"  # on a server run: its copy of the local run's model
STAGING = "staging"
# Tags that describe the local copy, or that MLflow writes itself: not sent.
LOCAL_TAGS = (PENDING_TAG, SENT_TAG, "mlflow.loggedModels", runs.MODEL_URI_TAG)
MAX_BATCH, MAX_PARAMS = 1000, 100  # metrics and params per request, MLflow's limits


def pending_runs(local: MlflowClient, server_uri: str) -> list[Run]:
    """The finished local runs pending for `server_uri` and not yet sent, oldest first."""
    experiment = local.get_experiment_by_name(project_settings()["mlflow_experiment"])
    if experiment is None:
        return []
    found = local.search_runs(
        [experiment.experiment_id],
        f"tags.{PENDING_TAG} = '{server_uri}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time ASC"],
    )
    return [run for run in found if SENT_TAG not in run.data.tags]


def server_run(remote: MlflowClient, experiment_id: str, local_run: Run) -> Run:
    """The server's copy of `local_run`: the one an earlier sync created, or a new one."""
    found = remote.search_runs([experiment_id], f"tags.{ORIGIN_TAG} = '{local_run.info.run_id}'")
    if found:
        return found[0]
    tags = {key: value for key, value in local_run.data.tags.items() if key not in LOCAL_TAGS}
    created = remote.create_run(
        experiment_id,
        start_time=local_run.info.start_time,
        tags={**tags, ORIGIN_TAG: local_run.info.run_id},
        run_name=local_run.info.run_name,
    )
    fail_point("sync.run_created")
    return remote.get_run(created.info.run_id)


def send_metrics(local: MlflowClient, remote: MlflowClient, local_id: str, remote_id: str) -> None:
    """Every point of every metric's history (step and time too) the server's run lacks."""
    for key in local.get_run(local_id).data.metrics:
        sent = {(m.step, m.timestamp, m.value) for m in remote.get_metric_history(remote_id, key)}
        missing = [
            m for m in local.get_metric_history(local_id, key) if (m.step, m.timestamp, m.value) not in sent
        ]
        for start in range(0, len(missing), MAX_BATCH):
            remote.log_batch(remote_id, metrics=missing[start : start + MAX_BATCH])
    fail_point("sync.metrics_sent")


def send_model(local: MlflowClient, remote: MlflowClient, local_run: Run, copy: Run) -> str:
    """The server's copy of the local run's logged model (made now unless an earlier sync did);
    return its URI."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    if MODEL_TAG in copy.data.tags:
        return f"models:/{copy.data.tags[MODEL_TAG]}"
    model_id = local_run.data.tags[runs.MODEL_URI_TAG].removeprefix("models:/")
    model = local.get_logged_model(model_id)
    created = remote.create_logged_model(
        copy.info.experiment_id,
        name=model.name,
        source_run_id=copy.info.run_id,
        tags=model.tags,
        params=model.params,
        model_type=model.model_type,
    )
    with tempfile.TemporaryDirectory() as folder:
        from mlflow.artifacts import download_artifacts

        downloaded = Path(download_artifacts(artifact_uri=model.artifact_location, dst_path=folder))
        readme = Model.load(downloaded / "MLmodel")  # names the model, its run and its folder: the copies'
        readme.model_id = readme.model_uuid = created.model_id
        readme.run_id, readme.artifact_path = copy.info.run_id, created.artifact_location
        readme.save(downloaded / "MLmodel")
        remote.log_model_artifacts(created.model_id, str(downloaded))
    remote.finalize_logged_model(created.model_id, LoggedModelStatus.READY)
    remote.log_outputs(copy.info.run_id, [LoggedModelOutput(created.model_id, step=0)])
    uri = f"models:/{created.model_id}"
    remote.set_tag(copy.info.run_id, runs.MODEL_URI_TAG, uri)
    remote.set_tag(copy.info.run_id, MODEL_TAG, created.model_id)  # last: the model is complete
    fail_point("sync.model_sent")
    return uri


def send(
    local: MlflowClient, remote: MlflowClient, experiment_id: str, local_run: Run, ranking: tuple
) -> str:
    """Send one local run (see the module docstring); return what it became on the server."""
    from mlflow.entities import Param

    local_id = local_run.info.run_id
    copy = server_run(remote, experiment_id, local_run)
    remote_id = copy.info.run_id
    params = [Param(key, value) for key, value in local_run.data.params.items()]
    for start in range(0, len(params), MAX_PARAMS):  # the same values again: accepted
        remote.log_batch(remote_id, params=params[start : start + MAX_PARAMS])
    send_metrics(local, remote, local_id, remote_id)
    if local_run.inputs and local_run.inputs.dataset_inputs:
        store.again_if_raced(lambda: remote.log_inputs(remote_id, datasets=local_run.inputs.dataset_inputs))
    with tempfile.TemporaryDirectory() as folder:
        if local.list_artifacts(local_id):
            remote.log_artifacts(remote_id, local.download_artifacts(local_id, "", folder))
    model_uri = send_model(local, remote, local_run, copy)
    remote.set_terminated(remote_id, status=local_run.info.status, end_time=local_run.info.end_time)
    fail_point("sync.run_ended")
    sent = f"run {remote_id}"
    name = project_model_name()
    if registry.version_of_run(name, local_id, on=local) is not None:  # the gate passed
        version = registry.register(model_uri, name, remote_id, ranking)
        fail_point("sync.version_created")
        registry.set_alias(name, STAGING, version.version)
        sent += f", models:/{name}@{STAGING} -> version {version.version}"
    local.set_tag(local_id, SENT_TAG, remote_id)
    return sent


def sent_copy(local_run_id: str) -> ModelVersion | None:
    """The server's version of the model of local run `local_run_id`, once `make sync` sent it."""
    experiment_id = store.connect()
    copies = store.client().search_runs([experiment_id], f"tags.{ORIGIN_TAG} = '{local_run_id}'")
    return registry.version_of_run(project_model_name(), copies[0].info.run_id) if copies else None


def local_client() -> MlflowClient | None:
    """A client on the project's own store, None when it has none (a clone that never fell back:
    opening one would create it)."""
    from mlflow import MlflowClient

    if not (project_root() / store.LOCAL_STORE).exists():
        return None
    return MlflowClient(tracking_uri=store.local_tracking_uri(), registry_uri=store.local_tracking_uri())


def pending_count() -> int:
    """How many local runs wait for the configured tracking server (0 without one)."""
    uri, local = store.tracking_uri(), local_client()
    return len(pending_runs(local, uri)) if store.is_server(uri) and local else 0


def project_model_name() -> str:
    """params.yaml's register.model_name."""
    from ..config import load_params

    return load_params().registry.model_name


def sync() -> int:
    """Send every pending run to the tracking server; return how many were sent."""
    from .. import tasks

    server_uri = store.tracking_uri()
    if not store.is_server(server_uri):
        raise PipelineError(
            f"the tracking URI is the local store ({server_uri}): there is no server to send runs to"
        )
    local = local_client()
    pending = pending_runs(local, server_uri) if local else []
    if not pending:
        print(f"sync: no run is waiting for {server_uri}")
        return 0
    experiment_id = store.connect()  # the server; still down: stop here, nothing sent
    remote, ranking = store.client(), tasks.current().RANKING
    for local_run in pending:
        print(
            f"sync: {local_run.info.run_name} ({local_run.info.run_id}) -> {send(local, remote, experiment_id, local_run, ranking)}"
        )
    return len(pending)


def main() -> None:
    sent = sync()
    if sent:
        print(f"sync: {sent} run(s) sent; `make promote` promotes as usual")


if __name__ == "__main__":
    run_main(main)
