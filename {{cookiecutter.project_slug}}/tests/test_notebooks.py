"""The notebooks: kept without outputs in git, and run top to bottom on a reproduced copy of the
project, so they never fall behind the package they use."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import PROJECT_ROOT, local_store

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_is_kept_without_outputs(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    kept = [number for number, cell in enumerate(cells) if cell.get("outputs") or cell.get("execution_count")]
    assert kept == [], (
        f"{notebook.name}: cells {kept} keep outputs; strip them: pre-commit run nbstripout --all-files"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_runs_top_to_bottom(
    notebook: Path, reproduced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    # The kernel inherits the environment: the copy's store, and the copy's package first.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_store(reproduced))
    monkeypatch.setenv("PYTHONPATH", str(reproduced))
    folder = reproduced / "notebooks"
    executed = nbformat.read(folder / notebook.name, as_version=4)
    # A failing cell raises CellExecutionError, with the cell and its traceback.
    NotebookClient(
        executed, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = [output for cell in executed.cells for output in cell.get("outputs", [])]
    assert any("image/png" in output.get("data", {}) for output in outputs), "no picture shown"
