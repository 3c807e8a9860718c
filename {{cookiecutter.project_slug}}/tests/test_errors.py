"""common.errors: what a command prints when it stops on an error it can explain, and what it lets
through."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.common import errors
from {{ cookiecutter.package_name }}.common.errors import PipelineError, explain_with, run_main


class QuotaExceeded(Exception):
    """Another library's exception, which run_main knows only through an explainer."""


def quota(error: Exception) -> str | None:
    """An explainer: one line for QuotaExceeded, None for anything else."""
    return (
        f"the store is full ({error.args[0]} GB used): free some space"
        if isinstance(error, QuotaExceeded)
        else None
    )


@pytest.fixture
def explainers(monkeypatch: pytest.MonkeyPatch) -> list:
    """The explainers run_main consults, as a copy that this test may add to."""
    copy = list(errors.EXPLAINERS)
    monkeypatch.setattr(errors, "EXPLAINERS", copy)
    return copy


def test_a_pipeline_error_is_one_error_line_and_exit_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    def bad_params() -> None:
        print("train: reading params.yaml")
        raise PipelineError("params.yaml: train.n_estimators must be greater than 0, got -5")

    with pytest.raises(SystemExit) as exit_info:
        run_main(bad_params)
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == "train: reading params.yaml\n"
    assert err == "error: params.yaml: train.n_estimators must be greater than 0, got -5\n"


def test_a_system_error_is_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def disk_full() -> None:
        raise OSError(28, "No space left on device", "models/model.skops")

    with pytest.raises(SystemExit) as exit_info:
        run_main(disk_full)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: [Errno 28] No space left on device: 'models/model.skops'\n"


def test_a_command_that_succeeds_returns(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(lambda: print("done")) is None
    assert capsys.readouterr() == ("done\n", "")


def test_an_explainer_turns_a_foreign_exception_into_one_line(
    explainers: list, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain_with(quota) is quota  # usable as a decorator
    assert explainers[-1] is quota

    def upload() -> None:
        raise QuotaExceeded(5)

    with pytest.raises(SystemExit) as exit_info:
        run_main(upload)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "error: the store is full (5 GB used): free some space\n"


def test_an_exception_no_explainer_recognises_propagates(
    explainers: list, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug keeps its traceback: run_main does not hide what it can't explain."""
    explain_with(quota)

    def bug() -> None:
        raise KeyError("no such column")

    with pytest.raises(KeyError, match="no such column"):
        run_main(bug)
    assert capsys.readouterr().err == ""
