"""The whole pipeline, as `dvc repro` runs it, in a copy of this project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import local_store

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.tracking import lineage, registry, store


def dvc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_repro_registers_a_traceable_model(reproduced: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(reproduced)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_store(reproduced))
    decision = json.loads((reproduced / "reports" / "registration.json").read_text())
    run_id = decision["mlflow_run_id"]
    assert decision["registered"], decision["reason"]
    store.connect()
    assert store.tracking_uri() == local_store(reproduced)
    version = registry.version_by_alias(decision["model_name"], "staging")
    assert version.run_id == run_id and int(version.version) == decision["model_version"]
    tags = store.client().get_run(run_id).data.tags
    raw = reproduced / schema.load(reproduced / schema.SCHEMA_FILE).raw
    assert tags["dvc_data_md5"] == lineage.file_md5(raw)
    if (reproduced / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        assert tags["git_commit"] == head
    assert "up to date" in dvc("repro")
