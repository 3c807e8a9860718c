"""Shared fixtures: the project folder, tiny data, and an MLflow store of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.table import TableFormat, read_table

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TABLE = schema.load(PROJECT_ROOT / schema.SCHEMA_FILE)  # the project's table, as data/schema.yaml has it
TARGET = TABLE.target
RAW_DATA = PROJECT_ROOT / TABLE.raw
COPY_SKIPS = shutil.ignore_patterns(
    ".venv", "mlflow.db", "mlartifacts", "mlruns", ".pytest_cache", "__pycache__"
)


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
    frame = read_table(RAW_DATA, TableFormat.from_dict(TABLE.format), TABLE.missing_texts())
    frame = frame[frame[TARGET].notna()]  # rows without a target are prepare's to leave out
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


def local_store(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project (with its git and DVC state) after `dvc repro --force`, logged to a new
    SQLite store in the copy, also when the project is configured for a team tracking server."""
    if not (PROJECT_ROOT / ".dvc").is_dir():
        pytest.skip("not a DVC project yet: take the DVC steps the generation printed (`dvc init` ...)")
    copy = tmp_path_factory.mktemp("project") / PROJECT_ROOT.name
    shutil.copytree(PROJECT_ROOT, copy, ignore=COPY_SKIPS, symlinks=True)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": local_store(copy),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    env.pop("DVC_ROOT", None)
    repro = [sys.executable, "-m", "dvc", "repro", "--force"]
    result = subprocess.run(repro, cwd=copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy
