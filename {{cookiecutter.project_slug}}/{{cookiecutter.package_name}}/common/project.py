"""The project folder, its paths and settings, and the git and process facts every command may ask
about. Standard library only: the generation hook imports it too."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

PACKAGE = __package__.split(".")[0]  # this package, also under `python -m`
# Where the project keeps its raw table and its description (the generation hook uses them too).
RAW_DIR = Path("data", "raw")
# A registered model's name, as the generation hook and params.yaml's register.model_name take it.
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
SCHEMA_FILE = Path("data", "schema.yaml")
ENV_FILE = Path(".env")  # the team stack's settings and secrets (make stack-env), git-ignored


def project_root() -> Path:
    """The project folder: DVC's root when DVC runs us, else the nearest folder with dvc.yaml."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if (folder / "dvc.yaml").exists()), here)


def pyproject() -> dict[str, Any]:
    """The project's pyproject.toml."""
    with open(project_root() / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def project_settings() -> dict[str, Any]:
    """The `[tool.<package>]` table of pyproject.toml (tracking URI and experiment name)."""
    return pyproject()["tool"][PACKAGE]


def read_env(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of an env file."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def git(*args: str) -> str | None:
    """Output of a git command in the project, or None outside a git repository."""
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path.cwd())
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if os.name == "nt":  # os.kill(pid, 0) would send the process Ctrl-C there
        import psutil  # DVC's dependency, so in .venv; imported here only: the hooks use this module

        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists (POSIX)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
