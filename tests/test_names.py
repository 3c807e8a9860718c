"""Whatever a user's file and columns are called, the project's files hold it safely: the schema
loads back every column name and category as it was, the raw file gets a name no shell or DVC
interpolation reads as code, and a URL's secrets are never repeated. Hypothesis draws the names
from hostile alphabets; these tests run the generated package's own code, in this process."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from conftest import TEMPLATE, load_module
from hypothesis import given, settings
from hypothesis import strategies as st

load_module(TEMPLATE / "tools" / "sample_schemas.py").template_package()
schema = importlib.import_module("template_package.schema")
adopt = importlib.import_module("template_package.ops.adopt")
errors = importlib.import_module("template_package.common.errors")
urls = importlib.import_module("template_package.tables.urls")
pre_gen = load_module(TEMPLATE / "hooks" / "pre_gen_project.py")

# Any text a file can hold: every character but surrogates (which UTF-8 can't encode), weighted
# towards what YAML, shells and DVC's ${} read as syntax.
SYNTAX = list("\n\r\t :#,[]{}&*!|>'\"%@`$();\\/-?~=.\u2028\u0085\ufeff") + ["${x}", "$(touch X)", "'yes'"]
HOSTILE_TEXT = st.lists(
    st.one_of(st.sampled_from(SYNTAX), st.characters(exclude_categories=("Cs",))), max_size=40
).map("".join)
LONG_TEXT = st.integers(min_value=1000, max_value=1100).map(lambda size: "why, (and how) " * (size // 15))
NAMES = st.one_of(HOSTILE_TEXT, LONG_TEXT, st.sampled_from(["", "123", "yes", "null", "~", "1e3", "0x1F"]))
SAFE_RAW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(NAMES, min_size=1, max_size=6, unique=True),
    categories=st.lists(st.one_of(HOSTILE_TEXT, st.integers(), st.booleans()), max_size=5),
    source=HOSTILE_TEXT,
)
def test_the_schema_loads_back_any_column_name_and_category(
    names: list[str], categories: list, source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    columns = {name: schema.Column("feature", "category", categories=categories) for name in names}
    table = schema.Schema(
        target="the target",
        task="classification",
        columns={**columns, "the target": schema.Column("target", "category", missing=["NA", "None"])},
        raw="data/raw/table.csv",
        source=source,
        format={"type": "csv", "delimiter": ";", "decimal": ",", "encoding": "cp1252"},
    )
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    schema.dump(table, path)
    assert schema.load(path) == table


@settings(max_examples=300, deadline=None)
@given(
    stem=HOSTILE_TEXT, suffix=st.sampled_from([".csv", ".CSV", ".csv.gz", ".tsv", ".xlsx", ".parquet", ""])
)
def test_a_raw_file_name_is_plain_letters_digits_dots_and_dashes(stem: str, suffix: str) -> None:
    name = adopt.raw_name(stem + suffix)
    assert SAFE_RAW_NAME.fullmatch(name), name
    assert name.endswith(suffix.lower())
    assert len(name) <= adopt.LONGEST_STEM + len(suffix)


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("data (1).csv", "data-1.csv"),
        ("pen$(touch X)guins.csv", "pen-touch-X-guins.csv"),
        ("--rm -rf.csv.gz", "rm-rf.csv.gz"),
        ("Größe; Gewicht.TSV", "Grosse-Gewicht.tsv"),
        ("🍷.xlsx", "table.xlsx"),
    ],
)
def test_a_raw_file_name_keeps_what_it_can_of_the_original(original: str, expected: str) -> None:
    assert adopt.raw_name(original) == expected


PASSWORDS = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="@/?#[]"), min_size=4
)


@settings(max_examples=200, deadline=None)
@given(password=PASSWORDS, scheme=st.sampled_from(["https", "http", "s3"]))
def test_a_url_with_a_password_is_refused_without_repeating_it(password: str, scheme: str) -> None:
    def refusal(secret: str) -> str:
        with pytest.raises(errors.PipelineError) as refused:
            adopt.check_url(f"{scheme}://someone:{secret}@example.org/data/table.csv")
        return str(refused.value)

    # The same words whatever the password (it is never shown; the message's own words may hold it).
    assert refusal(password) == refusal("hunter2")
    assert f"{scheme}://someone:***@example.org/data/table.csv" in refusal(password)
    assert "environment" in refusal(password)


@settings(max_examples=100, deadline=None)
@given(signature=st.text(alphabet="abcdef0123456789%", min_size=8))
def test_a_presigned_url_is_refused_without_its_signature(signature: str) -> None:
    url = f"https://bucket.example.org/t.csv?X-Amz-Credential=AKIA&X-Amz-Signature={signature}"
    with pytest.raises(errors.PipelineError, match="download the file") as refused:
        adopt.check_url(url)
    assert signature not in str(refused.value)


def test_generation_checks_urls_with_the_package_s_own_rules() -> None:
    """One copy of the URL rules: the pre-generation hook loads the package's tables/urls.py."""
    assert Path(pre_gen.urls.__file__).resolve() == Path(urls.__file__).resolve()


def test_only_http_and_s3_urls_are_read() -> None:
    with pytest.raises(errors.PipelineError, match=r"ftp:// is not read here"):
        adopt.check_url("ftp://example.org/t.csv")


def test_a_plain_query_is_not_a_secret() -> None:
    adopt.check_url("https://example.org/export?format=csv&sheet=2")  # no error


def test_the_shipped_schemas_load(tmp_path: Path) -> None:
    """The bundled samples' schemas, as the hook copies them into a project."""
    for path in (TEMPLATE / "{{cookiecutter.project_slug}}" / "data" / "raw").glob("*.schema.yaml"):
        assert schema.load(path).format["type"] == "csv"
