"""Switch the project to a table of your own: `make adopt DATA=<path or URL> TARGET=<column> [TASK=auto]`.

    python -m <package>.ops.adopt --data ~/penguins.csv --target species [--task auto] [--sheet Prices]

DATA is a table as you have it: CSV or TSV in any common dialect (`,` `;` tab `|`, a decimal comma,
UTF-8 or a Windows code page; compressed .gz .bz2 .xz .zst .zip too), Parquet, or Excel (the first
sheet, or --sheet); a local path, an http(s):// URL or s3://bucket/key (for an S3-compatible server,
give its endpoint with --s3-endpoint-url or AWS_ENDPOINT_URL). The table is read and checked first
(readable, the target there, enough labeled rows, two or more classes or a target that varies,
something left to learn from); on any problem nothing changes. Then:
- the file gets a name of plain letters, digits, `.`, `_` and `-` in data/raw/ (`data (1).csv`
  becomes `data-1.csv`); its original name or URL is kept as the schema's `source:`;
- a local file is copied there and added to DVC; a URL is brought in with `dvc import-url`, so its
  .dvc file records the source and `dvc update` refreshes it;
- data/schema.yaml is inferred anew (read it: how the file is read, roles, kinds, the texts read as
  missing, categories; edit it at will), and what needs your eye is said (rows without a target,
  missing-value words kept as classes);
- the previous table leaves the workspace, and stays in DVC's cache and in git history.
The project's generation runs the same code for a table given as `dataset`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from .. import schema
from ..common.errors import PipelineError, run_main
from ..common.failpoints import fail_point
from ..common.files import atomic_path
from ..common.project import RAW_DIR
from ..tables import inference, urls
from ..tables.table import read_detected, read_table

URL_SCHEMES = ("http", "https", "s3")
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
LONGEST_STEM = 80  # characters kept of the file name's stem
# Latin letters that Unicode does not decompose into a plain letter and an accent.
LATIN_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
    }
)


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


def check_url(source: str) -> None:
    """Refuse a URL that carries a secret (a user and password, a presigned URL's signature, a
    token: DVC would write it into the .dvc file, in git) or that is not http(s):// or s3://. The
    message shows the URL with its secrets as `***`."""
    shown = urls.redacted(source)
    if urls.userinfo_span(source):
        raise PipelineError(
            f"{shown}: a URL with a user or password would be written into data/raw/*.dvc, in git; give "
            "credentials in the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for s3://) or with "
            "`dvc remote modify --local`, or download the file and give its path"
        )
    if secrets := urls.secret_parameters(source):
        raise PipelineError(
            f"{shown}: the URL carries a secret ({', '.join(name for name, _, _ in secrets)}), which would be "
            "written into data/raw/*.dvc, in git; download the file and give its path"
        )
    scheme = source.partition("://")[0] if "://" in source else ""
    if scheme and scheme.lower() not in URL_SCHEMES:
        raise PipelineError(f"{shown}: {scheme}:// is not read here; give a path, an https:// or s3:// URL")


def raw_name(name: str) -> str:
    """The name the table gets in data/raw/: the original's stem in plain letters, digits, `.`, `_`
    and `-` (accents dropped, anything else a dash), and its suffix, e.g. `data (1).csv` ->
    `data-1.csv`. Nothing a shell or DVC's interpolation would read as code or syntax."""
    lower = name.lower()
    compression = next((suffix for suffix in COMPRESSIONS if lower.endswith(suffix)), "")
    inner = name[: len(name) - len(compression)]
    suffix = found[0] if (found := re.search(r"\.[A-Za-z0-9]{1,8}$", inner)) else ""
    stem = inner[: len(inner) - len(suffix)].translate(LATIN_LETTERS)
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # é -> e
    stem = re.sub("-{2,}", "-", UNSAFE_CHARACTERS.sub("-", stem)).strip("-._")[:LONGEST_STEM].rstrip("-._")
    stem = stem or "table"
    return stem + (suffix + compression).lower()


