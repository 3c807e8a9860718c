"""Promote the workspace's registered model version to `production`, re-checking the gate first.

    python -m <package>.ops.promote [--version N]        (or: make promote [VERSION=N])

By default the candidate is the version that the workspace's pipeline registered, as
`reports/registration.json` records it: after `dvc exp apply <experiment>`, the adopted
experiment's model, whichever experiment registered last (and so holds `staging`). `--version`
names another. The candidate must still pass `register.gate` on its logged metrics and, with
`promote.must_beat_production: true`, beat the current production version: rank higher by the
task's RANKING metrics (the first decides, the next breaks a tie). Serve or load the result as
`models:/<model_name>@production`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import tasks
from ..common.errors import PipelineError, run_main
from ..common.failpoints import fail_point
from ..common.files import read_json
from ..common.project import project_root
from ..config import Params, load_params
from ..gate import DECISION_FILE, gate_failures
from ..tasks.metric import outranks
from ..tracking import registry, runs, store, sync

if TYPE_CHECKING:
    from types import ModuleType

    from mlflow.entities.model_registry import ModelVersion

PRODUCTION_ALIAS = "production"


def workspace_version(name: str, decision_file: Path) -> ModelVersion:
    """The version of model `name` that the workspace's `register` stage recorded in `decision_file`."""
    if not decision_file.exists():
        raise PipelineError(
            f"{decision_file} not found: run `dvc repro` (or `dvc exp apply <experiment>`) first, "
            "or name the version: make promote VERSION=<n>"
        )
    decision = read_json(decision_file)
    if not decision.get("registered"):
        raise PipelineError(f"the workspace's model was not registered ({decision.get('reason')})")
    if decision["model_name"] != name:
        raise PipelineError(
            f"{decision_file} records model {decision['model_name']!r}, params.yaml names {name!r}: "
            "run `dvc repro` to register the workspace's model under the new name"
        )
    if "sync" in decision:  # logged while the server was down: its copy there, once sent
        sent = sync.sent_copy(decision["mlflow_run_id"])
        if sent is None:
            raise PipelineError(f"the workspace's model is {decision['sync']}: run `make sync` first")
        return sent
    version = registry.model_version(name, decision["model_version"])
    if version is None or version.run_id != decision["mlflow_run_id"]:
        raise PipelineError(
            f"version {decision['model_version']} of {name!r} in {store.tracking_uri()} is not the "
            f"model of MLflow run {decision['mlflow_run_id']} that {decision_file} records (another "
            "tracking store?): run `dvc repro --force register` to register it there"
        )
    return version


def named_version(name: str, number: int) -> ModelVersion:
    """Version `number` of model `name`."""
    version = registry.model_version(name, number)
    if version is None:
        raise PipelineError(f"model {name!r} has no version {number}: `make compare` lists the versions")
    return version


def promote(params: Params, version: int | None = None, decision_file: Path = DECISION_FILE) -> str:
    """Move the production alias to `version`, by default the workspace's (see the module
    docstring); return what was done."""
    name = params.registry.model_name
    task = tasks.current()
    store.connect()
    candidate = workspace_version(name, decision_file) if version is None else named_version(name, version)
    metrics = runs.run_metrics(candidate.run_id)
    failures = gate_failures(metrics, params.registry, task)
    if failures:
        raise PipelineError(f"version {candidate.version} fails the gate: {'; '.join(failures)}")
    current = registry.version_by_alias(name, PRODUCTION_ALIAS)
    if current is not None and int(current.version) == int(candidate.version):
        return f"version {candidate.version} already has alias {PRODUCTION_ALIAS!r}"
    if current is not None and params.promote.must_beat_production:
        theirs = runs.run_metrics(current.run_id)
        if not outranks(metrics, theirs, task.METRICS, task.RANKING):
            raise PipelineError(
                f"version {candidate.version} ({ranked(metrics, task)}) does not beat production "
                f"version {current.version} ({ranked(theirs, task)}); "
                "set promote.must_beat_production: false to promote anyway"
            )
    fail_point("promote.before_alias")
    registry.set_alias(name, PRODUCTION_ALIAS, candidate.version)
    fail_point("promote.alias_moved")
    return f"models:/{name}@{PRODUCTION_ALIAS} -> version {candidate.version}"


def ranked(metrics: dict[str, float], task: ModuleType) -> str:
    """The RANKING metrics, as `f1_macro=0.9512, log_loss=0.1338`."""
    return ", ".join(f"{name}={metrics.get(name, float('nan')):.4f}" for name in task.RANKING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", type=int, help="the version to promote (default: the workspace's)")
    args = parser.parse_args()
    print(f"promote: {promote(load_params(), args.version, project_root() / DECISION_FILE)}")


if __name__ == "__main__":
    run_main(main)
