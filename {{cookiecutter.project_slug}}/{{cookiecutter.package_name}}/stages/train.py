"""Stage `train`: fit the model `params.yaml` describes and save it as a plain file.

The model is one scikit-learn Pipeline (see model.py): the table's raw feature columns go in. The
file (skops's format, see model_file.py) is DVC's copy of the model, usable without MLflow;
`register` logs the same model to MLflow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from .. import schema
from ..common.errors import run_main
from ..common.failpoints import fail_point
from ..config import TrainParams, load_params
from ..model import fit_model
from ..model_file import save


def train(
    train_path: Path, model_path: Path, params: TrainParams, schema_path: Path = schema.SCHEMA_FILE
) -> None:
    """Fit `train.model` on the training split and write it to `model_path`."""
    table = schema.load(schema_path)
    data = pd.read_parquet(train_path)
    model = fit_model(table, params, schema.conform(data, table), data[table.target])
    save(model, model_path)
    fail_point("train.model_written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="training split (Parquet)")
    parser.add_argument("--schema", type=Path, required=True, help="the table's description (YAML)")
    parser.add_argument("--model", type=Path, required=True, help="where to write the fitted model")
    args = parser.parse_args()
    params = load_params(schema_path=args.schema).train
    train(args.train, args.model, params, args.schema)
    print(f"train: {params.model} -> {args.model}")


if __name__ == "__main__":
    run_main(main)
