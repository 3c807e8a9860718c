"""The registration gate: why a model's metrics miss it, and `make gate`'s verdict."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from {{ cookiecutter.package_name }}.common.files import write_json
from {{ cookiecutter.package_name }}.config import RegisterParams
from {{ cookiecutter.package_name }}.gate import DECISION_FILE, gate_failures, main
from {{ cookiecutter.package_name }}.tasks.metric import Metric

# A task of two metrics, ranked by the score: its baseline is `baseline_score`.
TASK = SimpleNamespace(
    METRICS={"score": Metric(True, 0.0, 1.0), "loss": Metric(False, 0.0, float("inf"))},
    RANKING=("score", "loss"),
)


def gate(beat_baseline: bool = True, **thresholds: float) -> RegisterParams:
    settings = {"model_name": "my-model", "beat_baseline": beat_baseline, "gate": thresholds}
    return RegisterParams.model_validate(settings, context={"metrics": TASK.METRICS})


def test_a_model_that_reaches_every_threshold_and_beats_the_baseline_passes() -> None:
    metrics = {"score": 0.85, "loss": 0.4, "baseline_score": 0.5}
    assert gate_failures(metrics, gate(score=0.8, loss=0.5), TASK) == []
    exactly = {"score": 0.8, "loss": 0.5, "baseline_score": 0.5}  # a threshold reached is met
    assert gate_failures(exactly, gate(score=0.8, loss=0.5), TASK) == []


def test_each_miss_is_one_reason() -> None:
    metrics = {"score": 0.45, "loss": 0.6, "baseline_score": 0.5}
    assert gate_failures(metrics, gate(score=0.8, loss=0.5), TASK) == [
        "score=0.4500 does not beat the baseline's 0.5000",
        "score=0.4500 is below the gate's 0.8",
        "loss=0.6000 is above the gate's 0.5",
    ]


def test_the_baseline_must_be_beaten_not_tied_unless_beat_baseline_is_off() -> None:
    tied = {"score": 0.5, "loss": 0.6, "baseline_score": 0.5}
    assert gate_failures(tied, gate(), TASK) == ["score=0.5000 does not beat the baseline's 0.5000"]
    assert gate_failures(tied, gate(beat_baseline=False), TASK) == []
    assert gate_failures({"score": 0.5, "loss": 0.6}, gate(), TASK) == []  # logged before baselines were


def test_make_gate_exits_with_the_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        SystemExit, match=r"error: reports/registration.json not found: run `dvc repro` first"
    ):
        main()
    write_json(DECISION_FILE, {"registered": False, "reason": "score=0.4500 is below the gate's 0.8"})
    with pytest.raises(SystemExit, match=r"^gate: failed: score=0.4500 is below the gate's 0.8$"):
        main()
    write_json(DECISION_FILE, {"registered": True, "model_name": "my-model", "model_version": 3})
    main()
    assert capsys.readouterr().out == "gate: passed: my-model version 3\n"
