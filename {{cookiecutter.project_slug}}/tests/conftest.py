"""Shared fixtures: the project folder, tiny data, and an MLflow store of the test's own; the
pipeline's stages run on tiny data, and a race between parallel runs staged in a SQLite store."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema, tasks
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.stages.evaluate import evaluate
from {{ cookiecutter.package_name }}.stages.prepare import prepare
from {{ cookiecutter.package_name }}.stages.register import record
from {{ cookiecutter.package_name }}.stages.train import train
from {{ cookiecutter.package_name }}.tables.table import TableFormat, read_table
from {{ cookiecutter.package_name }}.tracking import lineage, store

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TABLE = schema.load(PROJECT_ROOT / schema.SCHEMA_FILE)  # the project's table, as data/schema.yaml has it
TARGET = TABLE.target
RAW_DATA = PROJECT_ROOT / TABLE.raw
TASK = tasks.load(TABLE.task)  # the task's module: its METRICS and RANKING
METRICS, RANKING = TASK.METRICS, TASK.RANKING
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


def unused_port() -> int:
    """A port on 127.0.0.1 nothing listens on (the system's pick, released again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_store(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project (with its git and DVC state) after `dvc repro`, whose registration is
    logged to a new SQLite store in the copy, also when the project is configured for a team
    tracking server. Outputs already reproduced (make repro) come along: only register runs again."""
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

    def repro(*args: str) -> str:
        command = [sys.executable, "-m", "dvc", "repro", *args]
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    if "Running stage 'register'" not in repro():  # the outputs were reproduced: register again
        repro("--force", "--single-item", "register")
    return copy


def run_pipeline(raw: Path, out: Path, params: Params) -> tuple[dict, dict]:
    """prepare -> train -> evaluate -> the MLflow run of `register` on `raw`; return (run ids, metrics)."""
    prepare(raw, out / "prepared", params.prepare)
    prepared = out / "prepared"
    train(
        prepared / "train.parquet",
        out / "model.skops",
        params.train,
        test_path=prepared / "test.parquet",
        curve_dir=out / "curve",
    )
    paths = {"train": out / "prepared" / "train.parquet", "test": out / "prepared" / "test.parquet"}
    metrics = evaluate(paths | {"model": out / "model.skops"}, out / "live", params.evaluate)
    return record_run(raw, out, params, metrics), metrics


def record_run(raw: Path, out: Path, params: Params, metrics: dict) -> dict:
    """`register`'s MLflow run for what run_pipeline wrote to `out`."""
    paths = {
        "raw": raw,
        "schema": schema.SCHEMA_FILE,
        "test": out / "prepared" / "test.parquet",
        "unlabeled": out / "prepared" / "unlabeled.parquet",
        "model": out / "model.skops",
        "images": out / "live" / "plots" / "images",
        "curve": out / "curve",
        "environment": PROJECT_ROOT / "uv.lock",  # stands in for the pins that `dvc repro` derives from it
    }
    return record(store.connect(), params, paths, lineage.file_md5(raw), metrics, TASK)


@contextmanager
def another_run_inserts_first(database: str, table: str, row: dict) -> Iterator[list[str]]:
    """Stage a race between parallel runs: just before MLflow's first insert into `table`, another
    connection inserts `row` there, as the run that wins would. Yields the statements raced."""
    from sqlalchemy import Engine, event

    raced: list[str] = []

    def insert_first(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith(f"INSERT INTO {table} ") and not raced:
            raced.append(statement)
            with closing(sqlite3.connect(database)) as other, other:
                columns = ", ".join(row)
                other.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )

    event.listen(Engine, "before_cursor_execute", insert_first)
    try:
        yield raced
    finally:
        event.remove(Engine, "before_cursor_execute", insert_first)
    assert raced, f"MLflow never inserted into {table}: the race was not staged"
