"""The registration gate: what a model's test metrics must show before it is registered.

`register.gate` and `register.beat_baseline` in params.yaml set it; the register stage applies it
and writes its decision to reports/registration.json. `python -m <package>.gate` (`make gate`)
exits 1 unless the latest model passed, so CI can fail a change whose model misses the gate while
`dvc repro` itself still succeeds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common.files import read_json

if TYPE_CHECKING:
    from types import ModuleType

    from .config import RegisterParams

DECISION_FILE = Path("reports", "registration.json")


def gate_failures(metrics: dict[str, float], params: RegisterParams, task: ModuleType) -> list[str]:
    """Why the metrics miss the gate: the baseline not beaten (with `beat_baseline`), one reason per
    threshold not met (empty: passed)."""
    failures = []
    main = task.RANKING[0]
    baseline = metrics.get(f"baseline_{main}")
    beaten = baseline is None or task.METRICS[main].better(metrics[main], baseline)
    if params.beat_baseline and not beaten:
        failures.append(f"{main}={metrics[main]:.4f} does not beat the baseline's {baseline:.4f}")
    for name, threshold in params.gate.items():
        value = metrics[name]
        if not task.METRICS[name].meets(value, threshold):
            side = "below" if task.METRICS[name].higher_is_better else "above"
            failures.append(f"{name}={value:.4f} is {side} the gate's {threshold}")
    return failures


def main() -> None:
    if not DECISION_FILE.exists():
        sys.exit(f"error: {DECISION_FILE} not found: run `dvc repro` first")
    decision = read_json(DECISION_FILE)
    if not decision["registered"]:
        sys.exit(f"gate: failed: {decision['reason']}")
    print(f"gate: passed: {decision['model_name']} version {decision['model_version']}")


if __name__ == "__main__":
    main()
