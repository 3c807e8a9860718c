"""The task: predict the number in column `target`. Models, metrics and plots of regression.

scikit-learn is imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from dvclive import Live
    from sklearn.base import RegressorMixin

    from .config import TrainParams

TASK = "regression"
TARGET = "target"


class Metric(NamedTuple):
    higher_is_better: bool
    low: float
    high: float


METRICS = {
    "rmse": Metric(higher_is_better=False, low=0.0, high=float("inf")),
    "mae": Metric(higher_is_better=False, low=0.0, high=float("inf")),
    "r2": Metric(higher_is_better=True, low=float("-inf"), high=1.0),
}
MAIN_METRIC = "r2"


def build_model(params: TrainParams) -> RegressorMixin:
    """Return the unfitted regressor that `train.model` names."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    estimators = {"random_forest": RandomForestRegressor, "gradient_boosting": GradientBoostingRegressor}
    return estimators[params.model](
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        random_state=params.seed,
    )


def target_problem(target: pd.Series) -> str | None:
    """What makes this target unusable for regression, or None."""
    if target.nunique() < 2:
        return f"is constant ({target.iloc[0]!r}); there is nothing to predict"
    return None


def stratify_by(target: pd.Series) -> pd.Series | None:
    """A continuous target is split at random, not stratified."""
    return None


def score(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, predicted: np.ndarray
) -> dict[str, float]:
    """Test metrics of `model` (whose predictions for `features` are `predicted`), one per name in METRICS."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    return {
        "rmse": float(root_mean_squared_error(target, predicted)),
        "mae": float(mean_absolute_error(target, predicted)),
        "r2": float(r2_score(target, predicted)),
    }


def log_plots(
    live: Live, model: RegressorMixin, features: pd.DataFrame, target: pd.Series, predicted: np.ndarray
) -> None:
    """Predicted against actual as DVC plot data; that and the residuals as images."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from sklearn.metrics import PredictionErrorDisplay

    points = pd.DataFrame({"actual": target.to_numpy(), "predicted": predicted})
    live.log_plot(
        "predicted_vs_actual",
        points,
        x="actual",
        y="predicted",
        template="scatter",
        title="Predicted vs actual (test split)",
    )
    for kind, file_name in (
        ("actual_vs_predicted", "predicted_vs_actual.png"),
        ("residual_vs_predicted", "residuals.png"),
    ):
        display = PredictionErrorDisplay.from_predictions(target, predicted, kind=kind)
        display.ax_.set_title(file_name.removesuffix(".png").replace("_", " ").capitalize())
        live.log_image(file_name, display.figure_)
        plt.close(display.figure_)
