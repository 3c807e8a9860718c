"""Stage `register`: register the evaluated model if it passes the gate in `params.yaml`.

A passing model becomes a version of `register.model_name` in the MLflow Model Registry, with
alias `staging` (never two versions for one run: DVC's run cache may replay this stage). The
decision, passed or not and why, is written to `--out`, so it is part of DVC's lineage.
Promotion to `production` is a separate, deliberate step: `python -m <package>.promote`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import tracking
from ..config import RegisterParams, load_params
from ..errors import run_main
from ..files import read_json, write_json
from ..task import METRICS

CANDIDATE_ALIAS = "staging"


def gate_failures(metrics: dict[str, float], gate: dict[str, float]) -> list[str]:
    """Why the metrics miss the gate: one reason per threshold not met (empty: passed)."""
    failures = []
    for name, threshold in gate.items():
        value = metrics[name]
        if METRICS[name].higher_is_better and value < threshold:
            failures.append(f"{name}={value:.4f} is below the gate's {threshold}")
        elif not METRICS[name].higher_is_better and value > threshold:
            failures.append(f"{name}={value:.4f} is above the gate's {threshold}")
    return failures


def register(run: dict[str, str], metrics: dict[str, float], params: RegisterParams) -> dict:
    """Apply the gate; register and alias the model if it passes. Return the decision."""
    decision = {"model_name": params.model_name, "mlflow_run_id": run["mlflow_run_id"]}
    failures = gate_failures(metrics, params.gate)
    if failures:
        return decision | {"registered": False, "reason": "; ".join(failures)}
    tracking.connect()
    version = tracking.register(run["model_uri"], params.model_name, run["mlflow_run_id"])
    tracking.set_alias(params.model_name, CANDIDATE_ALIAS, version.version)
    return decision | {
        "registered": True,
        "reason": "passed the gate",
        "model_version": int(version.version),
        "alias": CANDIDATE_ALIAS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="metrics.json written by evaluate")
    parser.add_argument("--run-file", type=Path, required=True, help="run file written by evaluate")
    parser.add_argument("--out", type=Path, required=True, help="where to write the decision")
    args = parser.parse_args()
    params = load_params().registry
    decision = register(read_json(args.run_file), read_json(args.metrics), params)
    write_json(args.out, decision)
    if decision["registered"]:
        print(
            f"register: models:/{params.model_name}@{CANDIDATE_ALIAS} -> version {decision['model_version']}"
        )
    else:
        print(f"register: not registered: {decision['reason']}")


if __name__ == "__main__":
    run_main(main)
