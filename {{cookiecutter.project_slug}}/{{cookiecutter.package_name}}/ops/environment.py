"""The environment as part of the lineage: the locked versions of what the pipeline runs.

dvc.yaml's first stage, `environment`, runs this whenever uv.lock changes. It writes
pipeline-requirements.txt: the packages pyproject.toml's `dependencies` need, with theirs, at the
versions uv.lock pins (the dev, notebook and bento groups left out). Every stage depends on that
file, so a new scikit-learn or pandas in the lock reruns the pipeline, while a new ruff or pytest
leaves the file as it was and reruns nothing.

It first checks the installed packages against those pins, so a lock that moved without
`make setup` stops `dvc repro` here, naming the package, before any stage runs on the wrong one.
`make doctor` runs the same check.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from ..common.errors import PipelineError, run_main
from ..common.files import write_atomic

HEADER = """\
# The locked versions of what the pipeline runs: pyproject.toml's dependencies and theirs, as uv.lock
# pins them. Written by `dvc repro` (dvc.yaml's stage `environment`); every stage depends on it.
"""


def runtime_pins(lock: dict) -> dict[str, str]:
    """Name -> version of every package the project's own entry in a parsed uv.lock needs at run
    time: its dependencies (with the extras it asks for) and theirs, transitively; not its groups."""
    packages = {package["name"]: package for package in lock["package"]}
    project = next(package for package in lock["package"] if "editable" in package.get("source", {}))
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    waiting = list(project.get("dependencies", []))
    while waiting:
        dependency = waiting.pop()
        package = packages[dependency["name"]]
        for part in ("", *dependency.get("extra", [])):  # "": the package itself
            if (package["name"], part) in seen:
                continue
            seen.add((package["name"], part))
            if part:
                waiting.extend(package.get("optional-dependencies", {}).get(part, []))
            else:
                pins[package["name"]] = package["version"]
                waiting.extend(package.get("dependencies", []))
    return dict(sorted(pins.items()))


def mismatches(pins: dict[str, str]) -> list[str]:
    """The pinned packages installed at another version, as `name installed, version locked`.
    Packages not installed are left out: those of other platforms (uv.lock covers them all)."""
    installed = {normalized(dist.metadata["Name"]): dist.version for dist in distributions()}
    return [
        f"{name} {installed[name]} installed, {locked} locked"
        for name, locked in pins.items()
        if installed.get(name, locked) != locked
    ]


def normalized(name: str) -> str:
    """A distribution's name as uv.lock writes it (PEP 503: `Scikit_Learn` -> `scikit-learn`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def check_installed(pins: dict[str, str]) -> None:
    """A PipelineError naming the packages whose installed version is not the locked one."""
    wrong = mismatches(pins)
    if wrong:
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise PipelineError(
            f"the environment does not match uv.lock: {'; '.join(wrong[:3])}{more}: run `make setup`"
        )


def pins_of(lock_path: Path) -> dict[str, str]:
    """The runtime pins of the lock file at `lock_path` (see runtime_pins)."""
    try:
        return runtime_pins(tomllib.loads(lock_path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise PipelineError(f"{lock_path} not found: run `uv lock` to write it") from None
    except (tomllib.TOMLDecodeError, KeyError, StopIteration) as error:
        raise PipelineError(f"{lock_path} is not a uv lock file ({error!r}): run `uv lock`") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, required=True, help="uv.lock")
    parser.add_argument("--out", type=Path, required=True, help="the pins file to write")
    args = parser.parse_args()
    pins = pins_of(args.lock)
    check_installed(pins)
    text = HEADER + "".join(f"{name}=={pinned}\n" for name, pinned in pins.items())
    write_atomic(args.out, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    print(f"environment: {len(pins)} packages as {args.lock} pins them, installed -> {args.out}")


if __name__ == "__main__":
    run_main(main)
