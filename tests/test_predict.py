"""Using the model: batch predictions from the registry or the model file, and the scoring server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from conftest import bake, run
from team_stack import free_port, listening_addresses

pytestmark = pytest.mark.xdist_group("predict")


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classification project whose first model is registered and promoted to production."""
    project = bake(tmp_path_factory.mktemp("predict"), project_name="scored", dataset="breast_cancer")
    run([sys.executable, "-m", "dvc", "repro"], project)
    run(["make", "promote"], project)
    return project


def predict(project: Path, model: str, rows: Path, output: Path, check: bool = True):
    command = ["make", "predict", f"MODEL={model}", f"INPUT={rows}", f"OUTPUT={output}"]
    return run(command, project, check=check)


def test_predict_from_registry_alias_and_from_model_file_agree(promoted: Path, tmp_path: Path) -> None:
    raw = promoted / "data" / "raw" / "breast_cancer.csv"
    predict(promoted, "models:/scored@production", raw, tmp_path / "registry.csv")
    predict(promoted, "models/model.joblib", raw, tmp_path / "file.csv")
    scores = pd.read_csv(tmp_path / "registry.csv")
    assert list(scores.columns) == ["prediction", "probability_0", "probability_1"]
    assert len(scores) == len(pd.read_csv(raw))
    assert scores[["probability_0", "probability_1"]].sum(axis=1).round(6).eq(1).all()
    assert (tmp_path / "registry.csv").read_bytes() == (tmp_path / "file.csv").read_bytes()


def test_predict_names_missing_columns_and_writes_nothing(promoted: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv")
    rows = tmp_path / "rows.csv"
    raw.drop(columns=["mean_radius", "worst_area"]).to_csv(rows, index=False)
    failed = predict(promoted, "models:/scored@production", rows, tmp_path / "out.csv", check=False)
    assert failed.returncode != 0
    assert (
        f"error: {rows} does not fit the model: columns missing: 'mean_radius', 'worst_area'" in failed.stderr
    )
    assert not (tmp_path / "out.csv").exists()
    failed = predict(promoted, "models:/scored@nonexistent", rows, tmp_path / "out.csv", check=False)
    assert failed.returncode != 0
    assert "error: can't load models:/scored@nonexistent: " in failed.stderr
    assert not (tmp_path / "out.csv").exists()
    unnamed = run(["make", "predict"], promoted, check=False)
    assert unnamed.returncode != 0 and "make predict INPUT=new.csv OUTPUT=scores.csv" in unnamed.stderr


def test_serve_names_a_model_the_store_lacks_before_starting(promoted: Path) -> None:
    result = run(
        ["make", "serve", "MODEL=models:/scored@nonexistent", f"SERVE_PORT={free_port()}"],
        promoted,
        check=False,
    )
    assert result.returncode != 0
    assert "error: can't serve models:/scored@nonexistent: " in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_answers_like_batch_predict(promoted: Path, tmp_path: Path) -> None:
    port = free_port()
    rows = pd.read_csv(promoted / "data" / "raw" / "breast_cancer.csv").drop(columns="target").head(7)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predict(promoted, "models:/scored@production", tmp_path / "rows.csv", tmp_path / "batch.csv")
    server = subprocess.Popen(
        ["make", "serve", f"SERVE_PORT={port}"],
        cwd=promoted, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        answer = post_when_up(request, server)
        assert answer["predictions"] == pd.read_csv(tmp_path / "batch.csv")["prediction"].tolist()
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def post_when_up(request: urllib.request.Request, server: subprocess.Popen, timeout: float = 120) -> dict:
    """POST once the server listens; fail with its output if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    server.terminate()
    raise AssertionError(f"the scoring server never answered:\n{server.stdout.read().decode()}")