def stage_table(
    source: str,
    target: str,
    task: str,
    endpoint_url: str = "",
    base: Path | None = None,
    sheet: str | None = None,
) -> tuple[schema.Schema, list[str]]:
    """Read and check the table at `source`, then, for a local file, copy it into data/raw/ under
    its raw_name (a URL is left for `dvc import-url`). Return its schema, for data/schema.yaml, and
    notes on what needs the user's eye; on any problem a PipelineError, with nothing written."""
    check_url(source)
    if is_url(source):
        name, location = source_name(source), source
    else:
        location = str(local_path(source, base or Path.cwd()))
        name = Path(location).name
    described = describe(
        location,
        source if is_url(source) else name,
        target,
        task,
        storage_options(source, endpoint_url),
        sheet,
    )
    if not is_url(source):
        with atomic_path(Path(described[0].raw)) as temporary:
            shutil.copyfile(location, temporary)
    return described


def describe(
    location: str,
    source: str,
    target: str,
    task: str,
    options: dict | None = None,
    sheet: str | None = None,
) -> tuple[schema.Schema, list[str]]:
    """The schema of the table at `location` (read with fsspec's `options`), named after `source`
    (the file name or URL the user gave), and the notes on it. Read with only empty cells as
    missing, to find which missing-value words each column holds; read again with those words as
    empty cells only when there are any."""
    # This read settles the format: an encoding judged on the first megabyte may give way.
    frame, table_format = read_detected(location, options, missing={}, sheet=sheet)
    missing, kept = inference.missing_texts(frame, target)
    if any(missing.values()):
        frame = read_table(location, table_format, missing, storage_options=options)
    raw = (RAW_DIR / raw_name(source_name(source) if is_url(source) else source)).as_posix()
    table = inference.infer(
        frame, target, task, missing, raw=raw, source=source, format=table_format.as_dict()
    )
    return table, notes(table, frame, kept)


def source_name(url: str) -> str:
    """The file name in a URL's path."""
    return PurePosixPath(urlparse(url).path).name


def notes(table: schema.Schema, frame: object, kept: dict[str, int]) -> list[str]:
    """What the user should know of the inferred schema: rows without a target (left out of
    training), missing-value words kept as classes."""
    found = []
    target = table.columns[table.target]
    unlabeled = int(frame[table.target].isna().sum())
    if unlabeled:
        found.append(
            f"{unlabeled:,} rows have no {table.target!r}{inference.written_as(target.missing)}: "
            "left out of training and evaluation; after `dvc repro` and `make promote`, score them with "
            "`make predict INPUT=data/prepared/unlabeled.parquet OUTPUT=unlabeled-scores.csv`"
        )
    for word, rows in kept.items():
        found.append(
            f"{rows:,} cells of {table.target!r} hold {word!r}, kept as a class (as frequent as a real "
            f"class); to read it as a missing label, add it to the target's missing: in {schema.SCHEMA_FILE}"
        )
    return found


def dvc(*args: str) -> None:
    """Run a dvc command; a PipelineError with its message when it fails."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {(result.stderr or result.stdout).strip()}")


def adopt(
    source: str, target: str, task: str, endpoint_url: str = "", sheet: str | None = None
) -> tuple[schema.Schema, list[str]]:
    """Switch the project to the table at `source` (see the module docstring); return its schema
    and the notes on it (see notes)."""
    previous = schema.load().raw if schema.SCHEMA_FILE.exists() else ""
    table, said = stage_table(source, target, task, endpoint_url, sheet=sheet)
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
    return table, said


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="CSV/TSV, Parquet or Excel: a path, an http(s):// or s3:// URL"
    )
    parser.add_argument("--target", required=True, help="the column to predict")
    parser.add_argument("--task", default="auto", choices=("auto", *schema.TASKS), help="default: auto")
    parser.add_argument("--sheet", default=None, help="Excel: the sheet to read (default: the first)")
    parser.add_argument(
        "--s3-endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", ""), help="an S3-compatible server"
    )
    args = parser.parse_args()
    table, said = adopt(args.data, args.target, args.task, args.s3_endpoint_url, args.sheet or None)
    features = table.features()
    ignored = [name for name, column in table.columns.items() if column.role == "ignored"]
    print(
        f"adopt: {table.raw} ({table.task} of {table.target!r}; {len(features)} features"
        + (f", ignored: {', '.join(map(repr, ignored))}" if ignored else "")
        + f") -> {schema.SCHEMA_FILE}\n"
        f"Next: read {schema.SCHEMA_FILE}, then `dvc repro` and commit: git add --all && git commit"
    )
    for note in said:
        print(f"note: {note}")


if __name__ == "__main__":
    run_main(main)
