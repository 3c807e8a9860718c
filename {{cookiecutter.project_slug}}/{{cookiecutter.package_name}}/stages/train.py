"""Stage `train`: fit the model `params.yaml` describes and save it as a plain file.

The model is one scikit-learn Pipeline (see model.py): the table's raw feature columns go in. The
file (skops's format, see model_file.py) is DVC's copy of the model, usable without MLflow;
`register` logs the same model to MLflow. A boosted model's training curve (see
training_curves.py) is written with dvclive as it trains, at most CURVE_POINTS steps: `dvc plots
show` draws it, and `register` logs it to the MLflow run as the metrics' history.
"""

from __future__ import annotations

import argparse
import math
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pandas as pd

from .. import schema
from ..common.errors import run_main
from ..common.failpoints import fail_point
from ..config import TrainParams, load_params
from ..model import fit_model
from ..model_file import save
from ..training_curves import BOOSTED

CURVE_POINTS = 200  # steps of a training curve at most: every k-th iteration of a longer training
CURVE_METRICS = ("loss/train", "loss/test")  # dvclive's names, and the MLflow run's


def train(
    train_path: Path,
    model_path: Path,
    params: TrainParams,
    schema_path: Path = schema.SCHEMA_FILE,
    test_path: Path | None = None,
    curve_dir: Path | None = None,
) -> None:
    """Fit `train.model` on the training split and write it to `model_path`; with `test_path` and
    `curve_dir`, a boosted model's training curve too (an empty summary for any other model)."""
    table = schema.load(schema_path)
    data = pd.read_parquet(train_path)
    features, target = schema.conform(data, table), data[table.target]
    with opened_live_run(params) as live:
        if curve_dir is None or test_path is None:
            model = fit_model(table, params, features, target)
        elif params.model not in BOOSTED:
            curve_dir.mkdir(parents=True, exist_ok=True)
            (curve_dir / "metrics.json").write_text("{}\n")  # no curve: DVC still finds the output
            model = fit_model(table, params, features, target)
        else:
            from dvclive import Live

            test = pd.read_parquet(test_path)
            every = math.ceil(params.n_estimators / CURVE_POINTS)
            with Live(str(curve_dir), dvcyaml=None, save_dvc_exp=False, report=None) as curve_log:

                def report(trees: int, train_loss: float, test_loss: float) -> None:
                    if trees % every and trees != params.n_estimators:
                        return
                    values = dict(zip(CURVE_METRICS, (float(train_loss), float(test_loss)), strict=True))
                    curve_log.step = trees
                    for name, value in values.items():
                        curve_log.log_metric(name, value)
                    curve_log.make_summary()  # the latest values, for `dvc exp show` while it trains
                    if live is not None:
                        live.log(trees, values)

                curve = (schema.conform(test, table), test[table.target], report)
                model = fit_model(table, params, features, target, curve)
        save(model, model_path)
        if live is not None:
            live.finish(model_path)
    fail_point("train.model_written")


def opened_live_run(params: TrainParams) -> AbstractContextManager:
    """The live MLflow run of `train.live_run` (tracking/live.py), or none: MLflow is imported only
    when asked for."""
    if not params.live_run:
        return nullcontext()
    from ..tracking.live import live_run

    return live_run(params.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training split (Parquet)")
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet): scored for the curve")
    parser.add_argument("--schema", type=Path, required=True, help="the table's description (YAML)")
    parser.add_argument("--model", type=Path, required=True, help="where to write the fitted model")
    parser.add_argument("--curve", type=Path, required=True, help="dvclive folder of the training curve")
    args = parser.parse_args()
    params = load_params(schema_path=args.schema).train
    train(args.train, args.model, params, args.schema, args.test, args.curve)
    print(f"train: {params.model} -> {args.model}")


if __name__ == "__main__":
    run_main(main)
