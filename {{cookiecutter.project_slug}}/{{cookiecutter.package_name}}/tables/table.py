"""Read a table (delimited text, Parquet or a workbook; a path or a URL) into pandas, the way
data/schema.yaml's `format:` says or as detected from the file, or say in one line why it can't be read."""

from __future__ import annotations

import codecs
import io
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..common.errors import PipelineError
from . import readers, sniff, urls
from .sniff import SUPPORTED, kind_and_compression

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SUPPORTED", "TableFormat", "detect_format", "read_at_revision", "read_detected", "read_table"]

TYPES = ("csv", "parquet", "excel")
DECIMALS = (".", ",")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")
FIELDS = {"csv": ("delimiter", "decimal", "encoding"), "parquet": (), "excel": ("sheet",)}
# A detected encoding that fails past the sample it was judged on: the next one to try.
FALLBACK = {"utf-8": "cp1252", "cp1252": "latin-1"}
SCHEMA = "data/schema.yaml"


class NotDecodable(PipelineError):
    """The file holds bytes its encoding can't decode."""


@dataclass(frozen=True)
class TableFormat:
    """How to read a table file (its compression follows the file's suffix)."""

    type: str = "csv"  # csv (any delimited text), parquet or excel (any workbook)
    delimiter: str = ","  # csv
    decimal: str = "."  # csv
    encoding: str = "utf-8"  # csv
    sheet: str | None = None  # excel: None for the first sheet

    def as_dict(self) -> dict[str, str]:
        """The fields that apply to this type: what data/schema.yaml's `format:` holds."""
        fields = {"type": self.type} | {key: getattr(self, key) for key in FIELDS[self.type]}
        return {key: value for key, value in fields.items() if value is not None}

    @classmethod
    def from_dict(cls, fields: object, where: str = SCHEMA) -> TableFormat:
        """A format from data/schema.yaml's `format:`; a PipelineError naming a wrong key or value."""

        def bad(what: str, allowed: tuple[str, ...]) -> PipelineError:
            return PipelineError(f"{where}: format: {what}; use one of {', '.join(map(repr, allowed))}")

        if not isinstance(fields, dict):
            raise PipelineError(f"{where}: format: {fields!r} is not a mapping such as `type: csv`")
        kind = fields.get("type")
        if kind not in TYPES:
            raise bad(
                f"type {kind!r} is not a table type" if "type" in fields else "`type:` is missing", TYPES
            )
        for key in fields:
            if key != "type" and key not in FIELDS[kind]:
                raise bad(f"{key!r} does not apply to type {kind}", ("type", *FIELDS[kind]))
        values = {key: value for key, value in fields.items() if key != "type"}
        if "encoding" in values:
            values["encoding"] = canonical_encoding(values["encoding"], where)
        if values.get("delimiter", ",") not in sniff.DELIMITERS:
            raise bad(f"delimiter {values['delimiter']!r} is not one read", sniff.DELIMITERS)
        if values.get("decimal", ".") not in DECIMALS:
            raise bad(f"decimal {values['decimal']!r} is not a decimal mark", DECIMALS)
        if values.get("decimal", ".") == values.get("delimiter", ","):
            raise PipelineError(
                f"{where}: format: decimal {values['decimal']!r} is the delimiter too; fix one"
            )
        if isinstance(values.get("sheet"), int | float):  # YAML reads `sheet: 2024` as a number
            values["sheet"] = str(values["sheet"])
        if values.get("sheet") is not None and not isinstance(values["sheet"], str):
            raise PipelineError(f"{where}: format: sheet {values['sheet']!r} is not a sheet's name")
        return cls(type=kind, **values)


def canonical_encoding(name: object, where: str) -> str:
    """`name` as one of ENCODINGS (windows-1252 -> cp1252, latin1 -> latin-1, UTF8 -> utf-8)."""
    try:
        found = codecs.lookup(str(name)).name
    except LookupError:
        found = str(name)
    found = {"iso8859-1": "latin-1"}.get(found, found)
    if found not in ENCODINGS:
        listed = ", ".join(map(repr, ENCODINGS))
        raise PipelineError(f"{where}: format: encoding {name!r} is not one read; use one of {listed}")
    return found


def detect_format(
    source: str | Path, storage_options: dict | None = None, sheet: str | None = None
) -> TableFormat:
    """How the table at `source` is written: its type from its name; for text, the encoding, the
    delimiter and the decimal mark from its first bytes; for a workbook, `sheet` (checked) or the
    first sheet."""
    source = str(source)
    check_exists(source)
    return detected(source, source, storage_options, sheet)


def detected(
    source: str | BinaryIO, name: str, storage_options: dict | None, sheet: str | None
) -> TableFormat:
    """detect_format of a path, URL or open file (`name`: its path or URL)."""
    kind, compression = kind_and_compression(name)
    if sheet is not None and kind != "excel":
        raise PipelineError(f"{name} is not a workbook: a sheet applies to .xlsx, .xlsm, .xls and .ods")
    try:
        if kind == "csv":
            encoding, delimiter, decimal = sniff.detect_text(source, name, compression, storage_options)
            return TableFormat("csv", delimiter, decimal, encoding)
        if kind == "excel":
            return TableFormat("excel", sheet=sniff.excel_sheet(source, name, sheet, storage_options))
        return TableFormat("parquet")
    except read_errors() as error:
        raise unreadable(error, name, kind) from None


