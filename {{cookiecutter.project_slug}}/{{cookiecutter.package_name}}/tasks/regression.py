"""Regression: predict a number. Metrics and plots.

scikit-learn is imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .metric import Metric

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd
    from dvclive import Live
    from matplotlib.figure import Figure
    from sklearn.base import RegressorMixin

STRATIFIED = False  # `prepare` splits rows at random: a continuous target has no classes
# Test rows drawn in the predicted-vs-actual plots (scikit-learn's default for its picture), chosen
# at random with a fixed seed: the plots stay small and the same for the same predictions.
PLOTTED_ROWS = 1_000
PLOTTED_ROWS_SEED = 0


METRICS = {
    "rmse": Metric(higher_is_better=False, low=0.0, high=float("inf")),
    "mae": Metric(higher_is_better=False, low=0.0, high=float("inf")),
    "r2": Metric(higher_is_better=True, low=float("-inf"), high=1.0),
}
# A model is registered only if it beats the baseline (the training mean) by the first of RANKING.
# How models are ordered (`make compare`, `make promote`): by the first metric, ties broken by the next.
RANKING = ("r2", "mae")


def target_problem(target: pd.Series) -> str | None:
    """What makes this target unusable for regression, or None."""
    if target.nunique() < 2:
        return f"is constant ({target.iloc[0].item()!r}); there is nothing to predict"
    return None


class Predictions(NamedTuple):
    """The model's outputs on the test features, computed once for the metrics and the pictures."""

    values: np.ndarray  # the predicted number for each row


def predict(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, positive: object
) -> Predictions:
    """Run the model on `features` (`target` and `positive` matter to classification only)."""
    return Predictions(model.predict(features))


def baseline(train_target: pd.Series, test_target: pd.Series) -> float:
    """The first RANKING metric of a model that always answers the training split's mean."""
    from sklearn.metrics import r2_score

    return float(r2_score(test_target, [train_target.mean()] * len(test_target)))


def score(target: pd.Series, predictions: Predictions) -> dict[str, float]:
    """Test metrics, one per name in METRICS."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    return {
        "rmse": float(root_mean_squared_error(target, predictions.values)),
        "mae": float(mean_absolute_error(target, predictions.values)),
        "r2": float(r2_score(target, predictions.values)),
    }


def log_plot_data(live: Live, target: pd.Series, predictions: Predictions) -> None:
    """Predicted against actual as data that `dvc plots` draws: at most PLOTTED_ROWS test rows."""
    import pandas as pd

    points = pd.DataFrame({"actual": target.to_numpy(), "predicted": predictions.values})
    if len(points) > PLOTTED_ROWS:
        points = points.sample(n=PLOTTED_ROWS, random_state=PLOTTED_ROWS_SEED).sort_index()
    # dvc.yaml names the file and its template (.dvc/plots/regression.json, a scatter plot).
    live.log_plot("test_predictions", points, x="actual", y="predicted")


def figures(target: pd.Series, predictions: Predictions) -> Iterator[tuple[str, Figure]]:
    """The pictures of the test results, as (file name, figure): predicted against actual, and the
    residuals, each of at most PLOTTED_ROWS test rows."""
    from sklearn.metrics import PredictionErrorDisplay

    for kind, file_name in (
        ("actual_vs_predicted", "predicted_vs_actual.png"),
        ("residual_vs_predicted", "residuals.png"),
    ):
        display = PredictionErrorDisplay.from_predictions(
            target,
            predictions.values,
            kind=kind,
            subsample=PLOTTED_ROWS,
            random_state=PLOTTED_ROWS_SEED,
        )
        display.ax_.set_title(file_name.removesuffix(".png").replace("_", " ").capitalize())
        yield file_name, display.figure_
