"""Stage `evaluate`: score the model on the test split, and a trivial baseline for the gate.

dvclive writes the metrics and plots that `dvc metrics`, `dvc plots` and `dvc exp show` read
(and that `register` logs to MLflow). This stage does not touch MLflow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import pandas as pd

from .. import model_file, schema, tasks
from ..common.errors import run_main
from ..common.failpoints import fail_point
from ..config import EvaluateParams, load_params

matplotlib.use("Agg")  # files only, no display
IMPORTANCE_ROWS = 1_000  # test rows that permutation importance scores (models without importances)
IMPORTANCE_SEED = 0
LABEL_WIDTH = 40  # characters of a feature's name shown in the importance plot


def importances(model: object, features: pd.DataFrame, target: pd.Series) -> pd.Series:
    """How much each feature column matters: the trees' own importances (one per column the model's
    first step gives: the table's, and each part of a date on its own, e.g. `date_month`), else the
    drop in score when a table column is shuffled (permutation importance on at most
    IMPORTANCE_ROWS test rows)."""
    estimator = model.steps[-1][1]
    if hasattr(estimator, "feature_importances_"):
        names = model.steps[0][1].get_feature_names_out()
        return pd.Series(estimator.feature_importances_, index=names)
    from sklearn.inspection import permutation_importance

    rows = features.sample(n=min(IMPORTANCE_ROWS, len(features)), random_state=IMPORTANCE_SEED)
    result = permutation_importance(
        model, rows, target.loc[rows.index], n_repeats=3, random_state=IMPORTANCE_SEED
    )
    return pd.Series(result.importances_mean, index=features.columns)


def plot_importances(values: pd.Series, top: int):
    """Bar chart of the `top` most important features."""
    import matplotlib.pyplot as plt

    shown = values.nlargest(top).sort_values()
    # A survey's column names are whole questions: cut to one line's width, so the bars keep room.
    shown.index = [
        name if len(name) <= LABEL_WIDTH else name[: LABEL_WIDTH - 1] + "…" for name in map(str, shown.index)
    ]
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.2))
    shown.plot.barh(ax=axes)
    axes.set_title("Feature importances")
    axes.set_xlabel("importance")
    figure.tight_layout()
    return figure


def evaluate(
    paths: dict[str, Path], live_dir: Path, params: EvaluateParams, schema_path: Path = schema.SCHEMA_FILE
) -> dict[str, float]:
    """Score the model (`paths`: train, test, model) and the baseline, write dvclive metrics and
    plots; return the metrics."""
    import matplotlib.pyplot as plt
    from dvclive import Live

    table = schema.load(schema_path)
    task = tasks.load(table.task)
    data = pd.read_parquet(paths["test"])
    features, target = schema.conform(data, table), data[table.target]
    model = model_file.load(paths["model"])
    predictions = task.predict(model, features, target, params.positive_class)
    metrics = task.score(target, predictions)
    train_target = pd.read_parquet(paths["train"], columns=[table.target])[table.target]
    metrics[f"baseline_{task.RANKING[0]}"] = task.baseline(train_target, target)
    importance = plot_importances(importances(model, features, target), params.top_features)
    pictures = [*task.figures(target, predictions), ("feature_importances.png", importance)]
    # dvcyaml=None: dvc.yaml is hand-written and stays the one description of the pipeline.
    with Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        fail_point("evaluate.metrics_logged")  # the metrics, not yet the plots
        task.log_plot_data(live, target, predictions)
        for file_name, figure in pictures:
            live.log_image(file_name, figure)
            plt.close(figure)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training split (its target: the baseline)")
    parser.add_argument("--test", type=Path, required=True, help="test split (Parquet)")
    parser.add_argument("--schema", type=Path, required=True, help="the table's description (YAML)")
    parser.add_argument("--model", type=Path, required=True, help="fitted model file")
    parser.add_argument("--live", type=Path, required=True, help="dvclive output folder")
    args = parser.parse_args()
    paths = {"train": args.train, "test": args.test, "model": args.model}
    metrics = evaluate(paths, args.live, load_params(schema_path=args.schema).evaluate, args.schema)
    print("evaluate: " + ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()))


if __name__ == "__main__":
    run_main(main)
