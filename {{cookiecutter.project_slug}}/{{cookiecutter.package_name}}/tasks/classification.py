"""Classification: predict a class (the target's own values: `"Adelie"`, `"yes"`, 3). Metrics and plots.

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
    from sklearn.base import ClassifierMixin

STRATIFIED = True  # `prepare` keeps each class's share of rows in both splits


METRICS = {
    "accuracy": Metric(higher_is_better=True, low=0.0, high=1.0),
    "f1_macro": Metric(higher_is_better=True, low=0.0, high=1.0),
    "roc_auc": Metric(higher_is_better=True, low=0.0, high=1.0),
    "log_loss": Metric(higher_is_better=False, low=0.0, high=float("inf")),
}
# A model is registered only if it beats the baseline (the most frequent class) by the first of RANKING.
# How models are ordered (`make compare`, `make promote`): by the first metric, ties broken by the
# next. log_loss scores the probabilities, so it still tells apart models whose labels all agree.
RANKING = ("f1_macro", "log_loss")


def target_problem(target: pd.Series) -> str | None:
    """What makes this target unusable for classification, or None."""
    counts = target.value_counts()
    if len(counts) < 2:
        return f"has a single class ({plain(counts.index[0])!r}); classification needs at least two"
    rare = counts[counts < 2]
    if not rare.empty:
        return f"has classes with a single row ({', '.join(repr(plain(label)) for label in rare.index)}); each class needs two or more"
    return None


def plain(label: object) -> object:
    """A class label as Python's own value (numpy's `np.int64(2)` as `2`), for messages."""
    return label.item() if hasattr(label, "item") else label


class Predictions(NamedTuple):
    """The model's outputs on the test features, computed once for the metrics and the pictures."""

    labels: np.ndarray  # the predicted class of each row
    probabilities: np.ndarray  # one column per class, in the order of `classes`
    classes: np.ndarray
    positive: object  # with two classes, the one roc_auc and the curves score; else None


def predict(
    model: ClassifierMixin, features: pd.DataFrame, target: pd.Series, positive: object
) -> Predictions:
    """Run the model on `features` once: each row's class probabilities, and as its label the most
    probable class (what `model.predict` returns, without a second pass over the trees). With two
    classes, `positive` (evaluate.positive_class) or else the rarer class of `target` is scored."""
    probabilities = model.predict_proba(features)
    classes = model.classes_
    if len(classes) != 2:
        positive = None
    elif positive is None:
        counts = target.value_counts()
        positive = min(classes, key=lambda label: (counts.get(label, 0), str(label)))
    elif positive not in list(classes):
        from ..common.errors import PipelineError

        raise PipelineError(
            f"params.yaml: evaluate.positive_class {positive!r} is not a class; the classes are "
            f"{', '.join(map(repr, classes.tolist()))}"
        )
    return Predictions(classes[probabilities.argmax(axis=1)], probabilities, classes, positive)


def baseline(train_target: pd.Series, test_target: pd.Series) -> float:
    """The first RANKING metric of a model that always answers the training split's most frequent class."""
    from sklearn.metrics import f1_score

    most_frequent = train_target.value_counts().index[0]
    return float(f1_score(test_target, [most_frequent] * len(test_target), average="macro"))


def score(target: pd.Series, predictions: Predictions) -> dict[str, float]:
    """Test metrics, one per name in METRICS."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    probabilities = predictions.probabilities
    if predictions.positive is not None:
        column = list(predictions.classes).index(predictions.positive)
        roc_auc = roc_auc_score(target == predictions.positive, probabilities[:, column])
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
    number of test rows in `count`, so the file stays small however large the test split."""
    from sklearn.metrics import confusion_matrix

    classes = [str(label) for label in predictions.classes]
    counts = confusion_matrix(target, predictions.labels, labels=predictions.classes)
    cells = [
        {"actual": actual, "predicted": predicted, "count": int(counts[row, column])}
        for row, actual in enumerate(classes)
        for column, predicted in enumerate(classes)
    ]
    # dvc.yaml names the file and its template (.dvc/plots/classification.json, which sums the counts).
    live.log_plot("test_predictions", cells, x="actual", y="predicted")


def figures(target: pd.Series, predictions: Predictions) -> Iterator[tuple[str, Figure]]:
    """The pictures of the test results, as (file name, figure): the confusion matrix, and ROC and
    precision-recall curves with one curve per class (one-vs-rest; a single curve for two classes)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    display = ConfusionMatrixDisplay.from_predictions(target, predictions.labels, colorbar=False)
    display.ax_.set_title("Confusion matrix (test split)")
    yield "confusion_matrix.png", display.figure_

    classes = list(predictions.classes)
    shown = classes if predictions.positive is None else [predictions.positive]
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
