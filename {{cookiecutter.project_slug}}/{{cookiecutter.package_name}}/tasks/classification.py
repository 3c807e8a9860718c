"""The task: predict the class in column `target`. Models, metrics and plots of classification.

scikit-learn is imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from dvclive import Live
    from sklearn.base import ClassifierMixin

    from .config import TrainParams

TASK = "classification"
TARGET = "target"


class Metric(NamedTuple):
    higher_is_better: bool
    low: float
    high: float


METRICS = {
    "accuracy": Metric(higher_is_better=True, low=0.0, high=1.0),
    "f1_macro": Metric(higher_is_better=True, low=0.0, high=1.0),
    "roc_auc": Metric(higher_is_better=True, low=0.0, high=1.0),
}
MAIN_METRIC = "f1_macro"


def build_model(params: TrainParams) -> ClassifierMixin:
    """Return the unfitted classifier that `train.model` names."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    estimators = {"random_forest": RandomForestClassifier, "gradient_boosting": GradientBoostingClassifier}
    return estimators[params.model](
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        random_state=params.seed,
    )


def target_problem(target: pd.Series) -> str | None:
    """What makes this target unusable for classification, or None."""
    counts = target.value_counts()
    if len(counts) < 2:
        return f"has a single class ({counts.index[0]!r}); classification needs at least two"
    rare = counts[counts < 2]
    if not rare.empty:
        return f"has classes with a single row ({', '.join(map(repr, rare.index))}); each class needs two or more"
    return None


def stratify_by(target: pd.Series) -> pd.Series | None:
    """Split train/test keeping the class shares."""
    return target


def score(
    model: ClassifierMixin, features: pd.DataFrame, target: pd.Series, predicted: np.ndarray
) -> dict[str, float]:
    """Test metrics of `model` (whose predictions for `features` are `predicted`), one per name in METRICS."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    probabilities = model.predict_proba(features)
    if probabilities.shape[1] == 2:
        roc_auc = roc_auc_score(target, probabilities[:, 1])
    else:
        roc_auc = roc_auc_score(target, probabilities, multi_class="ovr", labels=model.classes_)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "f1_macro": float(f1_score(target, predicted, average="macro")),
        "roc_auc": float(roc_auc),
    }


def log_plots(
    live: Live, model: ClassifierMixin, features: pd.DataFrame, target: pd.Series, predicted: np.ndarray
) -> None:
    """Confusion matrix as DVC plot data and as an image; ROC and precision-recall curves as images
    (one curve per class, one-vs-rest)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    live.log_sklearn_plot("confusion_matrix", target.to_numpy(), predicted, name="confusion_matrix.json")
    display = ConfusionMatrixDisplay.from_predictions(target, predicted, colorbar=False)
    display.ax_.set_title("Confusion matrix (test split)")
    live.log_image("confusion_matrix.png", display.figure_)
    plt.close(display.figure_)

    probabilities = model.predict_proba(features)
    classes = model.classes_ if len(model.classes_) > 2 else model.classes_[1:]  # binary: one curve
    for curve, file_name, title, axis_labels in (
        (
            RocCurveDisplay,
            "roc_curve.png",
            "ROC curve (test split)",
            ("false positive rate", "true positive rate"),
        ),
        (
            PrecisionRecallDisplay,
            "precision_recall.png",
            "Precision-recall (test split)",
            ("recall", "precision"),
        ),
    ):
        figure, axes = plt.subplots(figsize=(5.5, 5))
        for number, label in enumerate(classes):
            column = list(model.classes_).index(label)
            curve.from_predictions(
                target == label,
                probabilities[:, column],
                name=f"class {label}",
                ax=axes,
                plot_chance_level=number == len(classes) - 1,
            )
        axes.set(title=title, xlabel=axis_labels[0], ylabel=axis_labels[1])
        live.log_image(file_name, figure)
        plt.close(figure)
