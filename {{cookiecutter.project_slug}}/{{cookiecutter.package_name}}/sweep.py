"""Queue a grid of DVC experiments, run the whole queue in parallel, and compare the results.

    python -m <package>.sweep -S 'train.n_estimators=50,100,200' -S 'train.max_depth=4,8' --jobs 2
    (or: make sweep)

Each combination becomes one `dvc exp run --queue` experiment; experiments queued earlier run
too. Progress is printed as experiments finish. Every experiment logs its own MLflow run into
this project's store; at the end the runs are printed side by side, best first. Exits non-zero
if any experiment failed, naming it and printing the end of its log.

DVC's parallel workers sometimes fail an experiment while setting it up, leaving it no log
(treeverse/dvc#10673): not the experiment's fault. So an experiment of the grid that fails
without a pipeline error is queued once more, with the same name and params, after the end of
its log is printed. Not retried: a pipeline error (a bad param, bad data, a full disk: an
`error: ...` line in the log), experiments queued before the sweep, any experiment when none
succeeded (a crash in every experiment is a bug in the code), or when the workspace changed
since the grid was queued (the rerun would start from the changed workspace).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import tracking
from .errors import ERROR_PREFIX, PipelineError, run_main
from .failpoints import fail_point

FINISHED = ("Success", "Failed")
LOG_TAIL_LINES = 12  # of a failed experiment's log, printed at the end
# What `dvc exp run --queue` prints for each experiment it queues.
QUEUED = re.compile(r"Queued experiment '([^']+)'")
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
        if len(fields) >= 4 and fields[-1] in ("Queued", "Running", *FINISHED):
            states[fields[1]] = fields[-1]
    return states


def experiments_saved() -> int:
    """How many experiments the repository holds: DVC saves each successful one as a Git ref
    under refs/exps/. Counting them is one `git for-each-ref`, milliseconds."""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], capture_output=True, text=True
    ).stdout.split()
    return sum(1 for ref in refs if re.fullmatch(r"refs/exps/[0-9a-f]{2}/[0-9a-f]+/.+", ref))


def worker_pids() -> list[int]:
    """Process ids of the queue's workers that are still alive."""
    alive = []
    for pid_file in Path(".dvc", "tmp", "exps", "celery").glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
            pid = int(pid_file.read_text())
            os.kill(pid, 0)
            alive.append(pid)
    return alive


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


def queue_grid(set_params: list[str]) -> tuple[set[str], dict[str, list[str]]]:
    """Queue one experiment per combination of `set_params`. Return the names of all experiments
    waiting to run (these and any queued before), and the `-S` values of those queued here.
    The queue's state is read while DVC queues."""
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(dvc, "queue", "status")
        queued = dvc("exp", "run", "--queue", *set_param_args(set_params)) if set_params else ""
        print(queued, end="")
        waiting = {name for name, state in queue_states(status.result()).items() if state not in FINISHED}
    return waiting | set(QUEUED.findall(queued)), queued_overrides(queued)


def run_queue(waiting: set[str], jobs: int, timeout: float, stall: float = 15.0) -> dict[str, str]:
    """Start `jobs` workers and wait until the `waiting` experiments have run; return their states.

    Waiting is nearly free while experiments run: each second it checks the workers' pid files and
    counts the experiments saved. `dvc queue status` (~1-2 s, taken from the experiments) runs
    only to confirm the end: once as many experiments are saved as were waiting, when the workers
    have exited, or after `stall` seconds without a new one (a failed experiment saves nothing).
    This replaces `dvc exp run --run-all`, which can hang after the last task when a worker fails
    to shut down (treeverse/dvc#10398); such idle workers are stopped, and waited for.
    """
    saved_before = experiments_saved()
    # Workers left by a killed run (or still shutting down) run the queue on their own: another
    # generation started beside them can take an experiment and drop it (it stays Queued).
    if not worker_pids():
        dvc("queue", "start", "--jobs", str(jobs))
    fail_point("sweep.queue_started")  # the workers run on without this process
    started = time.monotonic()
    deadline = started + timeout
    last_event, last_saved, restarts = started, 0, 0
    try:
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now, saved = time.monotonic(), experiments_saved() - saved_before
            new_result, stalled = saved != last_saved, now - last_event > stall
            if new_result:
                print(f"sweep: {min(saved, len(waiting))}/{len(waiting)} done", flush=True)
            workers_gone = now - started > 5.0 and not worker_pids()  # 5 s to write their pid files
            if (new_result and saved >= len(waiting)) or workers_gone or stalled:
                states = {name: state for name, state in queue_states().items() if name in waiting}
                counts = Counter(states.values())
                if not counts["Queued"] and not counts["Running"]:
                    return states
                if workers_gone:  # they left experiments behind: start them again, a few times
                    if restarts == 3:
                        raise PipelineError(
                            "DVC's queue workers keep stopping with experiments left; see `dvc queue status`"
                        )
                    dvc("queue", "start", "--jobs", str(jobs))
                    started, restarts = time.monotonic(), restarts + 1
            if new_result or stalled:
                last_event, last_saved = now, saved
        raise PipelineError(f"the queue is still busy after {timeout:.0f} s; see `dvc queue status`")
    finally:
        stop_idle_workers()