def read_table(
    source: str | Path,
    fmt: TableFormat | None = None,
    missing: dict[str, list[str]] | None = None,
    storage_options: dict | None = None,
) -> pd.DataFrame:
    """The table at `source` (a path, an http(s):// or s3:// URL), read as `fmt` says (None: as
    detected), its column names as text; a PipelineError saying what is wrong.

    `missing`: column -> the cell texts read as empty (an empty cell always is; `{}`: only an empty
    cell, so a column holding `NA` comes back as text); None: pandas' own missing-value words (NA,
    None, null, n/a, ...)."""
    if fmt is None:
        return read_detected(source, storage_options, missing)[0]
    source = str(source)
    check_exists(source)
    return read_as(source, source, fmt, missing, storage_options)


def read_detected(
    source: str | Path | BinaryIO,
    storage_options: dict | None = None,
    missing: dict[str, list[str]] | None = None,
    sheet: str | None = None,
    name: str | None = None,
) -> tuple[pd.DataFrame, TableFormat]:
    """The table read as detected, and the format that read it: an encoding judged on the first
    megabyte that fails further on gives way to the next (UTF-8 -> cp1252 -> latin-1)."""
    if isinstance(source, str | Path):
        source = name = str(source)
        check_exists(source)
    fmt = detected(source, name, storage_options, sheet)
    while True:
        try:
            return read_as(source, name, fmt, missing, storage_options), fmt
        except NotDecodable:
            if fmt.encoding not in FALLBACK:
                raise
            fmt = replace(fmt, encoding=FALLBACK[fmt.encoding])


def read_as(
    source: str | BinaryIO,
    name: str,
    fmt: TableFormat,
    missing: dict[str, list[str]] | None,
    storage_options: dict | None,
) -> pd.DataFrame:
    """read_table of a path, URL or open file (`name`: its path or URL) in the format given."""
    import pandas as pd

    reader = {"csv": readers.read_delimited, "excel": readers.read_excel, "parquet": readers.read_parquet}
    try:
        frame = reader[fmt.type](source, name, fmt, missing, storage_options)
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{name} is empty") from None
    except UnicodeDecodeError:
        place = readers.undecodable_at(source, name, fmt.encoding, storage_options)
        raise NotDecodable(
            f"{name} is not {fmt.encoding} text ({place}): set `encoding:` in {SCHEMA}'s format "
            "(e.g. cp1252, what Excel writes in Western Europe), or save it as UTF-8"
        ) from None
    except pd.errors.ParserError as error:
        raise PipelineError(
            f"{name} is not well-formed text with {fmt.delimiter!r} between fields: {one_line(error)}; "
            f"if another delimiter is right, set `delimiter:` in {SCHEMA}'s format"
        ) from None
    except read_errors() as error:
        raise unreadable(error, name, fmt.type) from None
    # A workbook's header cell holding 2020, 2021.5 or TRUE comes back as a number or a boolean.
    frame.columns = [str(column) for column in frame.columns]
    if len(frame.columns) and frame.columns.duplicated().any():
        raise readers.duplicate_names(name, list(frame.columns))
    if frame.empty:
        raise PipelineError(f"{name} has a header but no rows" if len(frame.columns) else f"{name} is empty")
    return frame


def read_at_revision(
    path: str,
    rev: str | None = None,
    fmt: TableFormat | None = None,
    missing: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """The DVC-tracked table at `path` as it was at `rev` (a commit, branch, tag or DVC experiment;
    None: the workspace), read through DVC from its cache or remote, as `fmt` says (None: detected)."""
    import dvc.api

    kind_and_compression(path)  # a format we read, before any download
    with dvc.api.open(path, rev=rev, mode="rb") as file:
        content = io.BytesIO(file.read())
    if fmt is None:
        return read_detected(content, missing=missing, name=path)[0]
    return read_as(content, path, fmt, missing, None)


def check_exists(source: str) -> None:
    if not sniff.is_remote(source) and not Path(source).is_file():
        raise PipelineError(
            f"{source} not found" + (": it is a folder, name the file" if Path(source).is_dir() else "")
        )


def read_errors() -> tuple[type[Exception], ...]:
    """What reading a file raises when the file (not this code) is at fault: system and parser
    errors, a malformed URL (http.client's), a broken archive, and python-calamine's errors once
    it is loaded (for a workbook)."""
    import http.client
    import lzma
    import zipfile

    errors = (OSError, ValueError, EOFError, http.client.HTTPException, zipfile.BadZipFile, lzma.LZMAError)
    calamine = sys.modules.get("python_calamine")
    return errors + ((calamine.CalamineError,) if calamine else ())


def unreadable(error: Exception, source: str, kind: str) -> PipelineError:
    """A read's failure, said as what the user can do about it. A URL holding a secret is shown
    with it as *** and without the error's message, which may repeat it (urllib takes the part of a
    password after an unescaped / for the host's port, and names that port)."""
    shown = shown_url(source)
    detail = f" ({one_line(error)})" if shown == source else ""
    if isinstance(error, FileNotFoundError) or "404" in str(error):
        return PipelineError(f"{shown} not found{detail}")
    if "urlopen error" in str(error) or isinstance(error, ConnectionError):
        return PipelineError(f"{shown} is unreachable{detail}; check the address")
    if "403" in str(error) or isinstance(error, PermissionError):
        return PipelineError(f"{shown}: access denied{detail}; check the URL or your credentials")
    if shown != source:
        return PipelineError(
            f"can't read {shown} ({type(error).__name__}; its message is left out, as it may show "
            "the secret); check the address"
        )
    return PipelineError(f"can't read {source} as {kind}: {one_line(error)}")


def shown_url(source: str) -> str:
    """`source` as a message may show it: a URL's user and password (all before the last @ of its
    authority, see urls.userinfo_span) as ***, and so are a secret query parameter's values."""
    if not sniff.is_remote(source):
        return source
    if span := urls.userinfo_span(source):
        source = f"{source[: span[0]]}***{source[span[1] :]}"
    return urls.redacted(source)


def one_line(error: Exception) -> str:
    """An exception's message on one line."""
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__
