"""Stage `register`: record the evaluated model in MLflow; register it if it passes the gate.

One MLflow run gets the params, the test metrics and plots that `evaluate` wrote, the raw data's
DVC hash, the environment and the model: the only stage that imports MLflow. A model that reaches
every threshold of `register.gate` in `params.yaml` becomes a version of `register.model_name` in
the Model Registry with alias `staging`. Never two runs or versions for the same inputs: DVC's run
cache may replay this stage, and a rerun on the same inputs and commit (after a crash, or
`dvc repro -f`) reuses the run it logged before. The run's ids and the decision, passed or not and
why, are written to `--out`, so `dvc exp show` lists them. When the tracking server is down
(unreachable, or failing with HTTP 5xx), run and version go to the project's mlflow.db instead,
pending `make sync` (tracking/sync.py), and the decision says so. Promotion to `production` is a
separate, deliberate step: `python -m <package>.ops.promote` (`make promote`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import model_file, schema, tasks
from ..common.errors import PipelineError, run_main
from ..common.failpoints import fail_point
from ..common.files import read_json, write_json
from ..config import Params, RegisterParams, load_params
from ..gate import gate_failures
from ..tracking import lineage, live, registry, runs, store, sync

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

CANDIDATE_ALIAS = "staging"
EXAMPLE_ROWS = 5  # test rows stored with the model as its input example
LOGGED_PARAMS = ("prepare", "train", "evaluate")  # params.yaml sections the run records


def load_model(model_path: Path, test_path: Path, table: schema.Schema) -> tuple[Any, pd.DataFrame]:
    """The fitted model, and the first test rows' features as its input example (read without
    loading the whole split)."""
    import pyarrow.parquet as pq

    first_rows = next(pq.ParquetFile(test_path).iter_batches(batch_size=EXAMPLE_ROWS), None)
    if first_rows is None:
        raise PipelineError(f"{test_path} has no rows: rerun `dvc repro` to prepare the data again")
    return model_file.load(model_path), schema.conform(first_rows.to_pandas(), table)


def row_count(path: Path) -> int:
    """The rows of a Parquet file, from its footer (nothing else is read)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def inputs_key(commit: str | None, params: Params, md5s: dict[str, str], metrics: dict[str, float]) -> str:
    """A digest of the commit and of what a run records (`md5s`: the raw data's, the model's, the
    environment's): the same key means the same run."""
    content = {
        "commit": commit,
        **md5s,
        "params": params.flat(*LOGGED_PARAMS),
        "metrics": metrics,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RunContent:
    """What one MLflow run of this stage records."""

    params: Params
    raw: tuple[Path, str]  # the raw data file and its DVC hash
    model: Any
    example: pd.DataFrame  # a few test rows, stored with the model as its input example
    table: schema.Schema
    metrics: dict[str, float]
    images_dir: Path
    curve_dir: Path  # train's dvclive folder: a boosted model's loss after each iteration
    tags: dict[str, str]


def log_run(experiment_id: str, content: RunContent, task: ModuleType) -> dict[str, str]:
    """Log one MLflow run tagged with the content's tags and described in one line: its params, the
    raw data (path and DVC hash), the environment, model (its signature from the schema), metrics
    and plots; return its ids."""
    import mlflow

    main, metrics = task.RANKING[0], content.metrics
    description = runs.describe(content.params.train.model, *content.raw, (main, metrics[main]), content.tags)
    with runs.start_run(experiment_id, content.tags, description) as run:
        fail_point("register.run_started")
        mlflow.log_params(content.params.flat(*LOGGED_PARAMS))
        lineage.log_data_source(*content.raw)
        runs.log_environment()
        model_uri = runs.log_model(content.model, content.example, content.table)
        fail_point("register.model_logged")
        mlflow.log_metrics(metrics)
        runs.log_curve(content.curve_dir, run.info.run_id)
        mlflow.log_artifacts(str(content.images_dir), artifact_path="plots")
        mlflow.set_tag(runs.MODEL_URI_TAG, model_uri)
    return run_ids(run.info.run_id, experiment_id, model_uri)


def run_ids(run_id: str, experiment_id: str, model_uri: str) -> dict[str, str]:
    """What the decision file records of the run."""
    return {"mlflow_run_id": run_id, "mlflow_experiment_id": experiment_id, "model_uri": model_uri}


def record(
    experiment_id: str,
    params: Params,
    paths: dict[str, Path],
    raw_md5: str,
    metrics: dict[str, float],
    task: ModuleType,
    extra_tags: dict[str, str] | None = None,
) -> dict[str, str]:
    """The MLflow run of these inputs (`paths`: raw, schema, test, unlabeled, model, images, curve,
    environment; `raw_md5`: the raw data's DVC hash): the finished one logged before from the same
    inputs, if any (a rerun after a crash, a forced `dvc repro`), else a new one (see log_run)
    with `extra_tags` too. Return its ids."""
    code = lineage.lineage_tags()
    md5s = {
        "raw": raw_md5,
        "model": lineage.file_md5(paths["model"]),
        "environment": lineage.file_md5(paths["environment"]),
    }
    key = inputs_key(code.get("git_commit"), params, md5s, metrics)
    earlier = runs.finished_run(experiment_id, key)
    if earlier is not None:
        run_id, model_uri = earlier
        logged = run_ids(run_id, experiment_id, model_uri)
    else:
        table = schema.load(paths["schema"])
        model, example = load_model(paths["model"], paths["test"], table)
        tags = {
            **code,
            runs.INPUTS_KEY_TAG: key,
            "dvc_model_md5": md5s["model"],
            "environment_md5": md5s["environment"],  # the runtime pins the stages ran under
            "data_schema_md5": lineage.file_md5(paths["schema"]),
            "data_unlabeled_rows": str(row_count(paths["unlabeled"])),  # left out of training: no target
            **lineage.data_source_tags(paths["raw"]),
            **({"data_source_name": table.source} if table.source else {}),
            **(extra_tags or {}),
        }
        raw = (paths["raw"], raw_md5)
        content = RunContent(
            params, raw, model, example, table, metrics, paths["images"], paths["curve"], tags
        )
        logged = log_run(experiment_id, content, task)
    if params.train.live_run:  # only then did train open a run of its own
        live.nest_live_runs(experiment_id, md5s["model"], logged["mlflow_run_id"])
    return logged


def register(
    run: dict[str, str], metrics: dict[str, float], params: RegisterParams, task: ModuleType
) -> dict:
    """Apply the gate; register and alias the run's model if it passes. Return the decision."""
    decision = {"model_name": params.model_name, **run}
    failures = gate_failures(metrics, params, task)
    if failures:
        return decision | {"registered": False, "reason": "; ".join(failures)}
    version = registry.register(run["model_uri"], params.model_name, run["mlflow_run_id"], task.RANKING)
    fail_point("register.version_created")
    registry.set_alias(params.model_name, CANDIDATE_ALIAS, version.version)
    fail_point("register.alias_moved")
    return decision | {
        "registered": True,
        "reason": "passed the gate",
        "model_version": int(version.version),
        "alias": CANDIDATE_ALIAS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", type=Path, required=True, help="the table's description (YAML)")
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet)")
    parser.add_argument("--unlabeled", type=Path, required=True, help="rows without a target (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="fitted model file")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics.json written by evaluate")
    parser.add_argument("--images", type=Path, required=True, help="folder of the plots evaluate drew")
    parser.add_argument("--curve", type=Path, required=True, help="train's dvclive folder (training curve)")
    parser.add_argument("--environment", type=Path, required=True, help="the pipeline's runtime pins")
    parser.add_argument("--out", type=Path, required=True, help="where to write the run ids and decision")
    args = parser.parse_args()
    paths = {
        "raw": Path(schema.load(args.schema).raw),  # its DVC hash is logged as the run's input
        "schema": args.schema,
        "test": args.test,
        "unlabeled": args.unlabeled,
        "model": args.model,
        "images": args.images,
        "curve": args.curve,
        "environment": args.environment,
    }
    for path in (*paths.values(), args.metrics):
        if not path.exists():
            raise PipelineError(
                f"{path} not found: run `dvc pull` (data) or `dvc repro` (stage outputs) first"
            )
    params = load_params(schema_path=args.schema)
    task = tasks.load(schema.load(args.schema).task)
    metrics = read_json(args.metrics)
    # skops, MLflow's format for the model, looks up the module of every scikit-learn type among
    # all loaded modules when imported: cheaper before MLflow's thousands of modules are loaded.
    import skops.io  # noqa: F401

    with ThreadPoolExecutor(1) as pool:  # hashing releases the GIL: large raw data hashes while MLflow starts
        raw_md5 = pool.submit(lineage.file_md5, paths["raw"])
        down = None
        try:
            experiment_id = store.connect()
        except store.ServerDown as error:  # log here, pending `make sync`; a refusal (401, 403) still stops
            down, experiment_id = error, store.connect(store.local_tracking_uri())
        pending = {sync.PENDING_TAG: down.uri} if down else {}
        run = record(experiment_id, params, paths, raw_md5.result(), metrics, task, pending)
    decision = register(run, metrics, params.registry, task)
    if down:
        decision["sync"] = f"pending: `make sync` sends it to {down.uri}"
    write_json(args.out, decision)
    if decision["registered"]:
        outcome = f"models:/{decision['model_name']}@{CANDIDATE_ALIAS} -> version {decision['model_version']}"
    else:
        outcome = f"not registered: {decision['reason']}"
    print(f"register: {outcome} (MLflow run {run['mlflow_run_id']})")
    if down:
        print(
            f"register: the MLflow tracking server {down.uri} {down.problem}: run and version are in "
            "this project's mlflow.db, pending sync; `make sync` sends them once the server is up"
        )


if __name__ == "__main__":
    run_main(main)
