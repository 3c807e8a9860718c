"""experiments.queue: what DVC's queue commands print, read back; and the `-S` values given to them.
The outputs below are written the way DVC 3 prints them."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.experiments.queue import queue_states, queued_overrides, set_param_args

# `dvc queue status` with an experiment in each state, and one queued by an older DVC.
QUEUE_STATUS = """\
Task     Name        Created       Status
4f1c2a3  tune-0      10:42 AM      Success
9b8e7d6  tune-1      10:42 AM      Failed
1a2b3c4  rainy-fern  Oct 21, 2024  Running
5d6e7f8  bushy-oaks  10:43 AM      Queued
0a0b0c0  old-exp     Jan 02, 2023  Unknown

Worker status: 1 active, 0 idle
"""
# `dvc exp run --queue -S train.n_estimators=50,100 -S evaluate.positive_class='yes'`, then an
# experiment queued without -S, and one whose overrides are not a Python literal.
QUEUED = """\
Queueing with overrides '{'params.yaml': ['train.n_estimators=50', "evaluate.positive_class='yes'"]}'.
Queued experiment 'rainy-fern' for future execution.
Queueing with overrides '{'params.yaml': ['train.n_estimators=100', "evaluate.positive_class='yes'"]}'.
Queued experiment 'bushy-oaks' for future execution.
Queued experiment 'plain-exp' for future execution.
Queueing with overrides '{'params.yaml': [train.seed=1]}'.
Queued experiment 'odd-exp' for future execution.
"""


def test_queue_states_reads_each_experiment_and_its_state() -> None:
    assert queue_states(QUEUE_STATUS) == {
        "tune-0": "Success",
        "tune-1": "Failed",
        "rainy-fern": "Running",
        "bushy-oaks": "Queued",
    }


def test_an_empty_queue_has_no_states() -> None:
    assert queue_states("No experiment tasks in the queue.\n\nWorker status: 0 active, 0 idle\n") == {}


def test_queued_overrides_are_read_per_experiment_as_file_and_value() -> None:
    assert queued_overrides(QUEUED) == {
        "rainy-fern": ["params.yaml:train.n_estimators=50", "params.yaml:evaluate.positive_class='yes'"],
        "bushy-oaks": ["params.yaml:train.n_estimators=100", "params.yaml:evaluate.positive_class='yes'"],
    }
    assert queued_overrides("") == {}


def test_each_value_gets_its_own_set_param_flag() -> None:
    values = ["params.yaml:train.n_estimators=50", "params.yaml:evaluate.positive_class='yes'"]
    assert set_param_args(values) == [
        "-S",
        "params.yaml:train.n_estimators=50",
        "-S",
        "params.yaml:evaluate.positive_class='yes'",
    ]
    assert set_param_args([]) == []
