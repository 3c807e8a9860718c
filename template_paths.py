"""Where the template's files are, for its hooks: cookiecutter loads this through `_extensions` in
cookiecutter.json and gives Jinja `package_source`, the generated package's folder in the template.

The pre-generation hook, which cookiecutter renders into a temporary file, loads the package's URL
rules from there, so a `dataset` is checked before generation by the code that checks it after.
This module is kept apart from local_extensions.py and small on purpose: `cruft update` renders the
project's old template and then the new one in one process, and Python keeps the first version of a
module it imported, so a name added to an already-imported module would be missing.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

PACKAGE_SOURCE = (
    Path(__file__).resolve().parent / "{{cookiecutter.project_slug}}" / "{{cookiecutter.package_name}}"
)


class TemplatePaths(Extension):
    """Gives Jinja `package_source` (see the module docstring)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["package_source"] = str(PACKAGE_SOURCE)
