"""The user's path through a new project: make setup (and its git hooks), repro, test, lint, promote, compare."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
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
    for hook in ("pre-commit", "post-checkout"):  # installed by make setup
        assert "pre-commit" in (project / ".git" / "hooks" / hook).read_text()
    hooks_env = {**env, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    checked = run([".venv/bin/pre-commit", "run", "--all-files"], project, env=hooks_env).stdout
    assert "ruff check" in checked and "Passed" in checked and "Failed" not in checked
    assert "register: models:/wine-quality@staging -> version 1" in make("repro")
    assert " passed" in make("test")
    make("lint")
    assert "models:/wine-quality@production -> version 1" in make("promote")
    assert "1 (production, staging)" in make("compare")


def test_pre_commit_pins_the_ruff_of_the_lock(tmp_path: Path) -> None:
    project = bake(tmp_path)
    lock = dict(
        line.split("==") for line in (project / "requirements.lock").read_text().splitlines() if "==" in line
    )
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    ruff_hooks = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"].startswith("ruff")]
    assert len(ruff_hooks) == 2
    assert all(hook["additional_dependencies"] == [f"ruff=={lock['ruff']}"] for hook in ruff_hooks)
    assert "pre-push" not in config["default_install_hook_types"]  # no remote: nothing to push to
