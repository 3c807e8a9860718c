"""Stage `evaluate`: score the model on the test split.

dvclive writes the metrics and plots that `dvc metrics`, `dvc plots` and `dvc exp show` read
(and that `register` logs to MLflow). This stage does not touch MLflow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import matplotlib
import pandas as pd

from ..config import EvaluateParams, load_params
from ..errors import run_main
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


def evaluate(test_path: Path, model_path: Path, live_dir: Path, params: EvaluateParams) -> dict[str, float]:
    """Score the model, write dvclive metrics and plots; return the metrics."""
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
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet)")
    parser.add_argument("--model", type=Path, required=True, help="fitted model file")
    parser.add_argument("--live", type=Path, required=True, help="dvclive output folder")
    args = parser.parse_args()
    metrics = evaluate(args.test, args.model, args.live, load_params().evaluate)
    print("evaluate: " + ", ".join(f"{name}={metrics[name]:.4f}" for name in METRICS))


if __name__ == "__main__":
    run_main(main)
