"""Stage `train` on tiny data: the model file it writes predicts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import TABLE, TARGET

from {{ cookiecutter.package_name }} import model_file, schema
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.stages.prepare import prepare
from {{ cookiecutter.package_name }}.stages.train import train


def test_train_writes_a_model_that_predicts(tiny_raw: Path, tmp_path: Path, params: Params) -> None:
    prepare(tiny_raw, tmp_path, params.prepare)
    train(tmp_path / "train.parquet", tmp_path / "model.skops", params.train)
    test = pd.read_parquet(tmp_path / "test.parquet")
    predictions = model_file.load(tmp_path / "model.skops").predict(schema.conform(test, TABLE))
    assert len(predictions) == len(test)
    if TABLE.task == "classification":  # the data's own labels
        assert set(predictions) <= set(pd.read_parquet(tmp_path / "train.parquet")[TARGET])
