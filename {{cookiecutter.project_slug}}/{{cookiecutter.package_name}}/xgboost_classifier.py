"""XGBoost's classifier for the labels a table has: text, or numbers such as wine qualities 3 to 9.

XGBoost learns only the labels 0 to n-1. This classifier learns the codes of the sorted labels and
predicts the labels themselves, and its `classes_` are the labels (the order of predict_proba's
columns), as for every scikit-learn classifier. model.py uses it for `train.model: xgboost`.

This module imports XGBoost as it loads: only an XGBoost model's training and loading import it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBClassifier


class XGBoostClassifier(XGBClassifier):
    """XGBClassifier that takes and predicts any labels (see the module docstring)."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> XGBoostClassifier:
        labels, codes = np.unique(np.asarray(y), return_inverse=True)
        if kwargs.get("eval_set"):  # scored as it trains (training_curves.py): coded alike
            kwargs["eval_set"] = [(rows, codes_of(labels, known)) for rows, known in kwargs["eval_set"]]
        self.__dict__.pop("labels_", None)  # XGBoost checks the codes against classes_ as it fits
        super().fit(X, codes, **kwargs)
        self.labels_ = labels
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return self.labels_[np.asarray(super().predict(X, **kwargs), dtype=int)]

    @property
    def classes_(self) -> np.ndarray:
        labels = self.__dict__.get("labels_")
        return labels if labels is not None else np.arange(self.n_classes_)


def codes_of(labels: np.ndarray, values: Any) -> np.ndarray:
    """The code of each value among the sorted `labels`; a ValueError names a value not among them."""
    values = np.asarray(values)
    unknown = values[~np.isin(values, labels)]
    if len(unknown):
        raise ValueError(f"labels the classifier was not trained on: {sorted(set(unknown.tolist()))[:5]}")
    return np.searchsorted(labels, values)
