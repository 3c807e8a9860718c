"""The BentoML service: the model that `make bento` packed, answering raw rows over HTTP.

    make serve-bento            (bentoml serve on 127.0.0.1:3000; or a built Bento in a container)

POST /predict `{"rows": [{"<column>": value, ...}, ...]}`: the model's feature columns, as its MLflow
signature lists them, each present (null for an empty cell), a date as text the way the table
writes it; other keys, such as the target, are ignored. The answer has one `{"prediction": ...,
"probabilities": {"<class>": p, ...}}` per row (probabilities for a classifier only), the same as
`make predict`. A missing column or a value of the wrong type is a 400 naming the row and column.
/readyz and /livez answer when it is up.

Limits, from the environment the service starts in (`make serve-bento BENTO_MAX_ROWS=...`, or
`docker run -e ...`): BENTO_MAX_ROWS rows per request (default 10000; more: 413) and
BENTO_MAX_CONCURRENCY requests at once (default 32; more: BentoML's 429), each with a JSON error.
"""

from __future__ import annotations

import os
from http import HTTPStatus
from pathlib import Path
from typing import Any

import bentoml
import bentoml.exceptions
from pydantic import BaseModel, ConfigDict, Field, create_model

from .. import model_file, schema
from .bento import MODEL_TAG, STORE_NAME

KINDS = {"number": float, "category": str}
MAX_ROWS = int(os.environ.get("BENTO_MAX_ROWS", "10000"))
MAX_CONCURRENCY = int(os.environ.get("BENTO_MAX_CONCURRENCY", "32"))
# The copy `make bento` packs, which the Bento records as its `model` argument; else the newest.
MODEL = bentoml.models.BentoModel(getattr(bentoml.use_arguments(), "model", MODEL_TAG))


def input_schema() -> schema.Schema:
    """The feature columns of the model, from the signature MLflow logged with it."""
    from mlflow.models import Model

    from .predict import signature_schema

    return signature_schema(Model.load(MODEL.resolve().path_of("mlflow_model")).signature.inputs.inputs)


FEATURES = input_schema()
# One field per feature column, which must be present and may be null. JSON keys are the column
# names (aliases: they need not be Python names); a number in a category column is read as text.
Row = create_model(
    "Row",
    __config__=ConfigDict(extra="ignore", coerce_numbers_to_str=True, allow_inf_nan=False),
    **{
        f"column_{number}": (KINDS[FEATURES.columns[name].kind] | None, Field(alias=name))
        for number, name in enumerate(FEATURES.features())
    },
)


class Prediction(BaseModel):
    prediction: Any
    probabilities: dict[str, float] | None = None  # class -> probability, for a classifier


class TooManyRows(bentoml.exceptions.BentoMLException):
    """A request of more rows than MAX_ROWS: HTTP 413."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


@bentoml.service(name=STORE_NAME, traffic={"timeout": 30, "max_concurrency": MAX_CONCURRENCY})
class ModelService:
    model_ref = MODEL  # `bentoml build` packs this model into the Bento

    def __init__(self) -> None:
        # The scikit-learn Pipeline itself (not MLflow's pyfunc wrapper): predict_proba, classes_;
        # read with the project's trusted types, not those stored beside it.
        self.model = model_file.load_logged(Path(self.model_ref.path_of("mlflow_model")))

    @bentoml.api
    def predict(self, rows: list[Row]) -> list[Prediction]:  # type: ignore[valid-type]
        if len(rows) > MAX_ROWS:
            raise TooManyRows(f"{len(rows)} rows in one request; at most {MAX_ROWS} (BENTO_MAX_ROWS)")
        return predict_rows(self.model, rows)


def predict_rows(model: Any, rows: list[BaseModel]) -> list[Prediction]:
    """The model's answer for each row, as `make predict` gives it."""
    import pandas as pd

    from .predict import predict

    if not rows:
        return []
    frame = pd.DataFrame([row.model_dump(by_alias=True) for row in rows], columns=FEATURES.features())
    answers = predict(model, schema.conform(frame, FEATURES))
    predictions = answers.pop("prediction").tolist()
    if answers.columns.empty:
        return [Prediction(prediction=value) for value in predictions]
    classes = [column.removeprefix("probability_") for column in answers.columns]
    return [
        Prediction(prediction=value, probabilities=dict(zip(classes, row, strict=True)))
        for value, row in zip(predictions, answers.to_numpy().tolist(), strict=True)
    ]
