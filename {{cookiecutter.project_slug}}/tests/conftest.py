"""Shared fixtures: the project folder, tiny data, and an MLflow store of the test's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.table import read_table

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TABLE = schema.load(PROJECT_ROOT / schema.SCHEMA_FILE)  # the project's table, as data/schema.yaml has it
TARGET = TABLE.target
RAW_DATA = PROJECT_ROOT / TABLE.raw


@pytest.fixture(autouse=True)
def _project_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the project root, with this interpreter's tools (dvc, python) first on PATH."""
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.delenv("DVC_ROOT", raising=False)


@pytest.fixture
def params() -> Params:
    return load_params()


@pytest.fixture
def tiny_raw(tmp_path: Path) -> Path:
    """A small copy of the raw data as CSV: up to 80 rows (at least 4 of each class)."""
    frame = read_table(RAW_DATA)
    if TABLE.task == "classification":
        tiny = frame.groupby(TARGET).head(4)
        rest = frame.drop(index=tiny.index)
        tiny = pd.concat([tiny, rest.sample(n=min(80 - len(tiny), len(rest)), random_state=0)]).sort_index()
    else:
        tiny = frame.sample(n=min(80, len(frame)), random_state=0).sort_index()
    path = tmp_path / "raw.csv"
    tiny.to_csv(path, index=False)
    return path


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MLflow at a fresh SQLite store in the test's temporary folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
