"""common.files: an output is written whole or not at all."""

from __future__ import annotations

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
