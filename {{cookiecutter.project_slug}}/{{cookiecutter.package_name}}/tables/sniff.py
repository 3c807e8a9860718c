"""How a table file is written, from its name and its first bytes: the kind of file, its compression,
and for delimited text the encoding, the delimiter and the decimal mark (table.detect_format)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlparse

from ..common.errors import PipelineError

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}  # pandas' names
SUPPORTED = (
    "delimited text (.csv, .tsv, .txt, or compressed: .gz, .bz2, .xz, .zst, .zip), "
    "Parquet (.parquet, .pq) or a workbook (.xlsx, .xlsm, .xls, .ods)"
)
DELIMITERS = (",", ";", "\t", "|")
SNIFF_CHARS = 64 * 1024  # the delimiter and decimal mark are judged on this much text (lines allowing)
SAMPLE_BYTES = 1024 * 1024  # the encoding on this much: a rarer accent further on still shows up
# A number with a decimal comma (12,5; -0,25; 1.234,5) or with a decimal point (12.5; .5; 1e-3).
DECIMAL_COMMA = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d*),\d+([eE][-+]?\d+)?")
DECIMAL_POINT = re.compile(r"[-+]?\d*\.\d+([eE][-+]?\d+)?")
NUMBER = re.compile(r"[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?")


def is_remote(source: str) -> bool:
    return "://" in source


def file_name(source: str) -> str:
    """The lower-case name of a path, or of a URL's path (without its query)."""
    if is_remote(source):
        return PurePosixPath(urlparse(source).path).name.lower()
    return Path(source).name.lower()


def split_compression(source: str) -> tuple[str, str | None]:
    """(the lower-case file name without a compression suffix, pandas' name of that compression)."""
    name = file_name(source)
    for suffix, method in COMPRESSIONS.items():
        if name.endswith(suffix):
            return name.removesuffix(suffix), method
    return name, None


def kind_and_compression(source: str) -> tuple[str, str | None]:
    """("csv" | "parquet" | "excel", pandas' compression or None) from the file's name; a
    PipelineError naming the formats read for any other name."""
    stem, compression = split_compression(source)
    if stem.endswith(TEXT_SUFFIXES):
        return "csv", compression
    if compression is None and stem.endswith(PARQUET_SUFFIXES):
        return "parquet", None
    if compression is None and stem.endswith(EXCEL_SUFFIXES):
        return "excel", None
    raise PipelineError(f"{source} is not a table this project reads: use {SUPPORTED}")


@contextmanager
def open_raw(source: str | BinaryIO, storage_options: dict | None = None) -> Iterator[BinaryIO]:
    """The file's bytes as stored: a local path, an http(s) URL (through urllib, as pandas reads
    it, so its errors read the same), any other URL through fsspec (s3://), or an open file."""
    if not isinstance(source, str):
        source.seek(0)
        yield source
    elif source.startswith(("http://", "https://")):
        from urllib.request import Request, urlopen

        with urlopen(Request(source, headers=storage_options or {})) as response:
            yield response
    elif is_remote(source):
        import fsspec

        with fsspec.open(source, "rb", **(storage_options or {})) as file:
            yield file
    else:
        with open(source, "rb") as file:
            yield file


@contextmanager
def open_decompressed(
    source: str | BinaryIO, name: str, compression: str | None, storage_options: dict | None = None
) -> Iterator[BinaryIO]:
    """The file's content: decompressed as its suffix says; a .zip must hold exactly one file."""
    with open_raw(source, storage_options) as raw:
        if compression is None:
            yield raw
        elif compression == "gzip":
            import gzip

            with gzip.GzipFile(fileobj=raw) as file:
                yield file
        elif compression == "bz2":
            import bz2

            with bz2.BZ2File(raw) as file:
                yield file
        elif compression == "xz":
            import lzma

            with lzma.LZMAFile(raw) as file:
                yield file
        elif compression == "zstd":
            try:
                import zstandard
            except ImportError:
                raise PipelineError(
                    f"{name}: reading .zst needs the zstandard package: `uv add zstandard`, or recompress as .gz"
                ) from None
            with zstandard.ZstdDecompressor().stream_reader(raw) as file:
                yield file
        else:
            yield from unzipped(raw, name)


def unzipped(raw: BinaryIO, name: str) -> Iterator[BinaryIO]:
    """The one file of a .zip (the same rule as pandas': one file, nothing else in it)."""
    import zipfile

    if not raw.seekable():  # an http response: a zip's index is at its end
        raw = io.BytesIO(raw.read())
    with zipfile.ZipFile(raw) as archive:
        names = archive.namelist()
        if len(names) != 1:
            listed = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
            held = f"holds {len(names)} files ({listed})" if names else "holds no file"
            raise PipelineError(f"{name} {held}: a .zip must hold one table; extract it and give that file")
        with archive.open(names[0]) as file:
            yield file


