"""Restore the bundled scikit-learn data set this project started from: `python -m <package>.tables.bundled_data`.

For machines with no access to the DVC remote, such as CI without secrets: it writes the raw
CSV from scikit-learn's own copy (no download) and checks that it is byte for byte the file DVC
tracks, so the pipeline runs on exactly the committed data. When you replace the data with your
own, this check fails and tells you to fetch the data with `dvc pull` instead.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import yaml

from ..common.project import RAW_DIR

LOADERS = {"wine": "load_wine", "breast_cancer": "load_breast_cancer", "diabetes": "load_diabetes"}


def export_csv(name: str) -> str:
    """The data set `name` as CSV text: one column per feature (spaces as underscores), then `target`."""
    import sklearn.datasets

    frame = getattr(sklearn.datasets, LOADERS[name])(as_frame=True).frame
    frame.columns = [column.replace(" ", "_") for column in frame.columns]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def restore(raw_dir: Path = RAW_DIR) -> Path:
    """Write the bundled data set where DVC tracks it, if it is the tracked version; return its path."""
    tracked = sorted(raw_dir.glob("*.csv.dvc"))
    if len(tracked) != 1 or tracked[0].name.removesuffix(".csv.dvc") not in LOADERS:
        raise SystemExit(
            f"error: no bundled data set is tracked in {raw_dir}, so the data must come from a DVC "
            "remote: `dvc remote add -d storage s3://bucket/path`, `make push`, then `make data` runs `dvc pull`"
        )
    path = tracked[0].with_suffix("")
    text = export_csv(path.stem).encode("utf-8")
    expected = yaml.safe_load(tracked[0].read_text(encoding="utf-8"))["outs"][0]["md5"]
    if hashlib.md5(text).hexdigest() != expected:
        raise SystemExit(
            f"error: {path} is no longer the bundled data set (DVC tracks md5 {expected}): run `dvc pull`"
        )
    path.write_bytes(text)
    return path


if __name__ == "__main__":
    print(f"bundled_data: restored {restore()}", file=sys.stderr)
