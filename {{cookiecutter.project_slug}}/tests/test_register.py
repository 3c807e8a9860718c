"""Stages `evaluate` and `register` on tiny data, with an MLflow store of the test's own: one run
with its lineage, the gate, and no second run or version for the same inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import METRICS, RANKING, TABLE, TASK, record_run, run_pipeline

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.common.project import pyproject
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.stages.register import CANDIDATE_ALIAS, register
from {{ cookiecutter.package_name }}.tracking import lineage, registry, store


def test_evaluate_and_register_log_one_run_with_lineage(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    assert set(metrics) == {*METRICS, f"baseline_{RANKING[0]}"}
    assert json.loads((tmp_path / "live" / "metrics.json").read_text()) == pytest.approx(metrics)
    logged = store.client().get_run(run["mlflow_run_id"])
    # A boosted model's run also holds its training curve's last losses (train's dvclive summary).
    curve = json.loads((tmp_path / "curve" / "metrics.json").read_text()).get("loss", {})
    assert logged.data.metrics == pytest.approx(
        metrics | {f"loss/{split}": value for split, value in curve.items()}
    )
    assert logged.data.params["train.n_estimators"] == str(params.train.n_estimators)
    assert logged.data.tags["dvc_data_md5"] == lineage.file_md5(tiny_raw)
    assert logged.inputs.dataset_inputs[0].dataset.digest == lineage.file_md5(tiny_raw)
    artifacts = {item.path for item in store.client().list_artifacts(run["mlflow_run_id"], "plots")}
    assert "plots/feature_importances.png" in artifacts
    assert logged.data.tags["data_schema_md5"] == lineage.file_md5(schema.SCHEMA_FILE)
    assert logged.data.tags["data_source"] == tiny_raw.as_posix()
    # In the MLflow UI: named after where it ran, described in one line
    commit = logged.data.tags.get("git_commit", "")
    assert logged.info.run_name == logged.data.tags.get("dvc_exp_name", f"workspace@{commit[:7]}")
    main = RANKING[0]
    described = f"{params.train.model} on {tiny_raw.name} (data {lineage.file_md5(tiny_raw)[:8]}): "
    assert logged.data.tags["mlflow.note.content"].startswith(f"{described}{main}={metrics[main]:.4f}; ")
    from mlflow.models import get_model_info

    inputs = {spec.name: spec for spec in get_model_info(run["model_uri"]).signature.inputs.inputs}
    assert list(inputs) == TABLE.features()  # the table's feature columns, as the schema types them
    for name, spec in inputs.items():
        column = TABLE.columns[name]
        assert spec.type.name == ("double" if column.kind == "number" else "string")
        assert spec.required == (not column.nullable)


def test_register_passes_the_gate_once_per_run(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    lenient = params.registry.model_copy(update={"gate": {}, "beat_baseline": False})
    first = register(run, metrics, lenient, TASK)
    again = register(run, metrics, lenient, TASK)  # DVC's run cache can replay the stage
    assert first["registered"] and first["model_version"] == again["model_version"] == 1
    version = registry.version_by_alias(lenient.model_name, CANDIDATE_ALIAS)
    assert version.run_id == run["mlflow_run_id"]
    # The registry says where the version came from without opening the run.
    logged = store.client().get_run(run["mlflow_run_id"])
    assert version.description == logged.data.tags["mlflow.note.content"]
    assert version.tags["dvc_data_md5"] == lineage.file_md5(tiny_raw)
    assert version.tags["model"] == params.train.model
    assert {name: float(version.tags[name]) for name in RANKING} == pytest.approx(
        {name: metrics[name] for name in RANKING}, abs=1e-4
    )
    registered = store.client().get_registered_model(lenient.model_name)
    assert registered.description == pyproject()["project"]["description"]


def test_a_rerun_on_the_same_inputs_reuses_the_run_and_its_version(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    lenient = params.registry.model_copy(update={"gate": {}, "beat_baseline": False})
    first = register(run, metrics, lenient, TASK)
    # register rerun after it registered but died before writing its decision (or `dvc repro -f`)
    again = register(record_run(tiny_raw, tmp_path, params, metrics), metrics, lenient, TASK)
    assert again == first
    experiment = store.connect()
    assert len(store.client().search_runs([experiment])) == 1
    other = params.model_copy(update={"evaluate": params.evaluate.model_copy(update={"top_features": 2})})
    assert record_run(tiny_raw, tmp_path, other, metrics)["mlflow_run_id"] != run["mlflow_run_id"]


def test_register_refuses_a_model_below_the_gate(
    tiny_raw: Path, tmp_path: Path, params: Params, mlflow_store: str
) -> None:
    run, metrics = run_pipeline(tiny_raw, tmp_path, params)
    name = next(n for n, m in METRICS.items() if m.higher_is_better)
    strict = params.registry.model_copy(update={"gate": {name: METRICS[name].high}})
    metrics[name] = min(metrics[name], METRICS[name].high - 0.01)
    decision = register(run, metrics, strict, TASK)
    assert not decision["registered"] and name in decision["reason"]
    main = RANKING[0]
    no_better = metrics | {main: metrics[f"baseline_{main}"]}  # no better than the trivial baseline
    decision = register(run, no_better, params.registry.model_copy(update={"gate": {}}), TASK)
    assert not decision["registered"] and "does not beat the baseline's" in decision["reason"]
    assert store.client().search_model_versions(f"name = '{strict.model_name}'") == []
