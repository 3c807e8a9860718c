"""common.project: the project folder, found the same way wherever a command runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.common.project import process_exists, project_root


@pytest.fixture
def two_projects(tmp_path: Path) -> tuple[Path, Path]:
    """A project, and a copy of it with a subfolder (where `dvc exp run --queue` runs the stages)."""
    for name in ("project", "copy"):
        (tmp_path / name / "data").mkdir(parents=True)
        (tmp_path / name / "dvc.yaml").write_text("stages: {}\n")
    return tmp_path / "project", tmp_path / "copy"


def test_project_root_is_dvc_root_when_dvc_runs_the_stage(
    two_projects: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, copy = two_projects
    monkeypatch.chdir(copy / "data")
    monkeypatch.setenv("DVC_ROOT", str(project))
    assert project_root() == project.resolve()
    monkeypatch.chdir(project.parent)
    monkeypatch.setenv("DVC_ROOT", "project")  # relative: to the working folder
    assert project_root() == project.resolve()


def test_project_root_is_the_nearest_folder_with_dvc_yaml_without_dvc_root(
    two_projects: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, copy = two_projects
    monkeypatch.chdir(copy / "data")
    assert project_root() == copy.resolve()
    monkeypatch.setenv("DVC_ROOT", "")  # set but empty: not a folder
    assert project_root() == copy.resolve()


def reaped_child_pid() -> int:
    """The id of a child process that has exited and been waited for: no process has it (until the
    system gives the id to another, which takes many new processes)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_process_exists_while_it_runs_and_not_once_reaped() -> None:
    """As the liveness checks of RUNNING runs and queued experiments ask it (signal 0 on POSIX)."""
    assert process_exists(os.getpid())
    assert not process_exists(reaped_child_pid())
