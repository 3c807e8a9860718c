"""Promote the `staging` model version to `production`, re-checking the gate first.

    python -m <package>.promote        (or: make promote)

The candidate must still pass `register.gate` on its logged metrics and, with
`promote.must_beat_production: true`, beat the current production version on the task's
main metric. Serve or load the result as `models:/<model_name>@production`.
"""

from __future__ import annotations

from . import tracking
from .config import Params, load_params
from .errors import PipelineError, run_main
from .stages.register import CANDIDATE_ALIAS, gate_failures
from .task import MAIN_METRIC, METRICS

PRODUCTION_ALIAS = "production"


def promote(params: Params) -> str:
    """Move the production alias to the staging version; return what was done."""
    name = params.registry.model_name
    tracking.connect()
    candidate = tracking.version_by_alias(name, CANDIDATE_ALIAS)
    if candidate is None:
        raise PipelineError(f"no version of {name!r} has alias {CANDIDATE_ALIAS!r}: run `dvc repro` first")
    metrics = tracking.run_metrics(candidate.run_id)
    failures = gate_failures(metrics, params.registry.gate)
    if failures:
        raise PipelineError(f"version {candidate.version} fails the gate: {'; '.join(failures)}")
    current = tracking.version_by_alias(name, PRODUCTION_ALIAS)
    if current is not None and int(current.version) == int(candidate.version):
        return f"version {candidate.version} already has alias {PRODUCTION_ALIAS!r}"
    if current is not None and params.promote.must_beat_production:
        mine, theirs = metrics[MAIN_METRIC], tracking.run_metrics(current.run_id)[MAIN_METRIC]
        better = mine > theirs if METRICS[MAIN_METRIC].higher_is_better else mine < theirs
        if not better:
            raise PipelineError(
                f"version {candidate.version} ({MAIN_METRIC}={mine:.4f}) does not beat production "
                f"version {current.version} ({MAIN_METRIC}={theirs:.4f}); "
                "set promote.must_beat_production: false to promote anyway"
            )
    tracking.set_alias(name, PRODUCTION_ALIAS, candidate.version)
    return f"models:/{name}@{PRODUCTION_ALIAS} -> version {candidate.version}"


def main() -> None:
    print(f"promote: {promote(load_params())}")


if __name__ == "__main__":
    run_main(main)
