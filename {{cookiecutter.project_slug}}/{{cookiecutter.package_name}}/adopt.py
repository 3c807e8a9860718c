"""Switch the project to a table of your own: `make adopt DATA=<path or URL> TARGET=<column> [TASK=auto]`.

    python -m <package>.adopt --data ~/penguins.csv --target species [--task auto]

DATA is a CSV or Parquet file: a local path, an http(s):// URL or s3://bucket/key (for an
S3-compatible server, give its endpoint with --s3-endpoint-url or AWS_ENDPOINT_URL). The table is
read and checked first (readable, the target there, enough rows, two or more classes or a target
that varies, something left to learn from); on any problem nothing changes. Then:
- a local file is copied into data/raw/ and added to DVC; a URL is brought in with
  `dvc import-url`, so its .dvc file records the source and `dvc update` refreshes it;
- data/schema.yaml is inferred anew (read it: roles, kinds, gaps, categories; edit it at will);
- the previous table leaves the workspace, and stays in DVC's cache and in git history.
The project's generation runs the same code for a table given as `dataset`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from . import schema
from .errors import PipelineError, run_main
from .failpoints import fail_point
from .files import atomic_path
from .table import read_table, table_format

RAW_DIR = Path("data", "raw")
URL_SCHEMES = ("http", "https", "s3")


def is_url(source: str) -> bool:
    return urlparse(source).scheme in URL_SCHEMES


def local_path(source: str, base: Path) -> Path:
    """A local source as an absolute path: `~` expanded, relative paths taken from `base`."""
    path = Path(source).expanduser()
    return path if path.is_absolute() else base / path


def storage_options(source: str, endpoint_url: str) -> dict | None:
    """fsspec's options to read `source`: an S3-compatible endpoint for s3:// URLs."""
    if urlparse(source).scheme == "s3" and endpoint_url:
        return {"client_kwargs": {"endpoint_url": endpoint_url}}
    return None


def stage_table(
    source: str, target: str, task: str, endpoint_url: str = "", base: Path | None = None
) -> schema.Schema:
    """Read and check the table at `source`, then, for a local file, copy it into data/raw/ (a URL
    is left for `dvc import-url`). Return its schema, for data/schema.yaml; on any problem a
    PipelineError, with nothing written."""
    if is_url(source):
        name, location = PurePosixPath(urlparse(source).path).name, source
    else:
        location = str(local_path(source, base or Path.cwd()))
        name = Path(location).name
    table_format(name)  # a format we read, before any download
    frame = read_table(location, storage_options(source, endpoint_url))
    table = schema.infer(frame, target, task, raw=(RAW_DIR / name).as_posix())
    if not is_url(source):
        with atomic_path(RAW_DIR / name) as temporary:
            shutil.copyfile(location, temporary)
    return table


def dvc(*args: str) -> None:
    """Run a dvc command; a PipelineError with its message when it fails."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {(result.stderr or result.stdout).strip()}")


def adopt(source: str, target: str, task: str, endpoint_url: str = "") -> schema.Schema:
    """Switch the project to the table at `source` (see the module docstring); return its schema."""
    previous = schema.load().raw if schema.SCHEMA_FILE.exists() else ""
    table = stage_table(source, target, task, endpoint_url)
    fail_point("adopt.table_copied")
    if previous and previous != table.raw and Path(previous + ".dvc").exists():
        dvc("remove", "--outs", previous + ".dvc")  # its data stays in the cache and in git history
        fail_point("adopt.previous_removed")
    if is_url(source):
        config = (
            ["--fs-config", f"endpointurl={endpoint_url}"]
            if endpoint_url and source.startswith("s3://")
            else []
        )
        dvc("import-url", "--force", *config, source, table.raw)
    else:
        dvc("add", "--quiet", table.raw)
    fail_point("adopt.data_added")
    schema.dump(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="CSV or Parquet: a path, an http(s):// or s3:// URL")
    parser.add_argument("--target", required=True, help="the column to predict")
    parser.add_argument("--task", default="auto", choices=("auto", *schema.TASKS), help="default: auto")
    parser.add_argument(
        "--s3-endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", ""), help="an S3-compatible server"
    )
    args = parser.parse_args()
    table = adopt(args.data, args.target, args.task, args.s3_endpoint_url)
    features = table.features()
    ignored = [name for name, column in table.columns.items() if column.role == "ignored"]
    print(
        f"adopt: {table.raw} ({table.task} of {table.target!r}; {len(features)} features"
        + (f", ignored: {', '.join(map(repr, ignored))}" if ignored else "")
        + f") -> {schema.SCHEMA_FILE}\n"
        f"Next: read {schema.SCHEMA_FILE}, then `dvc repro` and commit: git add --all && git commit"
    )


if __name__ == "__main__":
    run_main(main)
