"""Write scikit-learn's bundled data sets as the raw CSV files the template ships.

The template carries these files so that generating a project needs neither scikit-learn nor a
network. `tests/test_datasets.py` checks that the shipped files are exactly what this script
writes, so they stay the real data sets. Run it after a scikit-learn upgrade:

    .venv/bin/python tools/export_datasets.py
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_schemas import RAW_DIR, template_package  # noqa: E402

# The generated project's own module writes the same CSV (for CI without a DVC remote): one copy.
# No __pycache__ in the template's package: cookiecutter would copy it into every new project.
_writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
template_package()
bundled_data = importlib.import_module("template_package.tables.bundled_data")
sys.dont_write_bytecode = _writes_bytecode
LOADERS = bundled_data.LOADERS
export_csv = bundled_data.export_csv


def main() -> None:
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    for name in LOADERS:
        (RAW_DIR / f"{name}.csv").write_text(export_csv(name), encoding="utf-8")
        print(f"wrote {RAW_DIR / f'{name}.csv'}")


if __name__ == "__main__":
    main()
