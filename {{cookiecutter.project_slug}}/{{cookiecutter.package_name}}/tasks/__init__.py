"""The two tasks, one module each: classification and regression. data/schema.yaml's `task:` picks one.

Each module has the same names: METRICS (with their direction and range), RANKING (how models are
ordered), STRATIFIED (how prepare splits), target_problem, predict, score, baseline,
log_plot_data and figures.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load(task: str) -> ModuleType:
    """The module of `task` (classification or regression)."""
    return importlib.import_module(f"{__name__}.{task}")


def current() -> ModuleType:
    """The module of the project's task, as data/schema.yaml names it."""
    from .. import schema

    return load(schema.load().task)
