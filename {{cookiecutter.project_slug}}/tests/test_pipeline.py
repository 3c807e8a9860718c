"""The whole pipeline, as `dvc repro` runs it, in a copy of this project."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import schema, tracking

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".venv", "mlflow.db", "mlartifacts", "mlruns", ".pytest_cache", "__pycache__")


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project (with its git and DVC state) logging to a new SQLite store in the copy,
    also when the project is configured for a team tracking server."""
    if not (PROJECT_ROOT / ".dvc").is_dir():
        pytest.skip("not a DVC project yet: take the DVC steps the generation printed (`dvc init` ...)")
    copy = tmp_path / PROJECT_ROOT.name
    shutil.copytree(PROJECT_ROOT, copy, ignore=SKIP, symlinks=True)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{copy / 'mlflow.db'}")
    return copy


def dvc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_repro_registers_a_traceable_model(project_copy: Path) -> None:
    dvc("repro", "--force")
    decision = json.loads((project_copy / "reports" / "registration.json").read_text())
    run_id = decision["mlflow_run_id"]
    assert decision["registered"], decision["reason"]
    tracking.connect()
    assert tracking.tracking_uri() == f"sqlite:///{project_copy / 'mlflow.db'}"
    version = tracking.version_by_alias(decision["model_name"], "staging")
    assert version.run_id == run_id and int(version.version) == decision["model_version"]
    tags = tracking.client().get_run(run_id).data.tags
    raw = project_copy / schema.load(project_copy / schema.SCHEMA_FILE).raw
    assert tags["dvc_data_md5"] == tracking.file_md5(raw)
    if (project_copy / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert tags["git_commit"] == head
    assert "up to date" in dvc("repro")
