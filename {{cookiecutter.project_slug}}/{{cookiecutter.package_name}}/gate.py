"""Exit 1 unless the latest model passed the registration gate: `python -m <package>.gate`.

Reads the decision that `register` wrote (reports/registration.json), so CI can fail a change
whose model misses `register.gate` in params.yaml, while `dvc repro` itself still succeeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .files import read_json

DECISION_FILE = Path("reports", "registration.json")


def main() -> None:
    if not DECISION_FILE.exists():
        sys.exit(f"error: {DECISION_FILE} not found: run `dvc repro` first")
    decision = read_json(DECISION_FILE)
    if not decision["registered"]:
        sys.exit(f"gate: failed: {decision['reason']}")
    print(f"gate: passed: {decision['model_name']} version {decision['model_version']}")


if __name__ == "__main__":
    main()
