"""A metric's direction and range, and the one place that compares its values."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    """How to read a metric: which way is better, and the values it can take."""

    higher_is_better: bool
    low: float
    high: float

    @property
    def direction(self) -> str:
        """Optuna's word for this metric's goal: maximize or minimize."""
        return "maximize" if self.higher_is_better else "minimize"

    def better(self, value: float, other: float) -> bool:
        """Whether `value` is strictly better than `other`."""
        return value > other if self.higher_is_better else value < other

    def meets(self, value: float, threshold: float) -> bool:
        """Whether `value` is at least as good as `threshold`."""
        return not self.better(threshold, value)


def outranks(
    mine: dict[str, float], theirs: dict[str, float], metrics: dict[str, Metric], ranking: tuple[str, ...]
) -> bool:
    """Whether metrics `mine` rank strictly above `theirs`: by the first metric of `ranking`, ties
    broken by the next. A metric that one of them lacks (a run logged before the metric existed) is
    skipped."""
    for name in ranking:
        if name in mine and name in theirs and mine[name] != theirs[name]:
            return metrics[name].better(mine[name], theirs[name])
    return False
