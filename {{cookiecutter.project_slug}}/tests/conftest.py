"""Shared fixtures: the project folder, tiny data, and an MLflow store of the test's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.task import TARGET

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DATA = next((PROJECT_ROOT / "data" / "raw").glob("*.csv"))


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
    """A small copy of the raw data: up to 80 rows, in the original's format."""
    frame = pd.read_csv(RAW_DATA)
    tiny = frame.sample(n=min(80, len(frame)), random_state=0).sort_index()
    path = tmp_path / "raw.csv"
    tiny.to_csv(path, index=False)
    assert TARGET in tiny.columns
    return path


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MLflow at a fresh SQLite store in the test's temporary folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