def read_up_to(file: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes (fewer only at the end of the file)."""
    chunks, left = [], size
    while left > 0:
        chunk = file.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def detect_encoding(sample: bytes, complete: bool) -> str:
    """A BOM's encoding; else UTF-8 if the sample decodes as UTF-8 (a character cut at the end of an
    incomplete sample aside); else cp1252 (Windows' Western European, what Excel writes in much of
    Europe); else latin-1, which decodes any byte."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode Text"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if not complete and error.reason == "unexpected end of data":
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def records(text: str, delimiter: str, complete: bool) -> tuple[list[list[str]], bool]:
    """The sample's records split by `delimiter` (quotes respected, so a quoted delimiter or line
    break stays in its field), blank lines left out as pandas does; and whether every quoted field
    ends at a delimiter or a line's end. A wrong delimiter leaves some that don't (`"a","b"` split
    at `|`): the records up to there. The last record is left out when the sample stops inside it."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, well_quoted = [], True
    try:
        rows.extend(reader)
        if not complete and rows:
            rows.pop()
    except csv.Error as error:
        # the sample stopping inside a quoted field is no fault of the file's
        well_quoted = not complete and "unexpected end of data" in str(error)
    return [row for row in rows if row], well_quoted


def delimiter_score(
    rows: list[list[str]], well_quoted: bool, delimiter: str
) -> tuple[bool, float, float, int] | None:
    """How well `delimiter` splits `rows` into a table: (quotes closing where fields end, the share
    of records with the header's field count, the share of cells that hold no other delimiter or
    are numbers, the field count); None if it leaves the header a single field."""
    if not rows or len(rows[0]) < 2:
        return None
    width, data = len(rows[0]), rows[1:]
    consistent = sum(len(row) == width for row in data) / len(data) if data else 1.0
    others = [other for other in DELIMITERS if other != delimiter]
    cells = [cell.strip() for row in data or rows for cell in row]
    clean = sum(
        bool(NUMBER.fullmatch(cell)) or not any(other in cell for other in others) for cell in cells
    ) / len(cells)
    return well_quoted, consistent, clean, width


def detect_delimiter(text: str, complete: bool, default: str = ",") -> str:
    """The delimiter among `DELIMITERS` that splits the sample into the most regular table: quoted
    fields that end where a field ends, then every record with the header's number of fields; then
    cells free of the other delimiters (so a `;` file with decimal commas is not taken for a `,`
    file); then the most columns. `default` when none splits the header (a one-column table)."""
    scores = {
        delimiter: score
        for delimiter in DELIMITERS
        if (score := delimiter_score(*records(text, delimiter, complete), delimiter)) is not None
    }
    return max(scores, key=scores.__getitem__) if scores else default


def detect_decimal(rows: list[list[str]], delimiter: str) -> str:
    """`,` when the delimiter is not `,` and more numbers in the records' cells are written with a
    decimal comma (12,5) than with a decimal point; `.` otherwise."""
    if delimiter == ",":
        return "."
    cells = [cell.strip() for row in rows[1:] for cell in row]
    commas = sum(bool(DECIMAL_COMMA.fullmatch(cell)) for cell in cells)
    points = sum(bool(DECIMAL_POINT.fullmatch(cell)) for cell in cells)
    return "," if commas > points else "."


def detect_text(
    source: str | BinaryIO, name: str, compression: str | None, storage_options: dict | None = None
) -> tuple[str, str, str]:
    """(encoding, delimiter, decimal mark) of a delimited text file, from its first bytes."""
    with open_decompressed(source, name, compression, storage_options) as file:
        sample = read_up_to(file, SAMPLE_BYTES + 1)
    complete = len(sample) <= SAMPLE_BYTES
    encoding = detect_encoding(sample[:SAMPLE_BYTES], complete)
    text = sample[:SAMPLE_BYTES].decode(encoding, errors="replace")
    if text.count("\n", 0, SNIFF_CHARS) >= 3:  # else long lines (a survey's questions): judge them all
        complete, text = complete and len(text) <= SNIFF_CHARS, text[:SNIFF_CHARS]
    text = text.removeprefix("\ufeff")
    default = "\t" if split_compression(name)[0].endswith(".tsv") else ","
    delimiter = detect_delimiter(text, complete, default)
    return encoding, delimiter, detect_decimal(records(text, delimiter, complete)[0], delimiter)


def excel_sheet(source: str | BinaryIO, name: str, sheet: str | None, storage_options: dict | None) -> str:
    """The sheet to read: `sheet` if the workbook has it, else its first visible worksheet."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    if isinstance(source, str) and not is_remote(source):
        book = CalamineWorkbook.from_path(source)
    else:
        with open_raw(source, storage_options) as raw:
            book = CalamineWorkbook.from_filelike(io.BytesIO(raw.read()))
    with book:
        sheets = [item for item in book.sheets_metadata if item.typ == SheetTypeEnum.WorkSheet]
    names = [item.name for item in sheets]
    if sheet is not None:
        if sheet not in names:
            raise PipelineError(f"{name} has no sheet {sheet!r}; its sheets: {', '.join(map(repr, names))}")
        return sheet
    visible = [item.name for item in sheets if item.visible == SheetVisibleEnum.Visible]
    if not (visible or names):
        raise PipelineError(f"{name} has no worksheet: save the table in a sheet of its own")
    return (visible or names)[0]
