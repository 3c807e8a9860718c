"""The data sets the template ships are exactly scikit-learn's bundled ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from export_datasets import LOADERS, RAW_DIR, export_csv  # noqa: E402
from sample_schemas import sample_schema_text  # noqa: E402


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_shipped_csv_is_the_bundled_data_set(name: str) -> None:
    assert (RAW_DIR / f"{name}.csv").read_text(encoding="utf-8") == export_csv(name)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_shipped_schema_is_what_inference_writes(name: str) -> None:
    """The samples' schemas ship pre-inferred (the hook then needs no pandas): they must be what the
    package's inference writes today (`python tools/sample_schemas.py` renews them)."""
    shipped = (RAW_DIR / f"{name}.schema.yaml").read_text(encoding="utf-8")
    assert shipped == sample_schema_text(RAW_DIR / f"{name}.csv")
