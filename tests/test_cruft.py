"""Template updates: a project created with cruft follows a newer template commit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, run

pytestmark = pytest.mark.xdist_group("cruft")
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "demo", "__pycache__", ".pytest_cache", ".ruff_cache", "mlflow.db"
)
COMMIT = ["git", "-c", "user.name=Template", "-c", "user.email=template@example.invalid", "commit", "-q"]


def cruft(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "cruft", *args], project, check=check)


def test_cruft_check_and_update_follow_a_newer_template_commit(tmp_path: Path) -> None:
    template = tmp_path / "template"  # the template as a git repository of its own
    shutil.copytree(TEMPLATE, template, ignore=IGNORED)
    run(["git", "init", "-q", "-b", "main"], template)
    run(["git", "add", "--all"], template)
    run([*COMMIT, "-m", "template v1"], template)

    run(
        [
            sys.executable,
            "-m",
            "cruft",
            "create",
            "--no-input",
            str(template),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        tmp_path,
    )
    project = tmp_path / "out" / "wine-quality"
    assert (project / ".cruft.json").exists()
    run(["git", "add", ".cruft.json"], project)
    run([*COMMIT, "-m", "Track the template with cruft"], project)
    assert cruft(project, "check").returncode == 0

    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA line the template added later.\n")
    run([*COMMIT, "-am", "template v2"], template)
    assert cruft(project, "check", check=False).returncode != 0

    cruft(project, "update", "--skip-apply-ask")
    assert (project / "README.md").read_text().endswith("A line the template added later.\n")
    changed = run(["git", "status", "--porcelain"], project).stdout.split("\n")
    assert sorted(line[3:] for line in changed if line) == [".cruft.json", "README.md"]
    assert cruft(project, "check").returncode == 0
