"""experiments.sweep: which failed experiments are worth another run, and the end of a log that
shows why one failed."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.experiments.sweep import has_pipeline_error, log_tail, worth_another_run

# A stage that stopped on a PipelineError, and DVC's own report of it.
PIPELINE_ERROR_LOG = """\
Running stage 'prepare':
> python -m {{ cookiecutter.package_name }}.stages.prepare --schema data/schema.yaml --out data/prepared
error: params.yaml: prepare.test_size must be less than 1, got 1.5
ERROR: failed to reproduce 'prepare': failed to run: python -m {{ cookiecutter.package_name }}.stages.prepare, exited with 1
"""
# A worker that failed while setting the experiment up: DVC's error alone (treeverse/dvc#10673).
SETUP_FAILURE_LOG = """\
ERROR: unexpected error - [Errno 2] No such file or directory: '.dvc/tmp/exps/run/ab12cd3/infofile'
"""


def test_a_pipeline_error_is_an_error_line_of_a_stage_not_of_dvc() -> None:
    assert has_pipeline_error(PIPELINE_ERROR_LOG)
    assert not has_pipeline_error(SETUP_FAILURE_LOG)
    assert not has_pipeline_error("    raise ValueError('error: not at the start of the line')\n")
    assert not has_pipeline_error("")


def test_the_log_tail_is_its_last_lines() -> None:
    log = "".join(f"line {number}\n" for number in range(1, 21)) + "\n\n"
    assert log_tail(log) == "\n".join(f"line {number}" for number in range(9, 21))  # the last 12
    assert log_tail(log, lines=2) == "line 19\nline 20"
    assert log_tail("one line\n") == "one line"


def test_failed_experiments_of_the_grid_without_a_pipeline_error_are_worth_another_run() -> None:
    states = {
        "grid-1": "Success",
        "grid-2": "Failed",
        "grid-3": "Failed",
        "grid-4": "Failed",
        "before": "Failed",  # queued before the sweep: its overrides are unknown
    }
    logs = {"grid-4": SETUP_FAILURE_LOG, "grid-3": PIPELINE_ERROR_LOG, "grid-2": "", "before": ""}
    overrides = {
        name: [f"params.yaml:train.seed={name[-1]}"] for name in ("grid-1", "grid-2", "grid-3", "grid-4")
    }
    assert worth_another_run(states, logs, overrides) == ["grid-2", "grid-4"]


def test_nothing_is_run_again_when_no_experiment_succeeded() -> None:
    """A crash in every experiment is a bug in the code, not the queue's."""
    states = {"grid-1": "Failed", "grid-2": "Failed"}
    logs = {"grid-1": SETUP_FAILURE_LOG, "grid-2": SETUP_FAILURE_LOG}
    overrides = {"grid-1": ["params.yaml:train.seed=1"], "grid-2": ["params.yaml:train.seed=2"]}
    assert worth_another_run(states, logs, overrides) == []
