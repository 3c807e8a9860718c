"""The template's own documentation: the README's options table is generated from
cookiecutter.json, the README stays short and starts with the two commands, its links lead to
pages that exist, and no page reads like a lab diary. Fast: no project is generated."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE / "tools"))
import options_table  # noqa: E402

README = TEMPLATE / "README.md"
PAGES = [README, TEMPLATE / "HISTORY.md", *sorted((TEMPLATE / "docs").glob("*.md"))]
# Wording that narrates the past instead of saying what is: the docs say what the code does and why.
DIARY = ("used to ", "Earlier,", "Since then")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_options_table_is_what_the_tool_prints():
    assert options_table.readme_block(readme()) == options_table.table(), (
        "README.md's options table differs from cookiecutter.json: "
        "run .venv/bin/python tools/options_table.py --write"
    )


def test_the_options_table_has_every_option_and_nothing_else():
    options, prompts = options_table.load_options()
    rows = re.findall(r"^\| `(\w+)` \|", options_table.table(), flags=re.MULTILINE)
    assert rows == list(options)
    assert set(prompts) <= set(options), "a prompt for an option that does not exist"


def test_the_readme_is_at_most_150_lines():
    assert len(readme().splitlines()) <= 150


def test_the_readme_starts_with_make_demo_and_make_test():
    first_block = re.search(r"```bash\n(.*?)```", readme(), flags=re.DOTALL)
    assert first_block, "README.md has no bash block"
    commands = [line.split("#")[0].strip() for line in first_block[1].splitlines()]
    assert "make demo" in commands and "make test" in commands  # CI runs the README's `make test`


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_local_link_leads_to_a_file(page: Path):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a heading on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name} links to {target}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_page_reads_like_a_diary(page: Path):
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for words in DIARY:
            assert words not in line, f"{page.name}:{number} says {words!r}: say what is, not what was"


def test_every_test_the_security_page_cites_exists() -> None:
    """docs/SECURITY.md proves each control with a named test (`tests/<file>.py::<test>`, or
    `::<test>` for another of the same file): a project's test, or from `*template*` on in its line
    this repository's. Each is defined where it says."""
    page = (TEMPLATE / "{{cookiecutter.project_slug}}" / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    cited, missing = 0, []
    for line in page.splitlines():
        marker, file = line.find("*template*"), None
        for found in re.finditer(r"`(tests/\w+\.py)?::(test_\w+)`", line):
            file = found[1] or file
            in_template = 0 <= marker < found.start()
            folder = TEMPLATE if in_template else TEMPLATE / "{{cookiecutter.project_slug}}"
            cited += 1
            if f"def {found[2]}(" not in (folder / file).read_text(encoding="utf-8"):
                missing.append(f"{'template ' if in_template else ''}{file}::{found[2]}")
    assert cited >= 5, "the page cites no tests"
    assert missing == []
