"""The git files every clone relies on, whatever the platform: .gitattributes keeps text in LF even
where git converts line endings (Windows' core.autocrlf), and DVC's git hooks run the `dvc` of .venv/
on either venv layout (bin/ or Windows' Scripts/)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# An identity for the throwaway repositories' commits (the machine's git may have none).
IDENTITY = ("-c", "user.name=Test", "-c", "user.email=test@example.invalid")
TEXT_FILES = ("Makefile", "params.yaml", "dvc.yaml")
BINARY_FILES = ("data.parquet", "book.xlsx", "store.db")  # names only: check-attr reads the patterns


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its output; a failure fails the test with git's message."""
    result = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def clone_with_autocrlf(tmp_path: Path, with_attributes: bool) -> Path:
    """A repository of the project's text files (and its .gitattributes, when asked), committed, then
    cloned as Windows git does by default (core.autocrlf=true); the clone's folder."""
    origin = tmp_path / f"origin-{with_attributes}"
    origin.mkdir()
    names = [*TEXT_FILES, ".gitattributes"] if with_attributes else list(TEXT_FILES)
    for name in names:
        shutil.copyfile(PROJECT_ROOT / name, origin / name)
    git(origin, "init", "--quiet", "--initial-branch=main")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "-m", "files")
    clone = tmp_path / f"clone-{with_attributes}"
    git(tmp_path, "clone", "--quiet", "-c", "core.autocrlf=true", str(origin), str(clone))
    return clone


def test_a_clone_with_autocrlf_keeps_lf_line_endings(tmp_path: Path) -> None:
    """Make, DVC and the shell under WSL2 read what a Windows clone checks out: LF, not CRLF."""
    clone = clone_with_autocrlf(tmp_path, with_attributes=True)
    assert [name for name in TEXT_FILES if b"\r\n" in (clone / name).read_bytes()] == []
    # The control: without .gitattributes the same git converts them, so the check above has teeth.
    bare = clone_with_autocrlf(tmp_path, with_attributes=False)
    assert all(b"\r\n" in (bare / name).read_bytes() for name in TEXT_FILES)


def test_tables_and_stores_are_binary_to_git(tmp_path: Path) -> None:
    """Committed data or stores are never converted, whatever their bytes look like."""
    checked = git(PROJECT_ROOT, "check-attr", "text", "--", *BINARY_FILES)
    assert checked.splitlines() == [f"{name}: text: unset" for name in BINARY_FILES]


def dvc_hooks() -> dict[str, tuple[str, str]]:
    """Each DVC git hook of .pre-commit-config.yaml: its id, its command line and its git hook."""
    config = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    return {hook["id"]: (hook["entry"], hook["stages"][0]) for hook in hooks if hook["id"].startswith("dvc-")}


@pytest.mark.skipif(shutil.which("sh") is None, reason="the hooks run through sh")
@pytest.mark.parametrize("layout", ["bin", "Scripts"])
def test_dvc_hooks_run_the_dvc_of_the_venv_on_either_layout(tmp_path: Path, layout: str) -> None:
    """A stand-in `dvc` in .venv/<layout> is the one each hook runs, before any `dvc` on PATH."""
    hooks = dvc_hooks()
    assert {"dvc-status", "dvc-checkout"} <= hooks.keys()
    venv_dvc = tmp_path / ".venv" / layout / "dvc"
    venv_dvc.parent.mkdir(parents=True)
    venv_dvc.write_text('#!/bin/sh\necho "$*" > called\n')
    venv_dvc.chmod(0o755)
    for hook_id, (entry, git_hook) in hooks.items():
        (tmp_path / "called").unlink(missing_ok=True)
        result = subprocess.run(shlex.split(entry), cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{hook_id}: {result.stderr}"
        assert (tmp_path / "called").read_text() == f"git-hook {git_hook}\n", hook_id
