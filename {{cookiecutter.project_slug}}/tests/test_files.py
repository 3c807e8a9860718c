"""common.files: an output is written whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.common.files import write_atomic


def test_a_failed_write_leaves_the_previous_output_intact(tmp_path: Path) -> None:
    output = tmp_path / "model.skops"
    output.write_text("previous model")

    def crash(path: Path) -> None:
        path.write_text("half a mod")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(output, crash)
    assert output.read_text() == "previous model"
    assert list(tmp_path.iterdir()) == [output]  # no temporary file left behind


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_an_output_gets_the_mode_a_new_file_would(tmp_path: Path, umask: int, mode: int) -> None:
    """Not the temporary file's private 0600: a teammate on the machine reads the reports."""
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "registration.json", lambda path: path.write_text("{}"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "registration.json").stat().st_mode) == mode


def test_a_private_output_is_the_owners_alone_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o002)
    try:
        write_atomic(tmp_path / ".env", lambda path: path.write_text("SECRET=x\n"), private=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
