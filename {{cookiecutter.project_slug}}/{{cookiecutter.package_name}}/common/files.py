"""Write outputs atomically, so a crash never leaves a half-written file behind."""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import PipelineError
from .failpoints import fail_point


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.
    Temporary files an earlier, killed write of `path` left (no `finally` runs on SIGKILL) go first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    for stale in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        stale.unlink(missing_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    os.close(handle)
    os.chmod(temporary, new_file_mode())  # mkstemp's file is private (0600); outputs are not
    try:
        yield Path(temporary)
        fail_point("files.before_rename")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def new_file_mode() -> int:
    """The mode `open()` gives a new file: read and write for all, less this process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(temporary_path)`, then move the finished file onto `path`."""
    with atomic_path(path) as temporary:
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
