"""Tables as people have them: any delimiter, decimal comma, encoding, compression, workbooks;
what was detected, and missing-value words read as the schema says. Expectations written by hand."""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import http.server
import io
import lzma
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.tables.table import TableFormat, detect_format, read_at_revision, read_detected, read_table

EUROPEAN = "Name;Größe;Anzahl\nMüller;1,5;3\nÄrger;12,25;4\n"  # Excel's CSV in much of Europe


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def columns(frame: pd.DataFrame) -> dict[str, list]:
    """The frame's cells by column, empty cells as None (NaN never equals itself)."""
    return {name: [None if pd.isna(cell) else cell for cell in frame[name]] for name in frame.columns}


def test_semicolons_decimal_commas_and_cp1252_are_detected(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", EUROPEAN, "cp1252")
    found = detect_format(path)
    assert found == TableFormat("csv", delimiter=";", decimal=",", encoding="cp1252")
    assert found.as_dict() == {"type": "csv", "delimiter": ";", "decimal": ",", "encoding": "cp1252"}
    assert columns(read_table(path)) == {"Name": ["Müller", "Ärger"], "Größe": [1.5, 12.25], "Anzahl": [3, 4]}


def test_commas_in_a_semicolon_files_header_do_not_make_it_a_comma_file(tmp_path: Path) -> None:
    """Split at `,`, this file is as regular as at `;` (3 fields each): the cells decide."""
    path = write(tmp_path / "units.csv", "Größe, cm;Gewicht, kg\n1,5;2,25\n10,5;3,5\n")
    assert detect_format(path) == TableFormat("csv", delimiter=";", decimal=",", encoding="utf-8")
    assert columns(read_table(path)) == {"Größe, cm": [1.5, 10.5], "Gewicht, kg": [2.25, 3.5]}


@pytest.mark.parametrize(
    ("name", "text", "delimiter"),
    [
        ("table.tsv", "city\tlength\nBerlin, DE\t1.5\nParis\t2\n", "\t"),
        ("table.txt", "city|length\nBerlin; DE|1.5\nParis|2\n", "|"),
        ("table.csv", "city,length\nBerlin|DE,1.5\nParis,2\n", ","),
    ],
)
def test_tabs_pipes_and_commas_are_detected(tmp_path: Path, name: str, text: str, delimiter: str) -> None:
    path = write(tmp_path / name, text)
    assert detect_format(path) == TableFormat("csv", delimiter=delimiter)
    city = {"\t": "Berlin, DE", "|": "Berlin; DE", ",": "Berlin|DE"}[delimiter]
    assert columns(read_table(path)) == {"city": [city, "Paris"], "length": [1.5, 2.0]}


def test_a_decimal_point_stays_a_decimal_point_with_semicolons(tmp_path: Path) -> None:
    path = write(tmp_path / "points.csv", "a;b\n1.5;x\n2.25;y\n")
    assert detect_format(path).decimal == "."
    assert columns(read_table(path)) == {"a": [1.5, 2.25], "b": ["x", "y"]}


def test_utf8_with_a_bom_keeps_the_first_column_name_clean(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", "Größe|Farbe\n1|rot\n", "utf-8-sig")
    assert detect_format(path) == TableFormat("csv", delimiter="|", encoding="utf-8-sig")
    assert list(read_table(path).columns) == ["Größe", "Farbe"]


def test_excels_unicode_text_is_utf16_with_tabs(tmp_path: Path) -> None:
    path = write(tmp_path / "unicode.txt", "Größe\tFarbe\n1\tgrün\n", "utf-16")
    assert detect_format(path) == TableFormat("csv", delimiter="\t", encoding="utf-16")
    assert columns(read_table(path)) == {"Größe": [1], "Farbe": ["grün"]}


def test_quoted_fields_keep_their_delimiters_quotes_and_line_breaks(tmp_path: Path) -> None:
    """Enough rows that the sample detection reads stops inside a quoted field."""
    note = 'first line; with "quotes", commas\nsecond line | pipe'
    rows = "".join(f'{i};"{note.replace(chr(34), 2 * chr(34))}";{i},5\n' for i in range(3000))
    path = write(tmp_path / "notes.csv", "id;note;score\n" + rows)
    assert path.stat().st_size > 128 * 1024
    assert detect_format(path) == TableFormat("csv", delimiter=";", decimal=",")
    frame = read_table(path)
    assert frame.shape == (3000, 3)
    assert frame["note"].eq(note).all() and frame["score"].iloc[7] == 7.5


def test_a_survey_header_longer_than_the_sniffed_text_is_judged_whole(tmp_path: Path) -> None:
    """Every column a whole question (commas, parentheses), 1,200 of them: a 90 kB header line."""
    questions = [f"Question {i}: how often, roughly, do you (or your family) use it?" for i in range(1200)]
    rows = [questions, ["1,5"] * 1200, ["2"] * 1200]
    path = write(tmp_path / "survey.csv", "".join(";".join(row) + "\n" for row in rows))
    assert path.stat().st_size > 80_000
    assert detect_format(path) == TableFormat("csv", delimiter=";", decimal=",")
    frame = read_table(path)
    assert list(frame.columns) == questions and frame.iloc[:, -1].tolist() == [1.5, 2.0]


def compress(path: Path, data: bytes) -> None:
    suffix = path.suffix
    if suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(path.stem, data)
    else:
        path.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix](data))


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_each_compression_is_read_by_its_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export.csv{suffix}"
    compress(path, EUROPEAN.encode("cp1252"))
    assert detect_format(path) == TableFormat("csv", delimiter=";", decimal=",", encoding="cp1252")
    assert columns(read_table(path))["Größe"] == [1.5, 12.25]


