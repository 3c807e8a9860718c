"""Stage `evaluate` on tiny data: the metrics of the task, and the class they score."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import METRICS, RANKING, TABLE, TARGET

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.prepare import prepare
from {{ cookiecutter.package_name }}.stages.train import train


def test_the_positive_class_is_a_param_and_must_be_a_class(
    tiny_raw: Path, tmp_path: Path, params: Params
) -> None:
    """With two classes, roc_auc and the curves score `evaluate.positive_class` (default: the rarer
    class), which must be one of the classes; with more classes, or for regression, it is unused."""
    prepare(tiny_raw, tmp_path, params.prepare)
    train(tmp_path / "train.parquet", tmp_path / "model.skops", params.train)
    paths = {
        "train": tmp_path / "train.parquet",
        "test": tmp_path / "test.parquet",
        "model": tmp_path / "model.skops",
    }
    wrong = params.evaluate.model_copy(update={"positive_class": "no such class"})
    classes = (
        sorted(pd.read_parquet(paths["train"])[TARGET].unique()) if TABLE.task == "classification" else []
    )
    if len(classes) == 2:
        with pytest.raises(PipelineError, match="evaluate.positive_class 'no such class' is not a class"):
            evaluate(paths, tmp_path / "live", wrong)
        scores = [
            evaluate(
                paths, tmp_path / str(label), params.evaluate.model_copy(update={"positive_class": label})
            )
            for label in classes
        ]
        assert scores[0]["roc_auc"] == pytest.approx(scores[1]["roc_auc"])  # either side of one ranking
    else:
        assert set(evaluate(paths, tmp_path / "live", wrong)) == {*METRICS, f"baseline_{RANKING[0]}"}
