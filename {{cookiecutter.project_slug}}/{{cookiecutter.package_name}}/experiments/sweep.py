"""Queue a grid of DVC experiments, run the whole queue in parallel, and compare the results.

    python -m <package>.experiments.sweep -S 'train.n_estimators=50,100,200' -S 'train.max_depth=4,8' --jobs 2
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
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from ..common.errors import ERROR_PREFIX, PipelineError, run_main
from ..common.failpoints import fail_point
from ..common.project import git
from .queue import (
    FAILED,
    FINISHED,
    QUEUED,
    QUEUED_LINE,
    RUNNING,
    SUCCESS,
    dvc,
    experiment_log,
    experiments_saved,
    queue_states,
    queued_overrides,
    set_param_args,
    stop_idle_workers,
    use_this_environment,
    worker_pids,
)

LOG_TAIL_LINES = 12  # of a failed experiment's log, printed at the end


def queue_grid(set_params: list[str]) -> tuple[set[str], dict[str, list[str]]]:
    """Queue one experiment per combination of `set_params`. Return the names of all experiments
    waiting to run (these and any queued before), and the `-S` values of those queued here.
    The queue's state is read while DVC queues."""
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(dvc, "queue", "status")
        queued = dvc("exp", "run", "--queue", *set_param_args(set_params)) if set_params else ""
        print(queued, end="")
        waiting = {name for name, state in queue_states(status.result()).items() if state not in FINISHED}
    return waiting | set(QUEUED_LINE.findall(queued)), queued_overrides(queued)


def run_queue(waiting: set[str], jobs: int, timeout: float, stall: float = 15.0) -> dict[str, str]:
    """Start `jobs` workers and wait until the `waiting` experiments have run; return their states.

    Waiting is nearly free while experiments run: each second it checks the workers' pid files and
    counts the experiments saved. `dvc queue status` (a process that takes CPU from the experiments) runs
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
                if not counts[QUEUED] and not counts[RUNNING]:
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


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of an experiment's log, where its error is."""
    return "\n".join(log.rstrip().splitlines()[-lines:])


def has_pipeline_error(log: str) -> bool:
    """Whether a stage of the experiment stopped on a PipelineError (its `error: ...` line)."""
    return any(line.startswith(ERROR_PREFIX) for line in log.splitlines())


def workspace_state() -> tuple[str | None, str | None]:
    """The commit and the uncommitted changes that a newly queued experiment starts from."""
    return git("rev-parse", "HEAD"), git("status", "--porcelain")


def worth_another_run(
    states: dict[str, str], logs: dict[str, str], overrides: dict[str, list[str]]
) -> list[str]:
    """The failed experiments of the grid (those with known `overrides`) that ended without a
    pipeline error, if any experiment succeeded: see the module docstring."""
    if SUCCESS not in states.values():
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
    logs = {task: experiment_log(task) for task, state in states.items() if state == FAILED}
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
            if state == FAILED:
                logs[task] = experiment_log(task)
    return states, logs


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
    use_this_environment()
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
