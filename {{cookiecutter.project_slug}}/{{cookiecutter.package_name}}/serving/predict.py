"""Predict new rows with a registered model, or with the DVC-tracked model file.

    python -m <package>.serving.predict --model models:/<name>@production --input new.csv --output scores.csv
    python -m <package>.serving.predict --model models/model.skops --input new.csv --output scores.csv

The input (CSV or Parquet) holds raw rows as the table has them: text categories, empty cells. It
needs the model's feature columns (those of its MLflow signature, or for a model file those of
data/schema.yaml); other columns, such as the target or an identifier, are ignored. A missing
column or a value of the wrong type is named with its rows; a category the model never saw is
still predicted, and counted in one warning. The output keeps the input's rows in order: a
`prediction` column and, for a classifier, one `probability_<class>` column per class.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import model_file, schema
from ..common.errors import PipelineError, run_main
from ..common.files import write_atomic
from ..common.project import project_root
from ..model import unseen_categories
from ..tables.table import read_table
from ..tracking import store

if TYPE_CHECKING:
    from mlflow.types.schema import ColSpec


def load_model(model: str) -> tuple[Any, schema.Schema]:
    """The fitted model and the description of its feature columns, from a `models:/` URI (its
    signature) or a model file (data/schema.yaml)."""
    if not model.startswith(("models:/", "runs:/")):
        path = Path(model)
        if not path.is_file():
            raise PipelineError(
                f"{model} is neither a models:/ URI nor a model file: run `dvc pull` or `dvc repro`"
            )
        return model_file.load(path), schema.load(project_root() / schema.SCHEMA_FILE)
    store.connect()
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    try:
        inputs = get_model_info(model).signature.inputs.inputs
        folder = Path(download_artifacts(artifact_uri=model))
    except MlflowException as error:
        raise PipelineError(f"can't load {model}: {error.message.splitlines()[0]}") from None
    # Read with this project's trusted types, not those the run that logged it wrote beside it.
    return model_file.load_logged(folder), signature_schema(inputs)


def signature_schema(inputs: list[ColSpec]) -> schema.Schema:
    """The feature columns a logged model takes, as its MLflow signature lists them (see
    runs.signature): doubles are numbers, strings categories. A date column is a string too:
    read back as a category it is conformed to the same text as from data/schema.yaml, and the
    model parses it; unseen-category counts look only at the model's category columns."""
    columns = {
        spec.name: schema.Column(
            role="feature",
            kind="number" if spec.type.name == "double" else "category",
            nullable=not spec.required,
        )
        for spec in inputs
    }
    return schema.Schema(target="", task="", columns=columns)


def features_of(frame: pd.DataFrame, table: schema.Schema, source: str) -> pd.DataFrame:
    """The model's feature columns of `frame` as it takes them; a PipelineError listing every
    missing column and every value of the wrong type."""
    found = schema.problems(frame, table, with_target=False)
    if found:
        raise PipelineError(f"{source} does not fit the model: {'; '.join(found)}")
    return schema.conform(frame, table)


def predict(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Predictions, and class probabilities when the model gives them, one row per input row."""
    result = pd.DataFrame({"prediction": model.predict(features)}, index=features.index)
    if hasattr(model, "predict_proba"):
        # As doubles: XGBoost's are single precision, which a CSV would write shorter than the
        # same number in the service's JSON.
        probabilities = model.predict_proba(features).astype("float64")
        for column, label in enumerate(model.classes_):
            result[f"probability_{label}"] = probabilities[:, column]
    return result


def warn_unseen(model: Any, features: pd.DataFrame) -> None:
    """One warning line counting the rows with categories the model never saw, if any."""
    unseen = unseen_categories(model, features)
    if unseen:
        counts = ", ".join(f"{name!r}: {count}" for name, count in unseen.items())
        print(
            f"predict: warning: categories the model never saw ({counts} rows); predicted all the same",
            file=sys.stderr,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/<name>@<alias>, or a model file")
    parser.add_argument("--input", type=Path, required=True, help="rows to score (CSV or Parquet)")
    parser.add_argument("--output", type=Path, required=True, help="where to write the predictions (CSV)")
    args = parser.parse_args()
    frame = read_table(args.input)
    model, table = load_model(args.model)
    features = features_of(frame, table, str(args.input))
    warn_unseen(model, features)
    predictions = predict(model, features)
    write_atomic(args.output, lambda temporary: predictions.to_csv(temporary, index=False))
    print(f"predict: {len(predictions)} rows -> {args.output}")


if __name__ == "__main__":
    run_main(main)
