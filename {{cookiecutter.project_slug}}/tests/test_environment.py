"""ops.environment: the runtime pins taken from uv.lock, and the check of .venv against them."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.ops.environment import check_installed, mismatches, pins_of, runtime_pins

# A lock as uv writes it: the project needs `tool[fast]`; tool needs `base`, its extra `fast` needs
# `speedup` (and `base` again); `base` needs `tool` back (a cycle); `ruff` is a dev tool only.
LOCK = """
version = 1
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "tool", extra = ["fast"] }]

[package.dev-dependencies]
dev = [{ name = "ruff" }]

[[package]]
name = "tool"
version = "2.0.1"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "base" }]

[package.optional-dependencies]
fast = [{ name = "speedup", marker = "sys_platform == 'linux'" }, { name = "base" }]

[[package]]
name = "base"
version = "1.4.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "tool" }]

[[package]]
name = "speedup"
version = "0.9"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "ruff"
version = "0.16.0"
source = { registry = "https://pypi.org/simple" }
"""


def test_the_pins_are_the_projects_dependencies_with_their_extras_and_not_its_dev_tools() -> None:
    assert runtime_pins(tomllib.loads(LOCK)) == {"base": "1.4.0", "speedup": "0.9", "tool": "2.0.1"}


def test_a_package_without_the_extra_brings_in_only_its_own_dependencies() -> None:
    lock = tomllib.loads(LOCK.replace('{ name = "tool", extra = ["fast"] }', '{ name = "tool" }'))
    assert runtime_pins(lock) == {"base": "1.4.0", "tool": "2.0.1"}


def test_the_projects_own_lock_pins_what_the_stages_import_and_leaves_the_dev_tools_out() -> None:
    pins = pins_of(Path("uv.lock"))
    assert {"scikit-learn", "pandas", "mlflow", "dvclive", "pyarrow", "numpy", "scipy"} <= set(pins)
    assert not {"ruff", "pytest", "hypothesis", "jupyterlab", "bentoml"} & set(pins)
    assert mismatches(pins) == []  # .venv was built from it


def test_a_package_at_another_version_than_the_lock_stops_the_stage_naming_it() -> None:
    installed = version("pyyaml")
    assert mismatches({"pyyaml": installed, "not-installed-anywhere": "1.0"}) == []
    with pytest.raises(
        PipelineError, match=rf"pyyaml {installed} installed, 0\.0\.1 locked: run `make setup`"
    ):
        check_installed({"pyyaml": "0.0.1"})


def test_a_missing_or_broken_lock_is_named(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="uv.lock not found: run `uv lock`"):
        pins_of(tmp_path / "uv.lock")
    (tmp_path / "uv.lock").write_text("version = [")
    with pytest.raises(PipelineError, match="is not a uv lock file"):
        pins_of(tmp_path / "uv.lock")
