"""Predict new rows with a registered model, or with the DVC-tracked model file.

    python -m <package>.predict --model models:/<name>@production --input new.csv --output scores.csv
    python -m <package>.predict --model models/model.joblib --input new.csv --output scores.csv

The input needs the model's feature columns: those of its MLflow signature, or for a model file
those of data/schema.yaml. Other columns (such as `target`) are ignored. The output keeps the
input's rows in order: a `prediction` column and, for a classifier, one `probability_<class>`
column per class.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from . import tracking
from .errors import PipelineError, run_main
from .files import write_atomic
from .stages.prepare import SCHEMA_FILE, required_features


def load_model(model: str) -> tuple[Any, list[str]]:
    """The fitted model and its feature columns, from a `models:/` URI or a model file."""
    if not model.startswith(("models:/", "runs:/")):
        import joblib

        path = Path(model)
        if not path.is_file():
            raise PipelineError(
                f"{model} is neither a models:/ URI nor a model file: run `dvc pull` or `dvc repro`"
            )
        return joblib.load(path), required_features(tracking.project_root() / SCHEMA_FILE)
    tracking.connect()
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    try:
        signature = get_model_info(model).signature
        loaded = mlflow.sklearn.load_model(model)
    except MlflowException as error:
        raise PipelineError(f"can't load {model}: {error.message.splitlines()[0]}") from None
    return loaded, signature.inputs.input_names()


def features_of(frame: pd.DataFrame, features: list[str], source: str) -> pd.DataFrame:
    """The model's feature columns of `frame`, in the model's order; a PipelineError if any is missing or not numeric."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise PipelineError(f"{source} lacks columns the model requires: {', '.join(missing)}")
    selected = frame[features]
    not_numeric = [name for name in features if not pd.api.types.is_numeric_dtype(selected[name])]
    if not_numeric:
        raise PipelineError(f"{source}: columns {', '.join(not_numeric)} must be numeric")
    return selected


def predict(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Predictions, and class probabilities when the model gives them, one row per input row."""
    result = pd.DataFrame({"prediction": model.predict(features)}, index=features.index)
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(features)
        for column, label in enumerate(model.classes_):
            result[f"probability_{label}"] = probabilities[:, column]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/<name>@<alias>, or a model file")
    parser.add_argument("--input", type=Path, required=True, help="CSV with the feature columns")
    parser.add_argument("--output", type=Path, required=True, help="where to write the predictions (CSV)")
    args = parser.parse_args()
    if not args.input.is_file():
        raise PipelineError(f"{args.input} not found")
    frame = pd.read_csv(args.input)
    model, feature_names = load_model(args.model)
    predictions = predict(model, features_of(frame, feature_names, str(args.input)))
    write_atomic(args.output, lambda temporary: predictions.to_csv(temporary, index=False))
    print(f"predict: {len(predictions)} rows -> {args.output}")


if __name__ == "__main__":
    run_main(main)
