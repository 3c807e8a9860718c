"""Training curves: after each boosting iteration, the loss on the training split and on the test
split, reported as the model trains.

XGBoost and LightGBM report each iteration while they train (their callbacks). scikit-learn's
`gradient_boosting` has no such hook: its curve comes from its staged predictions, once fitted.
The loss is the log loss for a classifier and the RMSE for a regressor, as the libraries compute
them. The test rows are only scored, never used to choose anything (no early stopping): a model is
the same with or without its curve. Test rows whose class the training split lacks are left out
of the test loss (no library can score them).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

BOOSTED = ("gradient_boosting", "xgboost", "lightgbm")
# Trees so far, the training loss and the test loss.
Report = Callable[[int, float, float], None]


def fit_reporting(
    estimator: Any, kind: str, inputs: Any, target: pd.Series, test: tuple[Any, pd.Series], report: Report
) -> None:
    """Fit `estimator` (built for `train.model` = `kind`, one of BOOSTED) on `inputs` and `target`,
    calling `report` after each iteration with both losses."""
    import numpy as np

    test_inputs, test_target = test
    if hasattr(estimator, "predict_proba"):  # a classifier: only the classes it learns
        known = np.isin(np.asarray(test_target), np.unique(np.asarray(target)))
        test_inputs, test_target = test_inputs[known], test_target[known]
    if kind == "xgboost":
        estimator.set_params(callbacks=[xgboost_reporter(report)])
        try:
            estimator.fit(
                inputs, target, eval_set=[(inputs, target), (test_inputs, test_target)], verbose=False
            )
        finally:
            estimator.set_params(callbacks=None)  # a callback is no part of the saved model
    elif kind == "lightgbm":

        def after_iteration(env: Any) -> None:
            losses = {name: value for name, _, value, _ in env.evaluation_result_list}
            report(env.iteration + 1, losses["train"], losses["test"])

        with warnings.catch_warnings():
            # eval_set is deprecated for eval_X and eval_y, whose labels LightGBM 4.7's classifier
            # does not encode as it encodes eval_set's.
            warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated")
            estimator.fit(
                inputs,
                target,
                eval_set=[(inputs, target), (test_inputs, test_target)],
                eval_names=["train", "test"],
                callbacks=[after_iteration],
            )
    else:
        estimator.fit(inputs, target)
        staged_losses(estimator, (inputs, target), (test_inputs, test_target), report)


def xgboost_reporter(report: Report) -> Any:
    """An XGBoost callback calling `report` after each iteration."""
    from xgboost.callback import TrainingCallback

    class Reporter(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
            (train_loss,) = evals_log["validation_0"].values()
            (test_loss,) = evals_log["validation_1"].values()
            report(epoch + 1, float(train_loss[-1]), float(test_loss[-1]))
            return False  # go on

    return Reporter()


def staged_losses(
    estimator: Any, train: tuple[Any, pd.Series], test: tuple[Any, pd.Series], report: Report
) -> None:
    """The losses of a fitted HistGradientBoosting after each of its iterations."""
    from sklearn.metrics import log_loss, root_mean_squared_error

    if hasattr(estimator, "predict_proba"):
        stages = zip(
            estimator.staged_predict_proba(train[0]), estimator.staged_predict_proba(test[0]), strict=True
        )
        classes = estimator.classes_
        for trees, (on_train, on_test) in enumerate(stages, start=1):
            report(
                trees,
                log_loss(train[1], on_train, labels=classes),
                log_loss(test[1], on_test, labels=classes),
            )
    else:
        stages = zip(estimator.staged_predict(train[0]), estimator.staged_predict(test[0]), strict=True)
        for trees, (on_train, on_test) in enumerate(stages, start=1):
            report(
                trees, root_mean_squared_error(train[1], on_train), root_mean_squared_error(test[1], on_test)
            )
