"""params.yaml is read into validated settings; a bad value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.config import PARAMS_FILE, load_params
from {{ cookiecutter.package_name }}.tasks import current

METRICS = current().METRICS


def write_params(tmp_path: Path, change) -> Path:
    """A copy of the project's params.yaml with `change(params_dict)` applied."""
    params = yaml.safe_load(PARAMS_FILE.read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_project_params_are_valid() -> None:
    params = load_params()
    assert 0 < params.prepare.test_size < 1
    assert set(params.registry.gate) <= set(METRICS)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p["train"].update(n_estimators=-5), "train.n_estimators must be greater than 0, got -5"),
        (
            lambda p: p["train"].update(n_estimators="abc"),
            "train.n_estimators must be a valid integer, got 'abc'",
        ),
        (lambda p: p["prepare"].update(test_size=1.5), "prepare.test_size must be less than 1, got 1.5"),
        (lambda p: p["train"].update(n_estimatorz=5), "train.n_estimatorz is not a known setting"),
        (lambda p: p.pop("evaluate"), "evaluate is missing"),
        (lambda p: p["train"].update(max_depth=0), "train.max_depth must be greater than 0, got 0"),
        (lambda p: p["prepare"].update(seed=1.5), "prepare.seed must be a valid integer, got 1.5"),
        (lambda p: p["prepare"].update(test_size=0), "prepare.test_size must be greater than 0, got 0"),
        (
            lambda p: p["train"].update(model="svm"),
            "train.model must be 'random_forest', 'gradient_boosting', 'xgboost', 'lightgbm' or 'linear'",
        ),
        (
            lambda p: p["register"]["gate"].update(nonsense=0.5),
            "register.gate.nonsense is not a metric of this task",
        ),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, change, expected: str) -> None:
    with pytest.raises(PipelineError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        load_params(write_params(tmp_path, change))


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"prepare.seed": [1, 2]}, "tune.space.prepare.seed is not a param of train"),
        (
            {"train.max_depth": {"low": 8, "high": 2}},
            "tune.space.train.max_depth: low must be below high, got 8 and 2",
        ),
        ({"train.regularization": {"low": 0, "high": 1, "log": True}}, "a log scale needs low > 0, got 0"),
        ({"train.model": ["linear"]}, "tune.space.train.model lists 1 choice"),
        ({}, "tune.space names no param"),
    ],
)
def test_a_bad_search_space_names_the_param(tmp_path: Path, space: dict, expected: str) -> None:
    with pytest.raises(PipelineError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        load_params(write_params(tmp_path, lambda p: p["tune"].update(space=space)))


def test_the_objective_is_a_metric_of_the_task(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="tune.metric 'nonsense' is not a metric of this task"):
        load_params(write_params(tmp_path, lambda p: p["tune"].update(metric="nonsense")))


def test_gate_threshold_outside_the_metric_range(tmp_path: Path) -> None:
    name, metric = next((n, m) for n, m in METRICS.items() if m.high != float("inf"))
    with pytest.raises(PipelineError, match=rf"register\.gate\.{name} must lie in"):
        load_params(write_params(tmp_path, lambda p: p["register"]["gate"].update({name: metric.high + 1})))


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(PipelineError, match="is not valid YAML"):
        load_params(path)
