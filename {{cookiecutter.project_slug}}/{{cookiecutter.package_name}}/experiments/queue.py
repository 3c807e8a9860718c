"""The one client of DVC's experiment queue that sweep and tune share: DVC commands, the queue's
states, its workers, and what `dvc exp run --queue` printed."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..common.errors import PipelineError
from ..common.project import process_exists

# The states `dvc queue status` shows an experiment in.
QUEUED, RUNNING, SUCCESS, FAILED = "Queued", "Running", "Success", "Failed"
FINISHED = (SUCCESS, FAILED)
# What `dvc exp run --queue` prints for each experiment it queues.
QUEUED_LINE = re.compile(r"Queued experiment '([^']+)'")
QUEUED_WITH = re.compile(
    r"Queueing with overrides '(?P<overrides>.*)'\.\nQueued experiment '(?P<name>[^']+)'"
)


def dvc(*args: str) -> str:
    """Run a DVC command of this environment; raise PipelineError with its output on failure.

    Output goes through a temporary file, not a pipe: `dvc queue start` leaves workers running
    that inherit it, and reading a pipe would wait for them to exit.
    """
    with tempfile.TemporaryFile(mode="w+") as output:
        result = subprocess.run([sys.executable, "-m", "dvc", *args], stdout=output, stderr=subprocess.STDOUT)
        output.seek(0)
        text = output.read()
    if result.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(args)}` failed:\n{text}")
    return text


def queue_states(output: str | None = None) -> dict[str, str]:
    """Experiment name -> state (Queued, Running, Success, Failed), from `dvc queue status`."""
    states = {}
    for line in (output if output is not None else dvc("queue", "status")).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[-1] in (QUEUED, RUNNING, *FINISHED):
            states[fields[1]] = fields[-1]
    return states


EXPERIMENT_REF = re.compile(r"refs/exps/[0-9a-f]{2}/[0-9a-f]+/(?P<name>.+)")


def saved_experiment_refs() -> list[str]:
    """The name of each experiment the repository holds, once per baseline commit: DVC saves a
    successful experiment as a Git ref refs/exps/<baseline>/<name>, after its pipeline ran. An
    experiment stopped in between (`dvc queue kill`) may have logged a finished MLflow run and
    still have no ref. Reading them is one `git for-each-ref`."""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], capture_output=True, text=True
    ).stdout.split()
    return [match["name"] for match in map(EXPERIMENT_REF.fullmatch, refs) if match]


def experiments_saved() -> int:
    """How many experiments the repository holds (see saved_experiment_refs)."""
    return len(saved_experiment_refs())


def worker_pids() -> list[int]:
    """Process ids of the queue's workers that are still alive."""
    alive = []
    for pid_file in Path(".dvc", "tmp", "exps", "celery").glob("*.pid"):
        with contextlib.suppress(ValueError, FileNotFoundError):
            pid = int(pid_file.read_text())
            if process_exists(pid):
                alive.append(pid)
    return alive


def stop_idle_workers(wait: float = 30.0) -> None:
    """Stop DVC queue workers left running after the queue emptied, and wait for them to exit: a
    worker still shutting down may take an experiment queued meanwhile (the next batch of
    `make tune`) and never run it."""
    for pid in worker_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while worker_pids() and time.monotonic() < deadline:
        time.sleep(0.2)


def experiment_log(task: str) -> str:
    """A queued experiment's log (`dvc queue logs`), or what DVC says when it has none."""
    try:
        return dvc("queue", "logs", task)
    except PipelineError as error:
        return str(error)


def set_param_args(values: list[str]) -> list[str]:
    """`-S value` for each value, as `dvc exp run` takes them."""
    return [arg for value in values for arg in ("-S", value)]


def queued_overrides(output: str) -> dict[str, list[str]]:
    """Experiment name -> its `-S` values (`file:key=value`), from what `dvc exp run --queue`
    printed; an experiment whose overrides can't be read is left out."""
    found = {}
    for match in QUEUED_WITH.finditer(output):
        with contextlib.suppress(ValueError, SyntaxError, AttributeError):
            by_file = ast.literal_eval(match["overrides"])  # {'params.yaml': ['train.seed=1']}
            found[match["name"]] = [f"{file}:{value}" for file, values in by_file.items() for value in values]
    return found


def use_this_environment() -> None:
    """Put this environment's executables first on PATH: DVC's workers start `dvc`, and the stages
    `python`, from PATH."""
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
