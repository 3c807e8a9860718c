"""Print the project's MLflow runs side by side, best first.

    python -m <package>.experiments.compare [--limit N]        (or: make compare)

One row per run: DVC experiment name, run id, git commit, the params that differ between runs,
every test metric, and the registered model version with its aliases, if any.
"""

from __future__ import annotations

import argparse

import pandas as pd

from .. import tasks
from ..common.errors import PipelineError, run_main
from ..config import load_params
from ..tracking import registry, store
from ..tracking.live import LIVE_TAG
from ..tracking.runs import STUDY_RUN_TAG


def runs_table(model_name: str, limit: int) -> pd.DataFrame:
    """The finished runs of the project's experiment as a table, best first (see the task's
    RANKING), with the baseline each run's model had to beat."""
    import mlflow

    task = tasks.current()
    shown = [*task.METRICS, f"baseline_{task.RANKING[0]}"]
    experiment_id = store.connect()
    finished = "attributes.status = 'FINISHED'"
    runs = mlflow.search_runs([experiment_id], filter_string=finished, max_results=limit)
    runs = runs[column(runs, f"tags.{STUDY_RUN_TAG}").isna()]  # an Optuna study's run has no model
    runs = runs[column(runs, f"tags.{LIVE_TAG}").isna()]  # nor has a training's live run (its curve)
    if runs.empty:
        raise PipelineError("no finished MLflow runs yet: run `dvc repro` or `dvc exp run` first")
    versions = registry.registered_versions(model_name)  # run id -> "3 (staging, production)"
    table = pd.DataFrame(
        {
            "experiment": column(runs, "tags.dvc_exp_name").fillna("-"),
            "run": runs["run_id"].str[:8],
            "commit": column(runs, "tags.git_commit").fillna("").str[:7],
            "version": runs["run_id"].map(
                lambda run_id: versions.get(run_id, "-")
            ),  # none registered: all "-"
        }
    )
    params = runs.filter(like="params.").rename(columns=lambda name: name.removeprefix("params."))
    varying = [name for name in params.columns if params[name].nunique(dropna=False) > 1]
    metrics = pd.DataFrame({name: column(runs, f"metrics.{name}") for name in shown})
    table = pd.concat([table, params[varying], metrics], axis=1)
    ascending = [not task.METRICS[name].higher_is_better for name in task.RANKING]
    ranked = table.sort_values(list(task.RANKING), ascending=ascending, kind="stable")  # as promote compares
    return ranked.round(dict.fromkeys(shown, 4))


def column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A column of the runs table; all missing if no run has it (e.g. no DVC experiment yet, or a
    metric added to the task after the runs)."""
    return runs[name] if name in runs else pd.Series(index=runs.index, dtype=object)


def show_runs(limit: int) -> None:
    """Print the runs table of the project's registered model."""
    model_name = load_params().registry.model_name
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(runs_table(model_name, limit).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=50, help="newest runs to show (default 50)")
    show_runs(parser.parse_args().limit)


if __name__ == "__main__":
    run_main(main)
