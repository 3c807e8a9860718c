"""The task: predict the class in column `target`. Models, metrics and plots of classification.

scikit-learn is imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd
    from dvclive import Live
    from matplotlib.figure import Figure
    from sklearn.base import ClassifierMixin

    from .config import TrainParams

TASK = "classification"
TARGET = "target"
STRATIFIED = True  # `prepare` keeps each class's share of rows in both splits


class Metric(NamedTuple):
    higher_is_better: bool
    low: float
    high: float


METRICS = {
    "accuracy": Metric(higher_is_better=True, low=0.0, high=1.0),
    "f1_macro": Metric(higher_is_better=True, low=0.0, high=1.0),
    "roc_auc": Metric(higher_is_better=True, low=0.0, high=1.0),
    "log_loss": Metric(higher_is_better=False, low=0.0, high=float("inf")),
}
# How models are ordered (`make compare`, `make promote`): by the first metric, ties broken by the
# next. log_loss scores the probabilities, so it still tells apart models whose labels all agree.
RANKING = ("f1_macro", "log_loss")


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


class Predictions(NamedTuple):
    """The model's outputs on the test features, computed once for the metrics and the pictures."""

    labels: np.ndarray  # the predicted class of each row
    probabilities: np.ndarray  # one column per class, in the order of `classes`
    classes: np.ndarray


def predict(model: ClassifierMixin, features: pd.DataFrame) -> Predictions:
    """Run the model on `features` once: each row's class probabilities, and as its label the most
    probable class (what `model.predict` returns, without a second pass over the trees)."""
    probabilities = model.predict_proba(features)
    return Predictions(model.classes_[probabilities.argmax(axis=1)], probabilities, model.classes_)


def score(target: pd.Series, predictions: Predictions) -> dict[str, float]:
    """Test metrics, one per name in METRICS."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    probabilities = predictions.probabilities
    if probabilities.shape[1] == 2:
        roc_auc = roc_auc_score(target, probabilities[:, 1])
    else:
        roc_auc = roc_auc_score(target, probabilities, multi_class="ovr", labels=predictions.classes)
    return {
        "accuracy": float(accuracy_score(target, predictions.labels)),
        "f1_macro": float(f1_score(target, predictions.labels, average="macro")),
        "roc_auc": float(roc_auc),
        "log_loss": float(log_loss(target, probabilities, labels=predictions.classes)),
    }


def log_plot_data(live: Live, target: pd.Series, predictions: Predictions) -> None:
    """The confusion matrix as data that `dvc plots` draws: one row per pair of labels with its
    number of test rows in `count`, so the file stays small however large the test split. dvc.yaml
    names this file and its template, .dvc/plots/confusion_counts.json, which sums the counts."""
    from sklearn.metrics import confusion_matrix

    classes = [str(label) for label in predictions.classes]
    counts = confusion_matrix(target, predictions.labels, labels=predictions.classes)
    cells = [
        {"actual": actual, "predicted": predicted, "count": int(counts[row, column])}
        for row, actual in enumerate(classes)
        for column, predicted in enumerate(classes)
    ]
    # The template only matters where dvclive writes dvc.yaml (here dvc.yaml is hand-written).
    live.log_plot("confusion_matrix", cells, x="actual", y="predicted", template="confusion_counts")


def figures(target: pd.Series, predictions: Predictions) -> Iterator[tuple[str, Figure]]:
    """The pictures of the test results, as (file name, figure): the confusion matrix, and ROC and
    precision-recall curves with one curve per class (one-vs-rest; a single curve for two classes)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    display = ConfusionMatrixDisplay.from_predictions(target, predictions.labels, colorbar=False)
    display.ax_.set_title("Confusion matrix (test split)")
    yield "confusion_matrix.png", display.figure_

    classes = list(predictions.classes)
    shown = classes if len(classes) > 2 else classes[1:]
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
        for number, label in enumerate(shown):
            curve.from_predictions(
                target == label,
                predictions.probabilities[:, classes.index(label)],
                name=f"class {label}",
                ax=axes,
                plot_chance_level=number == len(shown) - 1,
            )
        axes.set(title=title, xlabel=axis_labels[0], ylabel=axis_labels[1])
        yield file_name, figure
