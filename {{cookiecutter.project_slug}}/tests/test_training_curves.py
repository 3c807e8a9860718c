"""training_curves: a boosted model's loss on the training and the test split after each iteration,
the same model with or without its curve, and the curve train writes with dvclive."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_pipeline, unused_port
from sklearn.metrics import log_loss, root_mean_squared_error

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.experiments.compare import runs_table
from {{ cookiecutter.package_name }}.model import fit_model
from {{ cookiecutter.package_name }}.stages.prepare import prepare
from {{ cookiecutter.package_name }}.stages.train import train
from {{ cookiecutter.package_name }}.tracking import lineage, store
from {{ cookiecutter.package_name }}.tracking.live import LiveRun
from {{ cookiecutter.package_name }}.training_curves import BOOSTED

ITERATIONS = 12


def seasons() -> tuple[schema.Schema, pd.DataFrame, pd.DataFrame]:
    """A classification table of a number and a category, split in two: the label is the sign of
    the number, flipped for one colour; the test rows hold a class the training rows lack."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"size": rng.normal(size=300), "colour": rng.choice(["red", "blue"], 300)})
    frame["label"] = np.where((frame["size"] > 0) ^ (frame["colour"] == "red"), "yes", "no")
    columns = {
        "size": schema.Column(role="feature", kind="number"),
        "colour": schema.Column(role="feature", kind="category"),
        "label": schema.Column(role="target", kind="category"),
    }
    table = schema.Schema(target="label", task="classification", columns=columns)
    test = frame.tail(60).copy()
    test.loc[test.index[:3], "label"] = "maybe"  # unseen in training: left out of the test loss
    return table, frame.head(240), test


@pytest.mark.parametrize("model", BOOSTED)
def test_a_boosted_classifier_reports_both_losses_after_each_iteration(model: str) -> None:
    table, training, test = seasons()
    params = load_params().train.model_copy(update={"model": model, "n_estimators": ITERATIONS})
    reported = []
    features, target = schema.conform(training, table), training["label"]
    curve = (schema.conform(test, table), test["label"], lambda *point: reported.append(point))
    fitted = fit_model(table, params, features, target, curve)
    assert [trees for trees, _, _ in reported] == list(range(1, ITERATIONS + 1))
    # The last point is the fitted model's own log loss on each split (test: the known classes).
    known = test[test["label"] != "maybe"]
    _, train_loss, test_loss = reported[-1]
    classes = fitted.classes_
    assert train_loss == pytest.approx(
        log_loss(target, fitted.predict_proba(features), labels=classes), rel=1e-4
    )
    on_test = fitted.predict_proba(schema.conform(known, table))
    assert test_loss == pytest.approx(log_loss(known["label"], on_test, labels=classes), rel=1e-4)
    assert reported[-1][1] < reported[0][1]  # it learns
    # The same model as without a curve.
    plain = fit_model(table, params, features, target)
    np.testing.assert_array_equal(plain.predict_proba(features), fitted.predict_proba(features))


@pytest.mark.parametrize("model", BOOSTED)
def test_a_boosted_regressor_reports_its_rmse(model: str) -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"size": rng.normal(size=200)})
    frame["weight"] = 3 * frame["size"] + rng.normal(scale=0.1, size=200)
    columns = {
        "size": schema.Column(role="feature", kind="number"),
        "weight": schema.Column(role="target", kind="number"),
    }
    table = schema.Schema(target="weight", task="regression", columns=columns)
    params = load_params().train.model_copy(update={"model": model, "n_estimators": ITERATIONS})
    reported = []
    training, test = frame.head(150), frame.tail(50)
    curve = (schema.conform(test, table), test["weight"], lambda *point: reported.append(point))
    fitted = fit_model(table, params, schema.conform(training, table), training["weight"], curve)
    assert len(reported) == ITERATIONS and reported[-1][1] < reported[0][1]
    predicted = fitted.predict(schema.conform(test, table))
    assert reported[-1][2] == pytest.approx(root_mean_squared_error(test["weight"], predicted), rel=1e-4)


