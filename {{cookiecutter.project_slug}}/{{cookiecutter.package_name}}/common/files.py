"""Write outputs atomically, so a crash never leaves a half-written file behind."""

from __future__ import annotations

import glob
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import PipelineError
from .failpoints import fail_point


@contextmanager
def atomic_path(path: Path, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.
    Temporary files an earlier, killed write of `path` left (no `finally` runs on SIGKILL) go first.
    The file gets the mode `open()` would give it (the umask applied), or the owner's alone (0600)
    if `private` (a secret: it is the owner's before anything is written in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    for stale in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        stale.unlink(missing_ok=True)
    temporary = new_temporary(path.parent, prefix, 0o600 if private else 0o666)
    try:
        yield Path(temporary)
        fail_point("files.before_rename")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def new_temporary(folder: Path, prefix: str, mode: int) -> str:
    """A new, empty file in `folder` named `prefix`...`.tmp`, created with `mode` less the umask
    (mkstemp's are always 0600: every output would be private)."""
    while True:
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        except FileExistsError:  # taken by another write of the same output: draw again
            continue
        return name


def write_atomic(path: Path, write: Callable[[Path], object], private: bool = False) -> None:
    """Call `write(temporary_path)`, then move the finished file onto `path` (see atomic_path)."""
    with atomic_path(path, private) as temporary:
        write(temporary)


def write_json(path: Path, data: dict) -> None:
    """Write `data` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def read_json(path: Path) -> dict:
    """Read a JSON file an earlier stage wrote."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_yaml(path: Path, if_missing: str) -> object:
    """Read a YAML file the user edits; a PipelineError saying it is missing (`if_missing`: what to
    do) or where its YAML is broken."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path} not found: {if_missing}") from None
    except yaml.YAMLError as error:
        raise PipelineError(f"{path} is not valid YAML: {error}") from None
