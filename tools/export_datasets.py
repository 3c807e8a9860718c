"""Write scikit-learn's bundled data sets as the raw CSV files the template ships.

The template carries these files so that generating a project needs neither scikit-learn nor a
network. `tests/test_datasets.py` checks that the shipped files are exactly what this script
writes, so they stay the real data sets. Run it after a scikit-learn upgrade:

    .venv/bin/python tools/export_datasets.py
"""

from __future__ import annotations

import io
from pathlib import Path

from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

RAW_DIR = Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}" / "data" / "raw"
LOADERS = {"wine": load_wine, "breast_cancer": load_breast_cancer, "diabetes": load_diabetes}


def export_csv(name: str) -> str:
    """Return the data set `name` as CSV text: one column per feature, then `target`."""
    frame = LOADERS[name](as_frame=True).frame
    frame.columns = [column.replace(" ", "_") for column in frame.columns]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def main() -> None:
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    for name in LOADERS:
        (RAW_DIR / f"{name}.csv").write_text(export_csv(name), encoding="utf-8")
        print(f"wrote {RAW_DIR / f'{name}.csv'}")


if __name__ == "__main__":
    main()
