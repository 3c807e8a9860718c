"""README.md stays a short map of the project: its tree names every module of the package, it fits
in 200 lines, and every docs/ page it links to exists."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
PACKAGE = "{{ cookiecutter.package_name }}"
PACKAGE_DIR = PROJECT_ROOT / PACKAGE
MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
DRAWING = " \t│├└─|`+\\-"  # a tree's lines and indentation, in box-drawing characters or ASCII
# One line of a tree: the drawing (or plain indentation), the entry's name, then its note.
TREE_LINE = re.compile(rf"^(?P<drawing>[{re.escape(DRAWING)}]*)(?P<name>\S+)(?P<note>.*)$")
# A Markdown link's target: [text](target) or [text](target "title").
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


class Entry:
    """One line of the tree: where its name starts (its depth), the name, and the whole line."""

    def __init__(self, line: str) -> None:
        match = TREE_LINE.match(line)
        assert match is not None
        self.column = len(match["drawing"])
        self.name = match["name"]
        self.text = line


def fenced_blocks(text: str) -> list[list[str]]:
    """The lines of each fenced code block (``` or ~~~), in order."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def package_tree() -> list[Entry]:
    """The entries of README.md's tree from the package's own line on: the tree is the code block
    with a line for `<package>/` that has `__init__.py` among its entries, however it is fenced or
    drawn (the project's folder may have the package's name too)."""
    for block in fenced_blocks(README.read_text(encoding="utf-8")):
        entries = [Entry(line) for line in block if line.strip(DRAWING)]  # not blank, not only drawing
        for index, entry in enumerate(entries):
            below = inside(entries, index)
            if entry.name == f"{PACKAGE}/" and any(below[i].name == "__init__.py" for i in children(below)):
                return entries[index:]
    raise AssertionError(
        f"README.md has no tree: no code block has a line for {PACKAGE}/ with its __init__.py"
    )


def inside(entries: list[Entry], index: int) -> list[Entry]:
    """The entries drawn under entries[index]: the following ones indented deeper than it."""
    nested = []
    for entry in entries[index + 1 :]:
        if entry.column <= entries[index].column:
            break
        nested.append(entry)
    return nested


def children(entries: list[Entry]) -> list[int]:
    """Indices of the shallowest entries: the direct children when `entries` is a folder's inside
    (deeper lines are their contents, or a note carried over to the next line)."""
    if not entries:
        return []
    depth = min(entry.column for entry in entries)
    return [index for index, entry in enumerate(entries) if entry.column == depth]


def mentions(text: str, file_name: str) -> bool:
    """Whether `text` names `file_name` as a whole word (`table.py`, not `tables.py` or `xtable.py`)."""
    return re.search(rf"(?<![\w.]){re.escape(file_name)}(?!\w)", text) is not None


def named_in_tree(tree: list[Entry], module: Path) -> bool:
    """Whether the tree names `module` (relative to the package): each of its folders as an entry
    under the one before, and the file as an entry of its folder, or anywhere in the lines of its
    folder (its note or the lines under it) when the folder lists its modules in a few words."""
    entries = inside(tree, 0)
    folder: list[Entry] | None = None  # the line of the module's folder and everything under it
    for part in module.parts[:-1]:
        found = [index for index in children(entries) if entries[index].name == f"{part}/"]
        if not found:
            return False
        folder = [entries[found[0]], *inside(entries, found[0])]
        entries = folder[1:]
    if any(entries[index].name == module.name for index in children(entries)):
        return True
    return folder is not None and any(mentions(entry.text, module.name) for entry in folder)


def package_modules() -> list[Path]:
    """Every module of the package, relative to it; a subpackage's __init__.py is its folder's line."""
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = path.relative_to(PACKAGE_DIR)
        if "__pycache__" in module.parts or (module.name == "__init__.py" and len(module.parts) > 1):
            continue
        modules.append(module)
    return modules


def test_the_readme_tree_names_every_module_of_the_package() -> None:
    tree = package_tree()
    modules = package_modules()
    assert modules, f"no modules found in {PACKAGE_DIR}"
    missing = [module.as_posix() for module in modules if not named_in_tree(tree, module)]
    assert not missing, (
        f"README.md's tree does not name {', '.join(missing)}: add each under its folder's line "
        f"(a line of its own, or in the folder's list of modules)"
    )


def test_the_readme_fits_in_200_lines() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"README.md has {lines} lines, more than {MAX_LINES}: move the details to a page of docs/ and link it"
    )


def local_links(page: Path) -> list[tuple[str, Path]]:
    """Each link of a Markdown page to a file of the project: its target as written, and the file."""
    links = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or a heading of the same page
        path = target.split("#", 1)[0]
        links.append((target, (page.parent / path).resolve()))
    return links


def test_every_docs_page_the_readme_links_to_exists() -> None:
    docs_links = [(target, path) for target, path in local_links(README) if target.startswith("docs/")]
    assert docs_links, "README.md links to no page of docs/"
    missing = [target for target, path in docs_links if not path.is_file()]
    assert not missing, f"README.md links to pages that do not exist: {', '.join(missing)}"


def test_the_docs_pages_link_to_existing_files_and_each_is_linked() -> None:
    pages = sorted(DOCS.glob("*.md"))
    broken = [
        f"{page.relative_to(PROJECT_ROOT).as_posix()} -> {target}"
        for page in pages
        for target, path in local_links(page)
        if not path.exists()
    ]
    assert not broken, f"links to files that do not exist: {'; '.join(broken)}"
    linked = {path for page in [README, *pages] for _, path in local_links(page)}
    orphans = [page.relative_to(PROJECT_ROOT).as_posix() for page in pages if page.resolve() not in linked]
    assert not orphans, f"pages no other page links to: {', '.join(orphans)}"
