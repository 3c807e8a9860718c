"""The model on tables with dates: what it learns from a date, and raw date strings in at predict time."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.date_features import DateParts
from {{ cookiecutter.package_name }}.model import fit_model, unseen_categories
from {{ cookiecutter.package_name }}.serving.predict import predict
from {{ cookiecutter.package_name }}.stages.evaluate import importances

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODELS = ("random_forest", "gradient_boosting", "xgboost", "lightgbm", "linear")
TRAINING_ROWS = 240
# Held-out days of a year the training data does not have, with their season by the rule of
# `dated_table`: April to September is warm.
SEASONS = {
    "2023/01/15": "cold",
    "2023/03/31": "cold",
    "2023/04/01": "warm",
    "2023/06/30": "warm",
    "2023/08/15": "warm",
    "2023/09/30": "warm",
    "2023/10/01": "cold",
    "2023/12/24": "cold",
}
# Held-out times, half of them in summer time (+02:00), with the half of the day of their wall clock
# (13:15+02:00 is 11:15 UTC: read in UTC it would be a morning).
HALVES = {
    "2023-01-10T07:05:00+01:00": "morning",
    "2023-01-10T10:30:00+01:00": "morning",
    "2023-01-10T13:30:00+01:00": "afternoon",
    "2023-01-10T22:40:00+01:00": "afternoon",
    "2023-07-10T00:30:00+02:00": "morning",
    "2023-07-10T10:45:00+02:00": "morning",
    "2023-07-10T13:15:00+02:00": "afternoon",
    "2023-07-10T19:30:00+02:00": "afternoon",
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tables this small fit fastest on one thread (gradient boosting's OpenMP threads would spin
    waiting for each other, for seconds on a busy machine)."""
    with threadpool_limits(limits=1):
        yield


def table_schema(date_column: str, date_format: str, target: str, dates: bool = True) -> schema.Schema:
    """A number, a category, a date column (a feature, or ignored unless `dates`) and the target."""
    columns = {
        "size": schema.Column(role="feature", kind="number"),
        "colour": schema.Column(role="feature", kind="category", nullable=True),
        date_column: (
            schema.Column(role="feature", kind="datetime", nullable=True, format=date_format)
            if dates
            else schema.Column(role="ignored", reason="the control: a model without the dates")
        ),
        target: schema.Column(role="target", kind="category"),
    }
    return schema.Schema(target=target, task="classification", columns=columns)


def noise(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """A number and a category that say nothing about the target."""
    return pd.DataFrame({"size": rng.normal(size=rows), "colour": rng.choice(["red", "green", "blue"], rows)})


def dated_table(dates: bool = True) -> tuple[schema.Schema, pd.DataFrame]:
    """Days of 2021 and 2022 as `%Y/%m/%d` text, and their season, which only the month decides."""
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 730, TRAINING_ROWS), unit="D")
    frame = noise(TRAINING_ROWS, rng).assign(date=days.strftime("%Y/%m/%d"))
    frame["season"] = np.where((days.month >= 4) & (days.month <= 9), "warm", "cold")
    return table_schema("date", "%Y/%m/%d", "season", dates), frame


def timed_table() -> tuple[schema.Schema, pd.DataFrame]:
    """Times of 2021 as ISO 8601 with the offset of Central European (summer) time, and the half of
    the day of their wall clock."""
    rng = np.random.default_rng(1)
    minutes = rng.integers(0, 365 * 24 * 60, TRAINING_ROWS)
    times = pd.Timestamp("2021-01-01") + pd.to_timedelta(minutes, unit="min")
    offsets = np.where((times.month >= 4) & (times.month <= 10), "+02:00", "+01:00")
    frame = noise(TRAINING_ROWS, rng).assign(when=times.strftime("%Y-%m-%dT%H:%M:%S") + offsets)
    frame["half"] = np.where(times.hour < 12, "morning", "afternoon")
    return table_schema("when", "ISO8601", "half"), frame


TABLES = {"dates": dated_table, "no dates": lambda: dated_table(dates=False), "times": timed_table}


@cache
def fitted(table_name: str, model: str) -> tuple[schema.Schema, pd.DataFrame, Pipeline]:
    """The table, and `model` (params.yaml's other settings) fitted on it as train does; fitted once
    for all tests that use it."""
    table, frame = TABLES[table_name]()
    params = load_params().train.model_copy(update={"model": model})
    return table, frame, fit_model(table, params, schema.conform(frame, table), frame[table.target])


def held_out_predictions(table_name: str, model: str, column: str, rows: dict[str, str]) -> list[str]:
    """The predictions for the dates or times of `rows`, with noise in the other columns."""
    table, _, fitted_model = fitted(table_name, model)
    frame = noise(len(rows), np.random.default_rng(2)).assign(**{column: list(rows)})
    return list(fitted_model.predict(schema.conform(frame, table)))


@pytest.mark.parametrize("model", MODELS)
def test_the_month_of_a_date_is_learned(model: str) -> None:
    assert held_out_predictions("dates", model, "date", SEASONS) == list(SEASONS.values())
    names = list(fitted("dates", model)[2].named_steps["columns"].get_feature_names_out())
    assert {"date_year", "date_month", "date_day", "date_weekday", "date_day_of_year"} <= set(names)
    assert "date_hour" not in names  # no times of day in the data
    # The control: without the dates, the same model can't tell the seasons apart.
    assert held_out_predictions("no dates", model, "date", SEASONS) != list(SEASONS.values())