def test_train_writes_the_curve_dvc_plots_draws_and_an_empty_summary_for_other_models(
    tiny_raw: Path, tmp_path: Path, params: Params
) -> None:
    prepare(tiny_raw, tmp_path, params.prepare)
    splits = (tmp_path / "train.parquet", tmp_path / "model.skops")
    boosted = params.train.model_copy(update={"model": "xgboost", "n_estimators": ITERATIONS})
    train(*splits, boosted, schema.SCHEMA_FILE, tmp_path / "test.parquet", tmp_path / "curve")
    for split in ("train", "test"):
        lines = (tmp_path / "curve" / "plots" / "metrics" / "loss" / f"{split}.tsv").read_text().splitlines()
        assert lines[0] == f"step\t{split}"
        assert [int(line.split("\t")[0]) for line in lines[1:]] == list(range(1, ITERATIONS + 1))
    summary = json.loads((tmp_path / "curve" / "metrics.json").read_text())
    assert summary["step"] == ITERATIONS and set(summary["loss"]) == {"train", "test"}
    forest = params.train.model_copy(update={"model": "random_forest"})
    train(*splits, forest, schema.SCHEMA_FILE, tmp_path / "test.parquet", tmp_path / "no curve")
    assert json.loads((tmp_path / "no curve" / "metrics.json").read_text()) == {}


def test_the_curve_reaches_the_mlflow_run_as_each_loss_history(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    boosted = params.model_copy(
        update={"train": params.train.model_copy(update={"model": "lightgbm", "n_estimators": ITERATIONS})}
    )
    run, _ = run_pipeline(tiny_raw, tmp_path, boosted)
    for split in ("train", "test"):
        written = (
            (tmp_path / "curve" / "plots" / "metrics" / "loss" / f"{split}.tsv").read_text().splitlines()[1:]
        )
        history = store.client().get_metric_history(run["mlflow_run_id"], f"loss/{split}")
        assert sorted((point.step, point.value) for point in history) == [
            (int(step), float(value)) for step, value in (line.split("\t") for line in written)
        ]


def test_a_live_run_shows_the_curve_as_it_trains_and_register_nests_it_under_the_pipeline_run(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    update = {"model": "gradient_boosting", "n_estimators": ITERATIONS, "live_run": True}
    live = params.model_copy(update={"train": params.train.model_copy(update=update)})
    run, _ = run_pipeline(tiny_raw, tmp_path, live)
    model_md5 = lineage.file_md5(tmp_path / "model.skops")
    (training,) = store.client().search_runs(
        [run["mlflow_experiment_id"]], filter_string=f"tags.live_training_of = '{model_md5}'"
    )
    assert training.info.status == "FINISHED" and training.info.run_name == "workspace-training"
    assert training.data.tags["mlflow.parentRunId"] == run["mlflow_run_id"]  # nested in the UI
    written = (tmp_path / "curve" / "plots" / "metrics" / "loss" / "test.tsv").read_text().splitlines()[1:]
    history = store.client().get_metric_history(training.info.run_id, "loss/test")
    assert sorted((point.step, point.value) for point in history) == [
        (int(step), float(value)) for step, value in (line.split("\t") for line in written)
    ]
    assert len(history) == ITERATIONS
    # `make compare` lists the pipeline's run, not the live one (it holds only the curve)
    assert list(runs_table(live.registry.model_name, limit=10)["run"]) == [run["mlflow_run_id"][:8]]


def test_a_live_run_the_server_does_not_answer_costs_only_the_live_view(
    tiny_raw: Path,
    tmp_path: Path,
    params: Params,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{unused_port()}")
    prepare(tiny_raw, tmp_path, params.prepare)
    update = {"model": "lightgbm", "n_estimators": ITERATIONS, "live_run": True}
    splits = (tmp_path / "train.parquet", tmp_path / "model.skops")
    train(
        *splits,
        params.train.model_copy(update=update),
        schema.SCHEMA_FILE,
        tmp_path / "test.parquet",
        tmp_path / "curve",
    )
    assert (tmp_path / "model.skops").exists() and (tmp_path / "curve" / "metrics.json").exists()
    out = capsys.readouterr().out
    assert "train: no live MLflow run (" in out and "the curve reaches MLflow at register" in out, out


def test_a_store_that_fails_while_training_goes_on_ends_the_live_view_not_the_training(
    tmp_path: Path, mlflow_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Points and the closing tag sent to a run the store refuses (here one it does not have, as a
    server restarted on another database would answer): one line, no exception, nothing more sent."""
    store.connect()
    model = tmp_path / "model.skops"
    model.write_bytes(b"a model")
    live = LiveRun("0" * 32)
    live.log(1, {"loss/train": 0.5, "loss/test": 0.6})
    live.log(2, {"loss/train": 0.4, "loss/test": 0.5})
    live.finish(model)
    out = capsys.readouterr().out
    assert out.count("train: the live MLflow run stopped (") == 1, out
    assert live.stopped and "the curve reaches MLflow at register" in out
