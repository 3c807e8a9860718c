"""The user's path through a new project: make setup (and its git hooks), repro, test, lint, promote, compare."""

from __future__ import annotations

import os
import shutil
import sys
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
    # A checkout runs DVC's hook only: ruff checks commits, not checkouts.
    checkout = run(["git", "checkout", "--", "params.yaml"], project, env=hooks_env)
    output = checkout.stdout + checkout.stderr
    assert "dvc checkout" in output and "ruff" not in output, output


def test_make_setup_refuses_a_python_older_than_the_project_needs(tmp_path: Path) -> None:
    """Before creating .venv: a .venv of the wrong Python would leave every target broken."""
    if sys.version_info >= (3, 13):
        pytest.skip("the template offers no Python newer than 3.13 (python_version)")
    newer = f"3.{sys.version_info.minor + 1}"
    project = bake(tmp_path, python_version=newer)
    result = run(["make", "setup", f"SETUP_PYTHON={sys.executable}"], project, check=False)
    assert result.returncode != 0
    assert f"error: this project needs Python {newer} or newer" in result.stderr
    assert f"{sys.executable} is {sys.version.split()[0]}" in result.stderr
    assert not (project / ".venv").exists()


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
