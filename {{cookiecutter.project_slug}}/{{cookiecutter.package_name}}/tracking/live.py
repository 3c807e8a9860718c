"""A training's own MLflow run while it trains (`train.live_run: true`): the training curve appears
in the MLflow UI point by point, and `register` nests the run under the pipeline's run it logs.

Off by default: it costs train MLflow's import and a connection (see docs/experiments.md), and the
curve reaches the pipeline's run at register either way. A tracking server that does not answer
costs only the live view: training goes on, and register does what it does without a server.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .lineage import file_md5
from .store import ServerDown, client, connect

# On a live run: "training" until it ends, then the DVC hash of the model file it trained (a run
# that stopped early keeps "training": make compare leaves both out, register nests only the latter).
LIVE_TAG = "live_training_of"
PARENT_TAG = "mlflow.parentRunId"  # how the MLflow UI nests one run under another
SEND_EVERY = 1.0  # seconds between two sends of the curve's new points: the UI's refresh, not each iteration
BATCH = 1000  # metrics per log_batch, MLflow's limit


class LiveRun:
    """The open run: `log` sends the curve's new points at most once a second (SEND_EVERY), without
    waiting for the server's answer. A server that fails while training goes on ends the live view
    (one line), never the training."""

    def __init__(self, run_id: str) -> None:
        self.run_id, self.client = run_id, client()
        self.unsent: list = []  # mlflow.entities.Metric
        self.sending: list = []  # what log_batch returned: each one's wait()
        self.sent_at = 0.0
        self.stopped = False

    def log(self, step: int, values: dict[str, float]) -> None:
        """Log each metric's value at `step` (a training iteration)."""
        from mlflow.entities import Metric

        if self.stopped:
            return
        now = time.time()
        self.unsent += [Metric(name, value, int(now * 1000), step) for name, value in values.items()]
        if now - self.sent_at >= SEND_EVERY:
            self.guarded(self.send)

    def send(self) -> None:
        """Send the points logged since the last send, in batches of MLflow's size."""
        for start in range(0, len(self.unsent), BATCH):
            batch = self.unsent[start : start + BATCH]
            self.sending.append(self.client.log_batch(self.run_id, metrics=batch, synchronous=False))
        self.unsent, self.sent_at = [], time.time()

    def finish(self, model_path: Path) -> None:
        """Send the last points and wait until all are logged; tag the run with the DVC hash of the
        model file it wrote, by which register finds it."""

        def last_points_and_tag() -> None:
            self.send()
            for operation in self.sending:
                operation.wait()
            self.client.set_tag(self.run_id, LIVE_TAG, file_md5(model_path))

        if not self.stopped:
            self.guarded(last_points_and_tag)

    def guarded(self, action: Callable[[], object]) -> None:
        """Run `action`; if the tracking server fails it, stop the live view with one line."""
        from mlflow.exceptions import MlflowException

        try:
            action()
        except (MlflowException, OSError) as error:  # requests' errors are OSErrors
            self.stopped = True
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            print(f"train: the live MLflow run stopped ({first_line}); the curve reaches MLflow at register")


@contextmanager
def live_run(model: str) -> Iterator[LiveRun | None]:
    """Open a run named after the DVC experiment (or the workspace) for training `model`; yield it,
    or None when the tracking server does not answer. The run ends FINISHED, FAILED when training
    raised, KILLED when it was interrupted."""
    try:
        experiment_id = connect()
    except ServerDown as down:
        print(f"train: no live MLflow run ({down.problem}); the curve reaches MLflow at register")
        yield None
        return
    name = os.environ.get("DVC_EXP_NAME", "workspace")
    tags = {LIVE_TAG: "training", "model": model, "host": socket.gethostname(), "pid": str(os.getpid())}
    run_id = client().create_run(experiment_id, run_name=f"{name}-training", tags=tags).info.run_id
    print(f"train: live MLflow run {run_id} (make ui: the curve as it trains)")
    live, status = LiveRun(run_id), "KILLED"
    try:
        yield live
        status = "FINISHED"
    except Exception:
        status = "FAILED"
        raise
    finally:
        live.guarded(lambda: live.client.set_terminated(run_id, status=status))


def nest_live_runs(experiment_id: str, model_md5: str, parent_run_id: str) -> int:
    """Nest the live runs that trained this model file (not yet nested) under the pipeline's run
    `parent_run_id`; return how many."""
    found = f"tags.{LIVE_TAG} = '{model_md5}'"
    nested = 0
    for run in client().search_runs([experiment_id], filter_string=found):
        if PARENT_TAG not in run.data.tags:
            client().set_tag(run.info.run_id, PARENT_TAG, parent_run_id)
            nested += 1
    return nested
