"""`make doctor` on a project of its own: each problem named with the fix that works."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import DVC, bake, run


def test_doctor_names_a_damaged_local_store(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="damaged")
    store = project / "mlflow.db"
    with open(store, "r+b") as file:
        file.write(b"\0" * 100)  # the SQLite header is gone
    doctor = run([sys.executable, "-m", "damaged.ops.doctor"], project, check=False)
    assert doctor.returncode == 1
    assert f"problem: MLflow store {store} is damaged" in doctor.stdout


def test_doctor_names_changed_or_deleted_raw_data_and_the_fix_that_works(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="raw-check")
    doctor = [sys.executable, "-m", "raw_check.ops.doctor"]
    raw = project / "data" / "raw" / "wine.csv"
    original = raw.read_bytes()
    raw.write_bytes(original + b"1,2,3\n")
    found = run(doctor, project, check=False)
    assert found.returncode == 1
    fix = "`dvc checkout --force data/raw/wine.csv` restores the tracked version"
    assert (
        f"problem: DVC-tracked data data/raw/wine.csv differs from its .dvc file. Fix: {fix}" in found.stdout
    )
    run([*DVC, "checkout", "--force", "data/raw/wine.csv"], project)
    assert raw.read_bytes() == original
    raw.unlink()
    found = run(doctor, project, check=False)
    assert (
        "problem: DVC-tracked data data/raw/wine.csv is deleted. Fix: run `dvc checkout data/raw/wine.csv`"
        in found.stdout
    )
    run([*DVC, "checkout", "data/raw/wine.csv"], project)
    assert raw.read_bytes() == original
    assert "ok: DVC-tracked data data/raw/wine.csv matches its .dvc file" in run(doctor, project).stdout


def test_doctor_names_a_missing_plots_template(tmp_path: Path) -> None:
    """Without .dvc/plots, `dvc plots show` fails on the template dvc.yaml names; doctor says which
    and how to get it back."""
    project = bake(tmp_path, project_name="no-template")
    doctor = run([sys.executable, "-m", "no_template.ops.doctor"], project, check=False)
    assert "ok: dvc plots templates found: classification" in doctor.stdout, doctor.stdout
    (project / ".dvc" / "plots" / "classification.json").unlink()
    doctor = run([sys.executable, "-m", "no_template.ops.doctor"], project, check=False)
    assert doctor.returncode == 1
    assert (
        "problem: dvc.yaml names plots templates that are not in .dvc/plots: classification" in doctor.stdout
    )
    run(["git", "checkout", "--", ".dvc/plots"], project)  # the fix doctor gives
    assert run([sys.executable, "-m", "no_template.ops.doctor"], project).returncode == 0
