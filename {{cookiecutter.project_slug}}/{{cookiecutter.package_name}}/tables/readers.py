"""The pandas readers behind table.read_table, one per type of file: delimited text through
pandas' C parser, workbooks through python-calamine (imported only for them), Parquet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from ..common.errors import PipelineError
from . import sniff

if TYPE_CHECKING:
    import pandas as pd

    from .table import TableFormat

MANGLED = re.compile(r"(.+)\.\d+")  # pandas' name for a repeated header name: a, a.1


def read_delimited(
    source: str | BinaryIO,
    name: str,
    fmt: TableFormat,
    missing: dict | None,
    storage: dict | None,
) -> pd.DataFrame:
    """pandas' C parser with the format's delimiter, decimal mark and encoding."""
    import pandas as pd

    options: dict = {
        "sep": fmt.delimiter,
        "decimal": fmt.decimal,
        "encoding": fmt.encoding,
        "compression": sniff.split_compression(name)[1],
        "engine": "c",
        "storage_options": storage,
    }
    options |= cell_options(lambda: pd.read_csv(rewound(source), nrows=0, **options).columns, missing)
    frame = pd.read_csv(rewound(source), **options)
    if has_renamed_repeats(frame.columns):
        with sniff.open_decompressed(rewound(source), name, options["compression"], storage) as raw:
            lines = io.TextIOWrapper(raw, encoding=fmt.encoding, newline="")
            header = next((row for row in csv.reader(lines, delimiter=fmt.delimiter) if row), [])
            lines.detach()  # the file is closed by its own context
        raise_duplicates(name, header)
    return frame


def read_excel(
    source: str | BinaryIO,
    name: str,
    fmt: TableFormat,
    missing: dict | None,
    storage: dict | None,
) -> pd.DataFrame:
    """pandas' calamine reader (python-calamine: imported here only), on the format's sheet."""
    import pandas as pd

    options: dict = {"engine": "calamine", "sheet_name": 0 if fmt.sheet is None else fmt.sheet}
    if storage:
        options["storage_options"] = storage
    try:
        options |= cell_options(lambda: pd.read_excel(rewound(source), nrows=0, **options).columns, missing)
        frame = pd.read_excel(rewound(source), **options)
    except ValueError as error:
        if fmt.sheet is not None and "not found" in str(error):
            sniff.excel_sheet(rewound(source), name, fmt.sheet, storage)  # the error listing the sheets
        raise
    if has_renamed_repeats(frame.columns):
        first_row = pd.read_excel(rewound(source), header=None, nrows=1, **options).iloc[0]
        raise_duplicates(name, [str(cell) for cell in first_row if pd.notna(cell)])
    return frame


def read_parquet(
    source: str | BinaryIO,
    name: str,
    fmt: TableFormat,
    missing: dict | None,
    storage: dict | None,
) -> pd.DataFrame:
    """pandas' Parquet reader; `missing` applied to the text cells it returns."""
    import pandas as pd

    frame = pd.read_parquet(rewound(source), storage_options=storage)
    for column in frame.columns:
        words = (missing or {}).get(str(column))
        if words and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].mask(frame[column].isin(words))
    return frame


def cell_options(header: Callable[[], pd.Index], missing: dict[str, list[str]] | None) -> dict:
    """pandas' options for which cells are missing: pandas' own words (None), or only an empty cell
    and each column's given words, which needs the column names first (`header()`; a workbook's
    may be numbers, looked up in `missing` as text)."""
    if missing is None:
        return {}
    return {
        "keep_default_na": False,
        "na_values": {column: ["", *missing.get(str(column), [])] for column in header()},
    }


def rewound(source: str | BinaryIO) -> str | BinaryIO:
    """An open file at its start (pandas reads from where it stands); a path as it is."""
    if not isinstance(source, str):
        source.seek(0)
    return source


def has_renamed_repeats(columns: pd.Index) -> bool:
    """Whether pandas may have renamed a repeated header name (`a`, `a.1`): then the header is read."""
    names = {str(column) for column in columns}
    return any((match := MANGLED.fullmatch(column)) and match[1] in names for column in names)


def raise_duplicates(name: str, header: list[str]) -> None:
    """Refuse a header that names a column twice (empty names aside: pandas numbers them apart)."""
    named = [column for column in header if column != ""]
    if len(set(named)) < len(named):
        raise duplicate_names(name, named)


def duplicate_names(name: str, header: list) -> PipelineError:
    repeated = sorted({str(column) for column in header if header.count(column) > 1})
    return PipelineError(f"{name} has duplicate column names: {', '.join(map(repr, repeated))}; rename them")


def undecodable_at(source: str | BinaryIO, name: str, encoding: str, storage: dict | None) -> str:
    """Where the file first stops being `encoding`, as "line N, byte 0x..": to report, not to read."""
    try:
        with sniff.open_decompressed(
            rewound(source), name, sniff.split_compression(name)[1], storage
        ) as file:
            for number, line in enumerate(file, start=1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError as error:
                    return f"line {number}, byte {line[error.start]:#x}"
    except (OSError, ValueError, EOFError, PipelineError):
        pass
    return "a character split at the end of the file"
