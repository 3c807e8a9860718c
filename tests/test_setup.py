"""The user's path through a new project: make setup, repro, test, lint, promote, compare."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import bake, run

pytestmark = pytest.mark.xdist_group("setup")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_work_in_a_fresh_project(tmp_path: Path) -> None:
    project = bake(tmp_path)
    # Only the system's tools on PATH: `make setup` must build the project's own environment.
    env = {
        **os.environ,
        "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p),
    }

    def make(target: str) -> str:
        result = run(["make", target], project, env=env)
        return result.stdout

    make("setup")
    assert (project / ".venv" / "bin" / "dvc").exists()
    assert "register: models:/wine-quality@staging -> version 1" in make("repro")
    assert " passed" in make("test")
    make("lint")
    assert "models:/wine-quality@production -> version 1" in make("promote")
    assert "1 (production, staging)" in make("compare")
