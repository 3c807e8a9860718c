"""model_file: the model's file is skops's format with the project's trusted types, the same bytes
for the same model, and a file that is not, or that holds other types, is refused before it runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from test_model import MODELS, fitted

from {{ cookiecutter.package_name }} import model_file, schema
from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.model import fit_model


def regression_model(model: str) -> tuple[pd.DataFrame, Pipeline]:
    """Rows with a number (with gaps) and a category, and `model` fitted on them for a number."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"size": rng.normal(size=120), "colour": rng.choice(["red", "blue", None], 120)})
    frame.loc[::7, "size"] = np.nan
    frame["weight"] = rng.normal(size=120)
    columns = {
        "size": schema.Column(role="feature", kind="number", nullable=True),
        "colour": schema.Column(role="feature", kind="category", nullable=True),
        "weight": schema.Column(role="target", kind="number"),
    }
    table = schema.Schema(target="weight", task="regression", columns=columns)
    params = load_params().train.model_copy(update={"model": model, "n_estimators": 10})
    features = schema.conform(frame, table)
    return features, fit_model(table, params, features, frame["weight"])


@pytest.mark.parametrize("model", MODELS)
def test_every_model_of_the_project_loads_back_with_its_trusted_types(model: str, tmp_path: Path) -> None:
    """A classifier with a date column, and a regressor: each predicts the same after save and load."""
    table, frame, classifier = fitted("times", model)
    features = schema.conform(frame.head(30), table)
    model_file.save(classifier, tmp_path / "classifier.skops")
    loaded = model_file.load(tmp_path / "classifier.skops")
    np.testing.assert_array_equal(loaded.predict_proba(features), classifier.predict_proba(features))
    rows, regressor = regression_model(model)
    model_file.save(regressor, tmp_path / "regressor.skops")
    np.testing.assert_array_equal(
        model_file.load(tmp_path / "regressor.skops").predict(rows), regressor.predict(rows)
    )


@pytest.mark.parametrize("model", MODELS)
def test_the_same_model_fitted_twice_gives_the_same_bytes(model: str, tmp_path: Path) -> None:
    """Two fits of one seed are two objects at other addresses: skops alone names their arrays
    differently; the saved files are identical, so DVC's hash is too."""
    import skops.io

    first, second = regression_model(model)[1], regression_model(model)[1]
    assert skops.io.dumps(first) != skops.io.dumps(second)  # what save() has to undo
    model_file.save(first, tmp_path / "first.skops")
    model_file.save(second, tmp_path / "second.skops")
    assert (tmp_path / "first.skops").read_bytes() == (tmp_path / "second.skops").read_bytes()


class WritesAFile:
    """A pickle that, when loaded, creates a file: what a swapped model file could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return open, (str(self.marker), "w")


def test_a_pickle_in_place_of_the_model_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "the pickle ran"
    swapped = tmp_path / "model.skops"
    swapped.write_bytes(pickle.dumps(WritesAFile(marker)))
    with pytest.raises(
        PipelineError, match=r"is not a model file in skops's format .* a pickle is never loaded"
    ):
        model_file.load(swapped)
    assert not marker.exists()


def test_a_model_holding_a_type_the_project_does_not_trust_is_refused(tmp_path: Path) -> None:
    """skops stores a function by name; one the project's Pipelines never hold is named and refused."""
    rows, regressor = regression_model("linear")
    tampered = Pipeline([("call", FunctionTransformer(os.getcwd)), *regressor.steps])
    model_file.save(tampered, tmp_path / "model.skops")
    with pytest.raises(PipelineError, match=r"holds types this project does not trust: (posix|nt)\.getcwd"):
        model_file.load(tmp_path / "model.skops")


def logged(model: Pipeline, folder: Path, trusted: list[str]) -> Path:
    """`model` saved as MLflow logs it (skops), with `trusted` as the list stored beside it."""
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        model, folder, serialization_format="skops", skops_trusted_types=trusted, pip_requirements=[]
    )
    return folder


def test_an_mlflow_model_is_read_with_the_project_types_not_those_stored_beside_it(tmp_path: Path) -> None:
    rows, regressor = regression_model("gradient_boosting")
    ours = logged(regressor, tmp_path / "ours", sorted(model_file.trusted_types()))
    np.testing.assert_array_equal(model_file.load_logged(ours).predict(rows), regressor.predict(rows))
    # Whoever logged it declared `posix.getcwd` trusted: the project does not.
    tampered = Pipeline([("call", FunctionTransformer(os.getcwd)), *regressor.steps])
    theirs = logged(
        tampered, tmp_path / "theirs", [*model_file.trusted_types(), f"{os.getcwd.__module__}.getcwd"]
    )
    with pytest.raises(PipelineError, match=r"holds types this project does not trust: (posix|nt)\.getcwd"):
        model_file.load_logged(theirs)


def test_an_mlflow_model_in_another_format_or_pointing_outside_its_folder_is_refused(tmp_path: Path) -> None:
    import mlflow.sklearn
    import yaml

    rows, regressor = regression_model("linear")
    pickled = tmp_path / "pickled"
    mlflow.sklearn.save_model(regressor, pickled, serialization_format="cloudpickle", pip_requirements=[])
    with pytest.raises(PipelineError, match=r"holds no model in skops's format .*'cloudpickle'"):
        model_file.load_logged(pickled)
    escaping = logged(regressor, tmp_path / "escaping", sorted(model_file.trusted_types()))
    spec = yaml.safe_load((escaping / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["pickled_model"] = "../pickled/model.pkl"
    (escaping / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(
        PipelineError, match=r"names a model file outside its folder: \.\./pickled/model\.pkl"
    ):
        model_file.load_logged(escaping)
