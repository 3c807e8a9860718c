"""MLflow runs of the pipeline: started with their lineage, described, logged with the model."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import distributions, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.project import process_exists
from .store import client

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import ActiveRun
    from mlflow.models import ModelSignature

    from ..schema import Schema


MODEL_ARTIFACT = "model"
MODEL_URI_TAG = "model_uri"  # the run's logged model
STUDY_RUN_TAG = "optuna_study_run"  # on an Optuna study's own run, which holds no model
INPUTS_KEY_TAG = "inputs_key"  # a digest of what the run records (stages.register.inputs_key)


@contextmanager
def start_run(experiment_id: str, tags: dict[str, str], description: str) -> Iterator[ActiveRun]:
    """Start a run with these tags and its process's, named after where it ran (see run_name) and
    with a one-line `description`, after ending runs of killed processes."""
    import mlflow

    end_abandoned_runs(experiment_id)
    tags = {**tags, "host": socket.gethostname(), "pid": str(os.getpid())}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name(tags), tags=tags, description=description
    ) as run:
        yield run


def run_name(tags: dict[str, str]) -> str:
    """The name a run shows in the MLflow UI: its DVC experiment's (`dvc exp run`), else
    `workspace@<short commit>`."""
    if "dvc_exp_name" in tags:
        return tags["dvc_exp_name"]
    return f"workspace@{tags['git_commit'][:7]}" if "git_commit" in tags else "workspace"


def describe(model: str, data: Path, data_md5: str, metric: tuple[str, float], tags: dict[str, str]) -> str:
    """One line on what a run was: the model, its main test metric, the data and the code."""
    name, value = metric
    code = f"commit {tags['git_commit'][:7]}" if "git_commit" in tags else "no git commit"
    if tags.get("git_dirty") == "true":
        code += " with uncommitted changes"
    return f"{model} on {data.name} (data {data_md5[:8]}): {name}={value:.4f}; {code}"


def finished_run(experiment_id: str, inputs_key: str) -> tuple[str, str] | None:
    """(run id, model URI) of a finished run of the experiment with this inputs' key and a logged
    model, if any."""
    found = f"attributes.status = 'FINISHED' and tags.{INPUTS_KEY_TAG} = '{inputs_key}'"
    for run in client().search_runs([experiment_id], filter_string=found, max_results=10):
        if MODEL_URI_TAG in run.data.tags:
            return run.info.run_id, run.data.tags[MODEL_URI_TAG]
    return None


def end_abandoned_runs(experiment_id: str) -> None:
    """Mark KILLED the runs left RUNNING by a process of this host that no longer exists (kill -9)."""
    running = f"attributes.status = 'RUNNING' and tags.host = '{socket.gethostname()}'"
    for run in client().search_runs([experiment_id], filter_string=running):
        pid = int(run.data.tags.get("pid", "0"))
        if pid and not process_exists(pid):
            client().set_terminated(run.info.run_id, status="KILLED")


def log_environment() -> None:
    """Record the Python version and every installed package of the active run's environment."""
    import mlflow

    installed = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in distributions())
    mlflow.log_text("\n".join(installed) + "\n", "environment/installed-packages.txt")
    mlflow.set_tag("python_version", sys.version.split()[0])


def log_curve(folder: Path, run_id: str) -> int:
    """Log a dvclive folder's step metrics (`plots/metrics/<name>.tsv`: step, value) to the run as
    each metric's history, which the MLflow UI draws; return how many points."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    points = []
    for table in sorted((folder / "plots" / "metrics").rglob("*.tsv")):
        name = table.relative_to(folder / "plots" / "metrics").with_suffix("").as_posix()  # loss/train
        for line in table.read_text().splitlines()[1:]:
            step, value = line.split("\t")[:2]
            points.append(Metric(name, float(value), now, int(step)))
    for start in range(0, len(points), 1000):  # MLflow takes 1000 metrics per batch
        client().log_batch(run_id, metrics=points[start : start + 1000])
    return len(points)


# A feature's kind -> its type in the MLflow signature. A date is its raw text, as predict and the
# Bento send it (the model parses it with the schema's format), not an MLflow datetime.
SIGNATURE_TYPES = {"number": "double", "category": "string", "boolean": "string", "datetime": "string"}


def signature(table: Schema, example: pd.DataFrame, model: Any) -> ModelSignature:
    """The model's MLflow signature: its inputs from the schema (numbers as doubles, categories and
    dates as strings, nullable columns optional), its output as the model answers for `example`."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec
    from mlflow.types.schema import Schema as ColumnSchema

    columns = [
        ColSpec(SIGNATURE_TYPES[table.columns[name].kind], name, required=not table.columns[name].nullable)
        for name in table.features()
    ]
    outputs = infer_signature(example, model.predict(example)).outputs
    return ModelSignature(inputs=ColumnSchema(columns), outputs=outputs)


def log_model(model: Any, example: pd.DataFrame, table: Schema) -> str:
    """Log a fitted scikit-learn model (skops format, signature, pinned requirements) with a few input
    rows as its `example`; return its URI."""
    import mlflow.sklearn
    import skops.io

    info = mlflow.sklearn.log_model(
        model,
        name=MODEL_ARTIFACT,
        signature=signature(table, example, model),
        input_example=example,
        # Explicit requirements: inferring them costs seconds per run.
        pip_requirements=[f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas")],
        # The types of the model we just trained; skops refuses unlisted types when loading.
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
    )
    return info.model_uri


def run_metrics(run_id: str) -> dict[str, float]:
    """The metrics logged to a run."""
    return dict(client().get_run(run_id).data.metrics)
