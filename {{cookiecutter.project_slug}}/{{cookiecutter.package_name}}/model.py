"""The model: one scikit-learn Pipeline from the table's raw columns to a prediction.

Its first step handles the columns as data/schema.yaml describes them, its second is the estimator
that `train.model` names. That one object is the DVC model file, the MLflow model and what predict
and serve load, so raw rows go in: text categories, empty cells, values never seen in training.

- Trees (`random_forest`, `gradient_boosting`): numbers as they are, empty cells included (both
  split on missing values natively); each category column as integer codes, with categories beyond
  `train.max_categories` sharing one code and unseen or empty values as missing.
  `gradient_boosting` is scikit-learn's HistGradientBoosting: it treats those codes as categories,
  not as ordered numbers, and trains on a million rows in seconds.
- `linear` (logistic or ridge regression): numbers with empty cells filled by the median and
  scaled; categories one-hot encoded, rare ones (beyond `train.max_categories`) grouped, unseen
  ones all zeros.
- Dates (kind `datetime`), for every model: the raw text parsed with the column's `format`, then
  its parts as numbers (`<column>_year`, `_month`, `_day`, `_weekday`, `_day_of_year`, and `_hour`
  when the training data has times; see date_features.py). `linear` also gets the sine and cosine
  of month, weekday and hour, and fills and scales the parts like numbers.

scikit-learn is imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from .config import TrainParams
    from .schema import Schema


def column_handling(schema: Schema, params: TrainParams) -> ColumnTransformer:
    """The Pipeline's first step: the schema's feature columns as the estimator takes them."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if params.model == "linear":
        numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        categories = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=params.max_categories)
    else:
        numbers = "passthrough"
        categories = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            max_categories=params.max_categories,
        )
    columns = [("number", numbers, schema.features("number")), ("category", categories, schema.categorical)]
    clash = False
    dates = schema.features("datetime")
    if dates:  # last, so that gradient_boosting's category indices stay those of estimator()
        from .date_features import DateParts, part_names

        parts = DateParts([schema.columns[name].format for name in dates], cyclic=params.model == "linear")
        if params.model == "linear":
            parts = make_pipeline(parts, SimpleImputer(strategy="median"), StandardScaler())
        columns.append(("datetime", parts, dates))
        clash = any(f"{date}_{part}" in schema.columns for date in dates for part in part_names(True, True))
    # Output columns keep the table's names (a date's parts: `<column>_<part>`), unless a column is
    # named like a date's part: then every name gets its step's prefix (`number__`, `datetime__`).
    return ColumnTransformer(columns, verbose_feature_names_out=clash)


def estimator(schema: Schema, params: TrainParams) -> BaseEstimator:
    """The estimator `train.model` names, for the schema's task."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge

    classify = schema.task == "classification"
    trees = {
        "max_depth": params.max_depth,
        "min_samples_leaf": params.min_samples_leaf,
        "random_state": params.seed,
    }
    if params.model == "random_forest":
        forest = RandomForestClassifier if classify else RandomForestRegressor
        return forest(n_estimators=params.n_estimators, **trees)
    if params.model == "gradient_boosting":
        boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        # The category columns come after the numbers, and before any date parts (see column_handling).
        numbers = len(schema.features("number"))
        categorical = list(range(numbers, numbers + len(schema.categorical))) or None
        return boosting(max_iter=params.n_estimators, categorical_features=categorical, **trees)
    if classify:
        return LogisticRegression(C=1 / params.regularization, max_iter=1000)
    return Ridge(alpha=params.regularization)


def build_model(schema: Schema, params: TrainParams) -> Pipeline:
    """The unfitted Pipeline: column handling, then the estimator."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("columns", column_handling(schema, params)), ("model", estimator(schema, params))])


def unseen_categories(model: Pipeline, features: pd.DataFrame) -> dict[str, int]:
    """Column -> how many rows hold a category the fitted model never saw (empty cells aside).
    Only category and boolean columns count: a date the model never saw is no surprise."""
    handling = model.named_steps["columns"]
    encoder = handling.named_transformers_.get("category")
    if encoder is None or not hasattr(encoder, "categories_"):
        return {}
    names = next(columns for name, _, columns in handling.transformers_ if name == "category")
    counts = {}
    for name, known in zip(names, encoder.categories_, strict=True):
        values = features[name]
        unseen = int((values.notna() & ~values.isin(list(known))).sum())
        if unseen:
            counts[name] = unseen
    return counts
