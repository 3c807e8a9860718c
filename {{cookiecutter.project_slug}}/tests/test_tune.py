"""experiments.tune: Optuna's search space from params.yaml's `tune:` ranges, and the objective."""

from __future__ import annotations

import pytest
from conftest import TABLE
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from {{ cookiecutter.package_name }}.config import Params, TuneParams
from {{ cookiecutter.package_name }}.experiments.tune import objective, search_space

# Each task's metrics with their goal, and the first metric of its ranking: the objective when
# `tune.metric` is null.
DIRECTIONS = {
    "classification": {
        "accuracy": "maximize",
        "f1_macro": "maximize",
        "roc_auc": "maximize",
        "log_loss": "minimize",
    },
    "regression": {"rmse": "minimize", "mae": "minimize", "r2": "maximize"},
}
FIRST_RANKED = {"classification": "f1_macro", "regression": "r2"}


def test_ranges_of_integers_are_integers_and_any_other_range_numbers() -> None:
    space = {
        "train.max_depth": {"low": 2, "high": 16},
        "train.n_estimators": {"low": 50, "high": 400, "log": True},
        "train.regularization": {"low": 0.01, "high": 10, "log": True},
        "train.min_samples_leaf": {"low": 1, "high": 2.5},
        "train.model": ["random_forest", "linear"],
    }
    tune = TuneParams.model_validate({"metric": None, "space": space})
    assert search_space(tune.space) == {
        "train.max_depth": IntDistribution(2, 16),
        "train.n_estimators": IntDistribution(50, 400, log=True),
        "train.regularization": FloatDistribution(0.01, 10.0, log=True),
        "train.min_samples_leaf": FloatDistribution(1.0, 2.5),
        "train.model": CategoricalDistribution(["random_forest", "linear"]),
    }


@pytest.mark.parametrize("metric", DIRECTIONS[TABLE.task])
def test_the_objective_is_the_tune_metric_in_its_direction(params: Params, metric: str) -> None:
    chosen = params.model_copy(update={"tune": params.tune.model_copy(update={"metric": metric})})
    assert objective(chosen) == (metric, DIRECTIONS[TABLE.task][metric])


def test_without_a_tune_metric_the_objective_is_the_first_ranking_metric(params: Params) -> None:
    unset = params.model_copy(update={"tune": params.tune.model_copy(update={"metric": None})})
    first = FIRST_RANKED[TABLE.task]
    assert objective(unset) == (first, DIRECTIONS[TABLE.task][first])
