"""Read a table (CSV or Parquet, a path or a URL) into pandas, or say in one line why it can't be read."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".csv.zip")
SUPPORTED = (
    "CSV (.csv, or compressed: .csv.gz, .csv.bz2, .csv.xz, .csv.zst, .csv.zip) or Parquet (.parquet, .pq)"
)


def table_format(source: str) -> str:
    """`csv` or `parquet`, from the file name; a PipelineError naming the formats otherwise."""
    name = source.split("?")[0].lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    hint = (
        " (an Excel workbook: save the sheet as CSV)"
        if source.lower().endswith((".xls", ".xlsx", ".xlsm"))
        else ""
    )
    raise PipelineError(f"{source} is not a table this project reads{hint}: use {SUPPORTED}")


def read_table(source: str | Path, storage_options: dict | None = None) -> pd.DataFrame:
    """The table at `source` (a path, an http(s):// or s3:// URL); a PipelineError saying what is wrong."""
    import pandas as pd

    source = str(source)
    if "://" not in source and not Path(source).is_file():
        raise PipelineError(
            f"{source} not found" + (": it is a folder, name the file" if Path(source).is_dir() else "")
        )
    kind = table_format(source)
    try:
        if kind == "parquet":
            frame = pd.read_parquet(source, storage_options=storage_options)
        else:
            frame = pd.read_csv(source, storage_options=storage_options)
            check_unique_header(source, frame, storage_options)
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{source} is empty") from None
    except UnicodeDecodeError:
        raise PipelineError(
            f"{source} is not UTF-8 text ({non_utf8_line(source)}): save it as UTF-8"
        ) from None
    except pd.errors.ParserError as error:
        raise PipelineError(f"{source} is not a well-formed CSV: {str(error).strip()}") from None
    except (OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError) or "404" in str(error):
            raise PipelineError(f"{source} not found ({one_line(error)})") from None
        if "urlopen error" in str(error) or isinstance(error, ConnectionError):
            raise PipelineError(f"{source} is unreachable ({one_line(error)}); check the address") from None
        if "403" in str(error) or isinstance(error, PermissionError):
            raise PipelineError(
                f"{source}: access denied ({one_line(error)}); check the URL or your credentials"
            ) from None
        raise PipelineError(f"can't read {source} as {kind}: {one_line(error)}") from None
    if len(frame.columns) and frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise PipelineError(
            f"{source} has duplicate column names: {', '.join(map(repr, duplicated))}; rename them"
        )
    if frame.empty:
        raise PipelineError(
            f"{source} has a header but no rows" if len(frame.columns) else f"{source} is empty"
        )
    return frame


def read_at_revision(path: str, rev: str | None = None) -> pd.DataFrame:
    """The DVC-tracked table at `path` as it was at `rev` (a commit, branch, tag or DVC experiment;
    None: the workspace), read through DVC from its cache or remote."""
    import dvc.api
    import pandas as pd

    kind = table_format(path)
    with dvc.api.open(path, rev=rev, mode="rb") as file:
        if kind == "parquet":
            return pd.read_parquet(file)
        suffix = path.rsplit(".", 1)[-1].lower()
        compression = {"gz": "gzip", "bz2": "bz2", "xz": "xz", "zst": "zstd", "zip": "zip"}.get(suffix)
        return pd.read_csv(file, compression=compression)


def check_unique_header(source: str, frame: pd.DataFrame, storage_options: dict | None) -> None:
    """pandas renames a repeated CSV column name (`a`, `a.1`): read the header itself to refuse it."""
    if not any("." in str(name) for name in frame.columns):
        return
    import fsspec

    with fsspec.open(source, "rt", encoding="utf-8", compression="infer", **(storage_options or {})) as file:
        header = next(csv.reader(io.StringIO(file.readline())), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise PipelineError(
            f"{source} has duplicate column names: {', '.join(map(repr, repeated))}; rename them"
        )


def non_utf8_line(path: str) -> str:
    """Where the file first stops being UTF-8, as "line N, byte 0x..": to report, not to read."""
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return f"line {number}, byte {line[error.start]:#x}"
    return "a character split at the end of the file"


def one_line(error: Exception) -> str:
    """An exception's message on one line."""
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__
