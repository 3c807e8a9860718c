"""`make promote` (ops.promote) with an MLflow store of the test's own: the workspace's model, the
gate checked again, and production beaten or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import METRICS, TASK, run_pipeline

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.common.files import write_json
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.ops.promote import promote
from {{ cookiecutter.package_name }}.stages.register import CANDIDATE_ALIAS, register
from {{ cookiecutter.package_name }}.tracking import registry, runs


def test_promote_takes_the_workspace_model_not_the_last_registered(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    """Two experiments register versions 1 and 2 (2 holds `staging`); the workspace holds 1's
    decision (`dvc exp apply`): promote moves `production` to 1, and re-checks gate and production."""
    lenient = params.model_copy(
        update={"registry": params.registry.model_copy(update={"gate": {}, "beat_baseline": False})}
    )
    decision_file = tmp_path / "registration.json"
    with pytest.raises(PipelineError, match="registration.json not found"):
        promote(lenient, decision_file=decision_file)
    decisions = []
    for top_features in (3, 4):  # two runs of the same model: equal metrics
        changed = lenient.evaluate.model_copy(update={"top_features": top_features})
        variant = lenient.model_copy(update={"evaluate": changed})
        run, metrics = run_pipeline(tiny_raw, tmp_path / str(top_features), variant)
        decisions.append(register(run, metrics, lenient.registry, TASK))
    name = lenient.registry.model_name
    assert int(registry.version_by_alias(name, CANDIDATE_ALIAS).version) == 2
    write_json(decision_file, decisions[0])

    assert promote(lenient, decision_file=decision_file) == f"models:/{name}@production -> version 1"
    assert int(registry.version_by_alias(name, "production").version) == 1
    assert "already" in promote(lenient, decision_file=decision_file)
    with pytest.raises(PipelineError, match=r"version 2 \(.*\) does not beat production version 1"):
        promote(lenient, version=2)
    metric, rule = next(iter(METRICS.items()))
    value = runs.run_metrics(decisions[1]["mlflow_run_id"])[metric]
    unreachable = {metric: value + 0.5 if rule.higher_is_better else value - 0.5}
    strict_gate = lenient.registry.model_copy(update={"gate": unreachable})
    strict = lenient.model_copy(update={"registry": strict_gate})
    with pytest.raises(PipelineError, match=f"version 2 fails the gate: {metric}="):
        promote(strict, version=2)
    no_contest = lenient.promote.model_copy(update={"must_beat_production": False})
    anyway = lenient.model_copy(update={"promote": no_contest})
    assert promote(anyway, version=2).endswith("-> version 2")
    with pytest.raises(PipelineError, match="has no version 3"):
        promote(lenient, version=3)
    write_json(decision_file, decisions[0] | {"mlflow_run_id": "0" * 32})  # a decision of another store
    with pytest.raises(PipelineError, match="is not the model of MLflow run 0+ that"):
        promote(anyway, decision_file=decision_file)
