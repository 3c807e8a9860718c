"""The one set of pins: the generated project's `uv.lock`, shared with the template's own tools.

    python tools/lock.py constraints   print the lock's pins as constraints (`make venv` uses them)
    python tools/lock.py update [ARGS]  re-lock: generate the default project, run `uv lock ARGS`
                                        there (e.g. --upgrade-package mlflow), and copy its lock back,
                                        with the modules its pipeline loads at the new pins
                                        (ops/pipeline_modules.txt, which its `make setup` records)
    python tools/lock.py modules        only that list: after a change to the imports of the
                                        package's pipeline code (test_setup says when)

The template's lock is a Jinja file: the project's own entry is named after `project_slug` and
`requires-python` follows `python_version`, so every generated project gets a lock that
`uv sync --locked` accepts as it is. The resolution itself covers Python 3.11 and newer, on every
platform, so the pins are the same whatever the options.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036 (before tomllib's import fails with a traceback)
    sys.exit(f"tools/lock.py needs Python 3.11+, not {sys.version.split()[0]}: use the one `make venv` picks")
import tomllib  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[1]
LOCK = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
MODULE_LIST = Path("{{cookiecutter.package_name}}", "ops", "pipeline_modules.txt")
PROJECT_NAME = "{{ cookiecutter.project_slug }}"
REQUIRES_PYTHON = "{{ cookiecutter.python_version }}"


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """Package name -> version of every locked package but the project itself."""
    packages = tomllib.loads(lock.read_text())["package"]
    versions: dict[str, str] = {}
    for package in packages:
        if "editable" in package["source"] or "virtual" in package["source"]:
            continue
        if package["name"] in versions:
            raise SystemExit(f"{lock}: {package['name']} is locked at two versions; constraints need one")
        versions[package["name"]] = package["version"]
    return versions


def constraints(lock: Path = LOCK) -> str:
    """The lock's pins as pip/uv constraints, one `name==version` per line."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(locked_versions(lock).items()))


def template_lock(rendered: str, slug: str, python_version: str) -> str:
    """A generated project's lock turned back into the template's: its own name and Python as Jinja."""
    text, named = re.subn(rf'^name = "{re.escape(slug)}"$', f'name = "{PROJECT_NAME}"', rendered, flags=re.M)
    text, pinned = re.subn(
        rf'^requires-python = ">={re.escape(python_version)}"$',
        f'requires-python = ">={REQUIRES_PYTHON}"',
        text,
        count=1,
        flags=re.M,
    )
    if named != 1 or pinned != 1 or "{%" in text or "{#" in text:
        raise SystemExit("the generated lock does not look as expected; not copying it back")
    return text


def update(uv_args: list[str] | None) -> None:
    """Generate the default project, re-lock it with `uv lock` (unless `uv_args` is None), run its
    `make setup` (which records its module list when the pins or imports changed), and copy the
    lock and the list back."""
    from cookiecutter.main import cookiecutter

    uv = shutil.which("uv") or sys.exit("uv is not on PATH: run `make venv` and use .venv/bin/python")
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=scratch))
        if uv_args is not None:
            subprocess.run([uv, "lock", *uv_args], cwd=project, check=True)
        subprocess.run(["make", "setup"], cwd=project, check=True)
        options = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        python_version = options["requires-python"].removeprefix(">=")
        LOCK.write_text(template_lock((project / "uv.lock").read_text(), options["name"], python_version))
        (module_list,) = project.glob(f"*/{MODULE_LIST.relative_to(MODULE_LIST.parts[0])}")
        shutil.copyfile(module_list, LOCK.parent / MODULE_LIST)
    print(f"wrote {LOCK.relative_to(TEMPLATE)} and {MODULE_LIST}; run `make venv` and the tests")


def main() -> None:
    command, *args = sys.argv[1:] or ["help"]
    if command == "constraints":
        sys.stdout.write(constraints())
    elif command == "update":
        update(args)
    elif command == "modules":
        update(None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