def test_a_zip_with_two_files_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "tables.csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train.csv", "a,b\n1,2\n")
        archive.writestr("test.csv", "a,b\n3,4\n")
    expected = f"{path} holds 2 files ('train.csv', 'test.csv'): a .zip must hold one table; extract it"
    for read in (detect_format, read_table):
        with pytest.raises(PipelineError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            read(path)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """An .xlsx with a notes sheet first and the table on a sheet named `Data` (openpyxl writes it)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["about", "source"])
    book.active.append(["survey", "web"])
    data = book.create_sheet("Data")
    for row in (["size", "label", "comment"], [1.5, "None", None], [2, "NA", "ok"], [3, "yes", "NA"]):
        data.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path


def test_a_workbook_is_read_from_its_first_sheet(workbook: Path) -> None:
    assert detect_format(workbook).as_dict() == {"type": "excel", "sheet": "Notes"}
    assert columns(read_table(workbook)) == {"about": ["survey"], "source": ["web"]}


def test_a_workbook_sheet_is_read_by_name_with_the_missing_words_given(workbook: Path) -> None:
    found = detect_format(workbook, sheet="Data")
    assert found == TableFormat("excel", sheet="Data")
    frame = read_table(workbook, found, missing={"comment": ["NA"]})
    assert columns(frame) == {
        "size": [1.5, 2, 3],
        "label": ["None", "NA", "yes"],
        "comment": [None, "ok", None],
    }
    assert columns(read_table(workbook, found, missing={}))["comment"] == [None, "ok", "NA"]


def test_an_unknown_sheet_is_refused_listing_the_sheets(workbook: Path) -> None:
    expected = f"{workbook} has no sheet 'Daten'; its sheets: 'Notes', 'Data'"
    with pytest.raises(PipelineError, match=expected):
        detect_format(workbook, sheet="Daten")
    with pytest.raises(PipelineError, match=expected):
        read_table(workbook, TableFormat("excel", sheet="Daten"))


def save_workbook(path: Path, rows: list[list[object]]) -> Path:
    """A one-sheet .xlsx holding `rows` (openpyxl writes it)."""
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_a_workbook_header_of_numbers_and_booleans_gives_names_as_text(tmp_path: Path) -> None:
    """pandas returns the header cells 2020, 2021.5 and TRUE as an int, a float and a bool."""
    path = save_workbook(
        tmp_path / "years.xlsx", [[2020, 2021.5, True, "label"], [1, 1.5, 7, "a"], [2, "NA", 8, "b"]]
    )
    for frame in (
        read_table(path, missing={"2021.5": ["NA"]}),
        read_detected(path, missing={"2021.5": ["NA"]})[0],
    ):
        assert list(frame.columns) == ["2020", "2021.5", "True", "label"]
        assert all(type(name) is str for name in frame.columns)
        assert frame["2020"].tolist() == [1, 2]  # a target named 2020 in data/schema.yaml
        assert columns(frame)["2021.5"] == [1.5, None]  # its missing words, looked up by the text name
    for header, repeated in (
        ([2020, "2020"], "'2020'"),
        ([2021.5, 2021.5], "'2021.5'"),
        ([True, "True"], "'True'"),
    ):
        twice = save_workbook(tmp_path / "twice.xlsx", [header, [1, 2]])
        with pytest.raises(
            PipelineError, match=f"twice.xlsx has duplicate column names: {repeated}; rename them"
        ):
            read_table(twice)


def test_a_workbook_column_of_numbers_and_text_keeps_each_cell_as_it_is(tmp_path: Path) -> None:
    """Codes typed as numbers in some cells and as text in others: an object column of both."""
    path = save_workbook(tmp_path / "codes.xlsx", [["code", "n"], [101, 1], ["A7", 2], [202, 3], [2.5, 4]])
    for missing in (None, {}):
        frame = read_table(path, missing=missing)
        assert frame["code"].dtype == object
        assert frame["code"].tolist() == [101, "A7", 202, 2.5]
        assert [type(cell) for cell in frame["code"]] == [int, str, int, float]


def test_a_workbook_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    save_workbook(tmp_path / "twice.xlsx", [["size", None, "size", None, "size.1"], [1, 2, 3, 4, 5]])
    with pytest.raises(PipelineError, match="twice.xlsx has duplicate column names: 'size'; rename them"):
        read_table(tmp_path / "twice.xlsx")


def test_python_calamine_is_loaded_for_workbooks_only(tmp_path: Path) -> None:
    import subprocess

    path = write(tmp_path / "plain.csv", "a,b\n1,2\n")
    code = (
        "import sys; from {{ cookiecutter.package_name }}.tables.table import read_table, detect_format; "
        f"read_table({str(path)!r}, detect_format({str(path)!r})); print('python_calamine' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


MISSING_WORDS = "label,code,size\nNone,NA,1.5\n,None,\nyes,n/a,NA\n"


def test_missing_words_are_per_column(tmp_path: Path) -> None:
    """`None` is a class of `label` but a gap in `code`; an empty cell is a gap everywhere."""
    path = write(tmp_path / "words.csv", MISSING_WORDS)
    frame = read_table(path, missing={"code": ["None", "n/a"], "size": ["NA"]})
    assert columns(frame) == {
        "label": ["None", None, "yes"],
        "code": ["NA", None, None],
        "size": [1.5, None, None],
    }


def test_without_missing_words_pandas_defaults_apply(tmp_path: Path) -> None:
    """What predict reads rows to score with: pandas' own missing-value words."""
    frame = read_table(write(tmp_path / "words.csv", MISSING_WORDS))
    assert columns(frame) == {
        "label": [None, None, "yes"],
        "code": [None, None, None],
        "size": [1.5, None, None],
    }


def test_no_missing_words_leave_only_an_empty_cell_missing(tmp_path: Path) -> None:
    """What adopt reads with: a column holding a missing-value word comes back as text."""
    frame = read_table(write(tmp_path / "words.csv", MISSING_WORDS), missing={})
    assert columns(frame) == {
        "label": ["None", None, "yes"],
        "code": ["NA", "None", "n/a"],
        "size": ["1.5", None, "NA"],
    }


def test_parquet_applies_the_missing_words_too(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    pd.DataFrame({"label": ["None", "NA", None], "size": [1.5, None, 3.0]}).to_parquet(path)
    assert detect_format(path).as_dict() == {"type": "parquet"}
    assert columns(read_table(path, missing={"label": ["NA"]}))["label"] == ["None", None, None]
    assert columns(read_table(path, missing={})) == {"label": ["None", "NA", None], "size": [1.5, None, 3.0]}


def test_an_encoding_that_fails_past_the_sample_gives_way_to_cp1252(tmp_path: Path) -> None:
    """Detection judges the first megabyte; the one accented name comes after it."""
    rows = "".join(f"name{i},{i}\n" for i in range(120_000)) + "Müller,1\n"
    path = write(tmp_path / "late.csv", "name,n\n" + rows, "cp1252")
    assert detect_format(path).encoding == "utf-8"
    frame, found = read_detected(path)
    assert found.encoding == "cp1252" and frame["name"].iloc[-1] == "Müller"
    assert read_table(path)["name"].iloc[-1] == "Müller"
    line = 120_002
    with pytest.raises(
        PipelineError, match=rf"late.csv is not utf-8 text \(line {line}, byte 0xfc\): set `encoding:`"
    ):
        read_table(path, detect_format(path))


def test_a_format_round_trips_through_the_schema_dict() -> None:
    for fmt in (
        TableFormat("csv", "\t", ".", "cp1252"),
        TableFormat("excel", sheet="2024"),
        TableFormat("parquet"),
    ):
        assert TableFormat.from_dict(fmt.as_dict()) == fmt
    assert TableFormat.from_dict({"type": "csv", "encoding": "Windows-1252"}).encoding == "cp1252"
    assert TableFormat.from_dict({"type": "excel", "sheet": 2024}).sheet == "2024"  # YAML's number


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "xls"}, "type 'xls' is not a table type; use one of 'csv', 'parquet', 'excel'"),
        (
            {"type": "csv", "delimiter": ";;"},
            r"delimiter ';;' is not one read; use one of ',', ';', '\\t', '|'",
        ),
        ({"type": "csv", "decimal": "·"}, "decimal '·' is not a decimal mark; use one of '.', ','"),
        ({"type": "csv", "delimiter": ","}, None),
        ({"type": "csv", "decimal": ","}, "decimal ',' is the delimiter too"),
        ({"type": "csv", "encoding": "utf-32"}, "encoding 'utf-32' is not one read; use one of 'utf-8'"),
        (
            {"type": "csv", "sheet": "Data"},
            "'sheet' does not apply to type csv; use one of 'type', 'delimiter'",
        ),
        (
            {"type": "parquet", "encoding": "utf-8"},
            "'encoding' does not apply to type parquet; use one of 'type'",
        ),
        ({"delimiter": ";"}, "`type:` is missing; use one of 'csv', 'parquet', 'excel'"),
        ("csv", "'csv' is not a mapping"),
    ],
)
def test_a_wrong_format_names_the_key_and_the_allowed_values(fields: object, expected: str | None) -> None:
    if expected is None:
        assert TableFormat.from_dict(fields) == TableFormat()
        return
    with pytest.raises(PipelineError, match=f"^data/schema.yaml: format: .*{expected}"):
        TableFormat.from_dict(fields)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", "", "empty.csv is empty"),
        ("header.csv", "a;b\n", "header.csv has a header but no rows"),
        ("dup.csv", "a;b;a\n1;2;3\n", "dup.csv has duplicate column names: 'a'; rename them"),
        ("table.json", "{}", "table.json is not a table this project reads: use delimited text"),
        ("absent.csv", None, "absent.csv not found"),
    ],
)
def test_a_bad_file_is_refused_in_one_line(
    tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    if content is not None:
        write(tmp_path / name, content)
    with pytest.raises(PipelineError, match=expected) as refused:
        read_table(tmp_path / name)
    assert "\n" not in str(refused.value)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """tmp_path served over HTTP on 127.0.0.1 (what a user's https:// URL does); the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_table_at_a_url_is_detected_and_read_and_a_missing_one_named(tmp_path: Path, served: str) -> None:
    compress(tmp_path / "export.csv.gz", EUROPEAN.encode("cp1252"))
    url = f"{served}/export.csv.gz"
    assert detect_format(url) == TableFormat("csv", delimiter=";", decimal=",", encoding="cp1252")
    assert columns(read_table(url))["Größe"] == [1.5, 12.25]
    with pytest.raises(PipelineError, match=rf"{served}/absent.csv not found \(HTTP Error 404"):
        read_table(f"{served}/absent.csv")


@pytest.mark.parametrize("url", ["https://u:pa/ss@host/x.csv", "https://me:s3cret@host/x.csv"])
@pytest.mark.parametrize("read", [detect_format, read_table, lambda url: read_table(url, TableFormat())])
def test_a_url_with_a_password_is_refused_without_showing_it(url: str, read: Callable[[str], object]) -> None:
    """urllib takes what follows the password's unescaped / (or the user's :) for the host's port,
    and names it: the message leaves it out."""
    with pytest.raises(PipelineError) as refused:
        read(url)
    assert str(refused.value) == (
        "can't read https://***@host/x.csv (InvalidURL; its message is left out, as it may show "
        "the secret); check the address"
    )


def test_a_missing_table_at_a_signed_url_is_named_without_its_signature(served: str) -> None:
    with pytest.raises(PipelineError) as refused:
        read_table(f"{served}/absent.csv?token=abc123")
    assert str(refused.value) == f"{served}/absent.csv?token=*** not found"


def test_a_sheet_for_a_text_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="plain.csv is not a workbook"):
        detect_format(write(tmp_path / "plain.csv", "a,b\n1,2\n"), sheet="Data")


def test_a_table_at_a_revision_is_read_through_dvc_as_detected_or_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dvc.api

    content = gzip.compress(EUROPEAN.encode("cp1252"))
    monkeypatch.setattr(dvc.api, "open", lambda path, rev=None, mode="r": io.BytesIO(content))
    assert columns(read_at_revision("data/raw/export.csv.gz", rev="v1"))["Größe"] == [1.5, 12.25]
    given = TableFormat("csv", ";", ",", "cp1252")
    assert columns(read_at_revision("data/raw/export.csv.gz", "v1", given, {"Name": ["Ärger"]}))["Name"] == [
        "Müller",
        None,
    ]


def test_any_small_table_reads_back_as_written() -> None:
    """Random cells (words, gaps, missing-value words, delimiters, quotes and line breaks inside
    cells) written with a random delimiter, encoding and quoting: read back as adopt reads (only an
    empty cell missing), detection included, they are what was written. A word or number starts
    with `x`, which no number, boolean or infinity does, so that pandas keeps every cell as text."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    safe = "abcXYZ019 _-.:()äöüßéÄà"  # besides ASCII, cp1252 letters from 0xC0 up (see encodable)
    hostile = safe + ',;\t|"\n€日🙂'
    numbers = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    words = (st.text(alphabet=hostile, max_size=10) | numbers).map(lambda word: f"x{word}")
    missing_words = st.sampled_from(["", "NA", "None", "n/a", "null", "NaN", "nan", "#N/A", "<NA>"])

    @st.composite
    def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str, str, int]:
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
        # A name holding another delimiter unquoted (a;b in a , file) makes a file that reads two
        # ways; quoted, a name may hold anything.
        names = st.text(alphabet=safe if quoting == csv.QUOTE_MINIMAL else hostile, min_size=1, max_size=8)
        header = draw(
            st.lists(
                names.filter(lambda name: encodable(name, encoding)), min_size=2, max_size=4, unique=True
            )
        )
        cell = (words | missing_words).filter(lambda text: encodable(text, encoding))
        rows = draw(
            st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), min_size=1, max_size=5)
        )
        delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
        return header, rows, delimiter, encoding, quoting

    @settings(max_examples=50, deadline=None, database=None)
    @given(tables())
    def reads_back(table: tuple[list[str], list[list[str]], str, str, int]) -> None:
        header, rows, delimiter, encoding, quoting = table
        text = io.StringIO()
        writer = csv.writer(text, delimiter=delimiter, quoting=quoting, lineterminator="\n")
        writer.writerows([header, *rows])
        with tempfile.TemporaryDirectory() as folder:
            path = write(Path(folder) / "table.csv", text.getvalue(), encoding)
            frame = read_table(path, missing={})
        assert list(frame.columns) == header
        written = {name: [row[index] or None for row in rows] for index, name in enumerate(header)}
        assert columns(frame) == written

    reads_back()


def encodable(value: object, encoding: str) -> bool:
    """Whether `value` can be written in `encoding` so that no reader could take it for another:
    in cp1252, no bytes 0x80-0xBF (after a letter from 0xC0 up they would read as UTF-8)."""
    try:
        written = str(value).encode(encoding)
    except UnicodeEncodeError:
        return False
    return encoding != "cp1252" or not any(0x80 <= byte < 0xC0 for byte in written)
