"""Stage `evaluate`: score the model on the test split and record everything.

dvclive writes the metrics and plots that `dvc metrics`, `dvc plots` and `dvc exp show` read; the
same metrics and images, the params, the model and the data's DVC hash go to one new MLflow run,
whose id is written to `--run-file` for `register` (and for `dvc exp show`).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import matplotlib
import pandas as pd

from .. import tracking
from ..config import EvaluateParams, Params, load_params
from ..errors import run_main
from ..files import write_json
from ..task import METRICS, TARGET, figures, log_plot_data, predict, score

matplotlib.use("Agg")  # files only, no display


def plot_importances(model: object, feature_names: list[str], top: int):
    """Bar chart of the `top` most important features (for models that report importances)."""
    import matplotlib.pyplot as plt

    importances = pd.Series(model.feature_importances_, index=feature_names).nlargest(top).sort_values()
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(importances) + 1.2))
    importances.plot.barh(ax=axes)
    axes.set_title("Feature importances")
    axes.set_xlabel("importance")
    figure.tight_layout()
    return figure


def evaluate(test_path: Path, model_path: Path, live_dir: Path, params: EvaluateParams):
    """Score the model, write dvclive metrics and plots; return (model, test features, metrics)."""
    import matplotlib.pyplot as plt
    from dvclive import Live

    data = pd.read_parquet(test_path)
    features, target = data.drop(columns=TARGET), data[TARGET]
    model = joblib.load(model_path)
    predictions = predict(model, features)
    metrics = score(target, predictions)
    importances = plot_importances(model, list(features.columns), params.top_features)
    pictures = [*figures(target, predictions), ("feature_importances.png", importances)]
    # dvcyaml=None: dvc.yaml is hand-written and stays the one description of the pipeline.
    with Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        log_plot_data(live, target, predictions)
        for file_name, figure in pictures:
            live.log_image(file_name, figure)
            plt.close(figure)
    return model, features, metrics


def track(
    params: Params,
    raw_path: Path,
    raw_md5: str,
    model: object,
    features: pd.DataFrame,
    metrics: dict[str, float],
    images_dir: Path,
) -> dict[str, str]:
    """Log one MLflow run: params, the raw data (`raw_md5`: its DVC hash), environment, model, metrics
    and plots; return its ids."""
    import mlflow

    experiment_id = tracking.connect()
    with tracking.start_run(experiment_id) as run:
        mlflow.log_params(params.flat("prepare", "train", "evaluate"))
        tracking.log_data_source(raw_path, raw_md5)
        tracking.log_environment()
        model_uri = tracking.log_model(model, features)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(images_dir), artifact_path="plots")
    return {"mlflow_run_id": run.info.run_id, "mlflow_experiment_id": experiment_id, "model_uri": model_uri}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, required=True, help="raw data file (its hash is logged)")
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="fitted model file")
    parser.add_argument("--live", type=Path, required=True, help="dvclive output folder")
    parser.add_argument("--run-file", type=Path, required=True, help="where to write the MLflow run id")
    args = parser.parse_args()
    params = load_params()
    with ThreadPoolExecutor(1) as pool:  # hashing releases the GIL: large raw data hashes while we score
        raw_md5 = pool.submit(tracking.file_md5, args.raw)
        model, features, metrics = evaluate(args.test, args.model, args.live, params.evaluate)
        images = args.live / "plots" / "images"
        run = track(params, args.raw, raw_md5.result(), model, features, metrics, images)
    write_json(args.run_file, run)
    shown = ", ".join(f"{name}={metrics[name]:.4f}" for name in METRICS)
    print(f"evaluate: {shown}; MLflow run {run['mlflow_run_id']}")


if __name__ == "__main__":
    run_main(main)
