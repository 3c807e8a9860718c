"""The model: one scikit-learn Pipeline from the table's raw columns to a prediction.

Its first step handles the columns as data/schema.yaml describes them, its second is the estimator
that `train.model` names. That one object is the DVC model file, the MLflow model and what predict
and serve load, so raw rows go in: text categories, empty cells, values never seen in training.

- Trees (`random_forest` and the boosted ones): numbers as they are, empty cells included (each
  splits on missing values natively); each category column as integer codes, with categories
  beyond `train.max_categories` sharing one code and unseen or empty values as missing.
- Boosting: `gradient_boosting` is scikit-learn's HistGradientBoosting, `xgboost` XGBoost and
  `lightgbm` LightGBM. Each is told which inputs are category codes and splits them as
  categories, not as ordered numbers; each trains on a million rows in seconds.
- `linear` (logistic or ridge regression): numbers with empty cells filled by the median and
  scaled; categories one-hot encoded, rare ones (beyond `train.max_categories`) grouped, unseen
  ones all zeros.
- Dates (kind `datetime`), for every model: the raw text parsed with the column's `format`, then
  its parts as numbers (`<column>_year`, `_month`, `_day`, `_weekday`, `_day_of_year`, and `_hour`
  when the training data has times; see date_features.py). `linear` also gets the sine and cosine
  of month, weekday and hour, and fills and scales the parts like numbers.

scikit-learn, XGBoost and LightGBM are imported inside the functions, so reading params stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .common.errors import PipelineError, first_line
from .training_curves import BOOSTED, fit_reporting

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from .config import TrainParams
    from .schema import Schema
    from .training_curves import Report


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
    if dates:  # last, so that the category codes' positions are those of category_positions()
        from .date_features import DateParts, part_names

        parts = DateParts([schema.columns[name].format for name in dates], cyclic=params.model == "linear")
        if params.model == "linear":
            parts = make_pipeline(parts, SimpleImputer(strategy="median"), StandardScaler())
        columns.append(("datetime", parts, dates))
        clash = any(f"{date}_{part}" in schema.columns for date in dates for part in part_names(True, True))
    # Output columns keep the table's names (a date's parts: `<column>_<part>`), unless a column is
    # named like a date's part: then every name gets its step's prefix (`number__`, `datetime__`).
    return ColumnTransformer(columns, verbose_feature_names_out=clash)


def category_positions(schema: Schema) -> list[int]:
    """Where column_handling puts the category codes among the estimator's inputs: after the numbers."""
    numbers = len(schema.features("number"))
    return list(range(numbers, numbers + len(schema.categorical)))


def estimator(schema: Schema, params: TrainParams, inputs: int) -> BaseEstimator:
    """The estimator `train.model` names, for the schema's task, taking `inputs` columns (XGBoost
    is told the kind of each)."""
    classify = schema.task == "classification"
    if params.model == "xgboost":
        return xgboost_model(classify, params, category_positions(schema), inputs)
    if params.model == "lightgbm":
        return lightgbm_model(classify, params, category_positions(schema))

    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge

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
        categorical = category_positions(schema) or None
        return boosting(max_iter=params.n_estimators, categorical_features=categorical, **trees)
    if classify:
        return LogisticRegression(C=1 / params.regularization, max_iter=1000)
    return Ridge(alpha=params.regularization)


def xgboost_model(classify: bool, params: TrainParams, categories: list[int], inputs: int) -> BaseEstimator:
    """XGBoost (histogram trees), told which of its `inputs` columns are category codes."""
    with library_loading("xgboost"):
        import xgboost  # noqa: F401
    kinds = ["c" if position in categories else "q" for position in range(inputs)]
    options = {
        "n_estimators": params.n_estimators,
        "max_depth": params.max_depth,  # None: XGBoost's default, 6
        "min_child_weight": params.min_samples_leaf,
        "random_state": params.seed,
        "tree_method": "hist",
        "enable_categorical": True,
        "feature_types": kinds,
    }
    if classify:
        from .xgboost_classifier import XGBoostClassifier

        return XGBoostClassifier(**options)
    from xgboost import XGBRegressor

    return XGBRegressor(**options)


def lightgbm_model(classify: bool, params: TrainParams, categories: list[int]) -> BaseEstimator:
    """LightGBM, told which input columns are category codes, deterministic with the seed."""
    with library_loading("lightgbm"):
        from lightgbm import LGBMClassifier, LGBMRegressor

    options: dict[str, object] = {
        "n_estimators": params.n_estimators,
        "max_depth": params.max_depth or -1,  # -1: no limit
        "min_child_samples": params.min_samples_leaf,
        "random_state": params.seed,
        "deterministic": True,
        "force_row_wise": True,  # with `deterministic`: the same trees on every run
        "verbose": -1,
        "importance_type": "gain",  # as XGBoost's: what each feature's splits gained, not their count
    }
    if not classify:
        options["metric"] = "rmse"  # the regression loss its training curve shows (default: squared)
    if categories:
        # LightGBM's name for its `categorical_feature` setting among the model's params (that one
        # is an argument of fit, which a Pipeline step is not given).
        options["categorical_column"] = categories
    return (LGBMClassifier if classify else LGBMRegressor)(**options)


@contextmanager
def library_loading(name: str) -> Iterator[None]:
    """Around the import of XGBoost or LightGBM: say in one line why it can't load. Both need
    OpenMP, which macOS lacks until `brew install libomp`."""
    try:
        yield
    except (ImportError, OSError, ValueError) as error:  # XGBoostError is a ValueError
        raise PipelineError(
            f"train.model: {name} can't be loaded ({first_line(error)}); run `make setup`, and on macOS "
            "`brew install libomp` first"
        ) from error


def fit_model(
    schema: Schema,
    params: TrainParams,
    features: pd.DataFrame,
    target: pd.Series,
    curve: tuple[pd.DataFrame, pd.Series, Report] | None = None,
) -> Pipeline:
    """The Pipeline fitted on `features` (as schema.conform gives them) and `target`: the column
    step first, as Pipeline.fit does, so that the estimator can be told how many inputs it gets
    (a date has an hour part only when the training dates have times). With `curve` (the test
    split's features and target, and a Report), a boosted model reports its losses after each
    iteration (see training_curves.py)."""
    from sklearn.pipeline import Pipeline

    columns = column_handling(schema, params)
    inputs = columns.fit_transform(features, target)
    model = estimator(schema, params, inputs.shape[1])
    if curve is not None and params.model in BOOSTED:
        test_features, test_target, report = curve
        test = (columns.transform(test_features), test_target)
        fit_reporting(model, params.model, inputs, target, test, report)
    else:
        model.fit(inputs, target)
    return Pipeline([("columns", columns), ("model", model)])


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