def experiment_log(task: str) -> str:
    """A queued experiment's log (`dvc queue logs`), or what DVC says when it has none."""
    try:
        return dvc("queue", "logs", task)
    except PipelineError as error:
        return str(error)


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of an experiment's log, where its error is."""
    return "\n".join(log.rstrip().splitlines()[-lines:])


def has_pipeline_error(log: str) -> bool:
    """Whether a stage of the experiment stopped on a PipelineError (its `error: ...` line)."""
    return any(line.startswith(ERROR_PREFIX) for line in log.splitlines())


def workspace_state() -> tuple[str | None, str | None]:
    """The commit and the uncommitted changes that a newly queued experiment starts from."""
    return tracking.git("rev-parse", "HEAD"), tracking.git("status", "--porcelain")


def worth_another_run(
    states: dict[str, str], logs: dict[str, str], overrides: dict[str, list[str]]
) -> list[str]:
    """The failed experiments of the grid (those with known `overrides`) that ended without a
    pipeline error, if any experiment succeeded: see the module docstring."""
    if "Success" not in states.values():
        return []
    return sorted(task for task, log in logs.items() if task in overrides and not has_pipeline_error(log))


def requeue(names: list[str], overrides: dict[str, list[str]]) -> list[str]:
    """Queue these failed experiments again, under the same names with the same params; return
    those queued (one that can't be is said, and keeps its failure)."""
    queued = []
    for name in names:
        try:
            dvc("queue", "remove", name)
            dvc("exp", "run", "--queue", "--name", name, *set_param_args(overrides[name]))
        except PipelineError as error:
            print(f"sweep: could not queue {name} again: {error}", flush=True)
            continue
        queued.append(name)
    return queued


def run_grid(
    waiting: set[str], overrides: dict[str, list[str]], jobs: int, timeout: float
) -> tuple[dict[str, str], dict[str, str]]:
    """Run the `waiting` experiments (see run_queue), then once more those worth another run (see
    worth_another_run), all within `timeout`. Return every experiment's state, and each failed
    experiment's log."""
    deadline, workspace = time.monotonic() + timeout, workspace_state()
    states = run_queue(waiting, jobs, timeout)
    logs = {task: experiment_log(task) for task, state in states.items() if state == "Failed"}
    again = worth_another_run(states, logs, overrides)
    if again and workspace_state() != workspace:
        print(f"sweep: not running {', '.join(again)} again: the workspace changed since they were queued")
        again = []
    for task in again:
        print(f"--- {task} failed without a pipeline error; the end of its log:\n{log_tail(logs[task])}")
    requeued = requeue(again, overrides)
    if requeued:
        print(f"sweep: running {len(requeued)} experiment(s) again: {', '.join(requeued)}", flush=True)
        rerun = run_queue(set(requeued), min(jobs, len(requeued)), deadline - time.monotonic())
        states |= rerun
        for task, state in rerun.items():
            logs.pop(task)
            if state == "Failed":
                logs[task] = experiment_log(task)
    return states, logs


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-S",
        "--set-param",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a param and its values; repeat for a grid (as in `dvc exp run -S`)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="experiments run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the queue")
    args = parser.parse_args()
    # DVC's workers start `dvc`, and the stages `python`, from PATH: make both this environment's.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    waiting, overrides = queue_grid(args.set_param)
    if not waiting:
        raise PipelineError(
            "nothing to run: give a grid with -S, or queue experiments with `dvc exp run --queue`"
        )
    states, logs = run_grid(waiting, overrides, args.jobs, args.timeout)
    print(f"sweep: {len(states)}/{len(waiting)} done ({len(logs)} failed)", flush=True)
    from .compare import show_runs  # imports pandas and MLflow: only now

    show_runs(limit=max(len(states) + 5, 10))
    failed = sorted(logs)
    for task in failed:
        print(f"--- {task}: the end of `dvc queue logs {task}`\n{log_tail(logs[task])}", file=sys.stderr)
    if failed:
        raise PipelineError(
            f"{len(failed)} experiment(s) failed: {', '.join(failed)}; see `dvc queue logs <task>`"
        )


if __name__ == "__main__":
    run_main(main)