@pytest.mark.parametrize("model", MODELS)
def test_the_hour_of_a_timestamp_is_learned(model: str) -> None:
    assert held_out_predictions("times", model, "when", HALVES) == list(HALVES.values())
    assert "when_hour" in fitted("times", model)[2].named_steps["columns"].get_feature_names_out()


def test_a_column_named_like_a_part_of_a_date_keeps_every_name_apart() -> None:
    table, frame = dated_table()
    table.columns["date_month"] = schema.Column(role="feature", kind="number")
    frame["date_month"] = frame["size"]
    params = load_params().train.model_copy(update={"model": "linear"})
    model = fit_model(table, params, schema.conform(frame, table), frame[table.target])
    names = list(model.named_steps["columns"].get_feature_names_out())
    assert {"number__date_month", "datetime__date_month"} <= set(names)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("model", MODELS)
def test_raw_date_strings_are_predicted_whatever_they_hold(model: str) -> None:
    """A date the format can't read, or an empty cell, is predicted like a missing date; an unseen
    date is no unseen category."""
    table, _, fitted_model = fitted("dates", model)
    rows = pd.DataFrame(
        {
            "size": [0.5, 1.0, -1.0, 0.0],
            "colour": ["red", "purple", "green", None],
            "date": ["2023/07/14", "not a date", "", None],
        }
    )
    features = schema.conform(rows, table)
    predictions = predict(fitted_model, features)
    assert len(predictions) == len(rows)
    assert set(predictions["prediction"]) <= {"cold", "warm"}
    assert predictions.filter(like="probability_").notna().all().all()
    assert unseen_categories(fitted_model, features) == {"colour": 1}


@pytest.mark.parametrize("model", MODELS)
def test_importances_name_the_parts_of_a_date_or_the_date(model: str) -> None:
    """Trees weigh each part of a date (the month decides the season here, not the weekday); the
    others are scored by shuffling the date column itself."""
    table, frame, fitted_model = fitted("dates", model)
    values = importances(fitted_model, schema.conform(frame, table), frame[table.target])
    if model == "random_forest":
        assert set(values.nlargest(2).index) == {"date_month", "date_day_of_year"}
    elif model in ("xgboost", "lightgbm"):  # their gain: one of the two parts that tell the season
        assert values.idxmax() in {"date_month", "date_day_of_year"}
    else:
        assert values.idxmax() == "date"


@pytest.mark.parametrize("model", MODELS)
def test_the_column_handling_with_dates_loads_back_from_skops_as_mlflow_logs_it(model: str) -> None:
    """tracking.runs.log_model trusts the types the model holds, the date parts' class among them (the
    estimators are the same with or without dates: test_register.py logs them)."""
    import skops.io

    table, frame, fitted_model = fitted("times", model)
    handling = fitted_model.named_steps["columns"]
    data = skops.io.dumps(handling)
    trusted = skops.io.get_untrusted_types(data=data)
    assert f"{DateParts.__module__}.DateParts" in trusted
    features = schema.conform(frame.head(20), table)
    loaded = skops.io.loads(data, trusted=trusted)
    np.testing.assert_array_equal(loaded.transform(features), handling.transform(features))
    assert list(loaded.get_feature_names_out()) == list(handling.get_feature_names_out())


def alternating_categories() -> tuple[schema.Schema, pd.DataFrame]:
    """Six colours, each 100 rows; the label alternates along their alphabetical order (the order of
    their codes), so no single threshold on the codes separates the labels."""
    colours = ["amber", "blue", "cyan", "green", "red", "white"]
    frame = pd.DataFrame({"colour": np.repeat(colours, 100), "size": np.tile(np.linspace(0, 1, 100), 6)})
    frame["label"] = np.where(frame["colour"].isin(colours[::2]), "even", "odd")
    columns = {
        "size": schema.Column(role="feature", kind="number"),
        "colour": schema.Column(role="feature", kind="category"),
        "label": schema.Column(role="target", kind="category"),
    }
    return schema.Schema(target="label", task="classification", columns=columns), frame


@pytest.mark.parametrize("model", ["gradient_boosting", "xgboost", "lightgbm", "random_forest"])
def test_boosted_trees_split_a_category_as_a_set_of_values(model: str) -> None:
    """One tree of depth 1: a split on a set of colours gets every row right; random_forest, which
    takes the codes as ordered numbers, can't (the control)."""
    table, frame = alternating_categories()
    params = load_params().train.model_copy(update={"model": model, "n_estimators": 1, "max_depth": 1})
    fitted_model = fit_model(table, params, schema.conform(frame, table), frame["label"])
    right = (fitted_model.predict(schema.conform(frame, table)) == frame["label"]).mean()
    assert right == 1.0 if model != "random_forest" else right < 0.9


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "labels", [("cold", "warm"), (3, 9), (True, False)], ids=["text", "numbers", "booleans"]
)
def test_every_classifier_predicts_the_tables_own_labels(model: str, labels: tuple) -> None:
    """XGBoost itself learns only 0..n-1: the labels a table has come back, with predict_proba's
    columns in the order of classes_."""
    table, frame = dated_table()
    frame["season"] = frame["season"].map(dict(zip(("cold", "warm"), labels, strict=True)))
    fitted_model = fit_model(
        table,
        load_params().train.model_copy(update={"model": model}),
        schema.conform(frame, table),
        frame["season"],
    )
    features = schema.conform(frame, table)
    predicted = fitted_model.predict(features)
    assert set(predicted) <= set(labels)
    assert list(fitted_model.classes_) == sorted(labels)
    np.testing.assert_array_equal(
        fitted_model.classes_[fitted_model.predict_proba(features).argmax(axis=1)], predicted
    )
    assert (predicted == frame["season"]).mean() > 0.9
