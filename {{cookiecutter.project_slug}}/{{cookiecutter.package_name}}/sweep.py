"""Queue a grid of DVC experiments, run the whole queue in parallel, and compare the results.

    python -m <package>.sweep -S 'train.n_estimators=50,100,200' -S 'train.max_depth=4,8' --jobs 2
    (or: make sweep)

Each combination becomes one `dvc exp run --queue` experiment; experiments queued earlier run
too. Progress is printed as experiments finish. Every experiment logs its own MLflow run into
this project's store; at the end the runs are printed side by side, best first. Exits non-zero
if any experiment failed, naming it and the command that shows why.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .errors import PipelineError, run_main

FINISHED = ("Success", "Failed")


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


def queue_states() -> dict[str, str]:
    """Task id -> state (Queued, Running, Success, Failed) from `dvc queue status`."""
    states = {}
    for line in dvc("queue", "status").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[-1] in ("Queued", "Running", *FINISHED):
            states[fields[0]] = fields[-1]
    return states


def worker_pids() -> list[int]:
    """Process ids of the queue's workers that are still alive."""
    alive = []
    for pid_file in Path(".dvc", "tmp", "exps", "celery").glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError, FileNotFoundError):
            pid = int(pid_file.read_text())
            os.kill(pid, 0)
            alive.append(pid)
    return alive


def run_queue(jobs: int, timeout: float, status_every: float = 10.0) -> dict[str, str]:
    """Start `jobs` workers and wait until no task is queued or running; return the tasks' states.

    Waits on the queue's state instead of `dvc exp run --run-all`, which can hang after the last
    task when a worker fails to shut down (treeverse/dvc#10398); such idle workers are stopped.
    `dvc queue status` costs ~0.7 s of CPU, taken from the experiments: it runs every
    `status_every` seconds while workers are alive, and as soon as they have all exited.
    """
    before = {task for task, state in queue_states().items() if state in FINISHED}
    dvc("queue", "start", "--jobs", str(jobs))
    deadline = time.monotonic() + timeout
    shown, next_status, were_alive = None, 0.0, False
    try:
        while True:
            now, alive = time.monotonic(), bool(worker_pids())
            if now >= next_status or (were_alive and not alive):  # on schedule, or the workers just exited
                states = {task: state for task, state in queue_states().items() if task not in before}
                counts = Counter(states.values())
                done = counts["Success"] + counts["Failed"]
                progress = f"sweep: {done}/{len(states)} done ({counts['Failed']} failed)"
                if progress != shown:
                    print(progress, flush=True)
                    shown = progress
                if not counts["Queued"] and not counts["Running"]:
                    return states
                if now > deadline:
                    raise PipelineError(
                        f"the queue is still busy after {timeout:.0f} s; see `dvc queue status`"
                    )
                next_status = now + (status_every if alive else 3.0)
            were_alive = alive
            time.sleep(1.0)
    finally:
        stop_idle_workers()


def stop_idle_workers() -> None:
    """Stop DVC queue workers left running after the queue emptied."""
    for pid in worker_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


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
    if args.set_param:
        print(
            dvc("exp", "run", "--queue", *[arg for value in args.set_param for arg in ("-S", value)]), end=""
        )
    states = run_queue(args.jobs, args.timeout)
    from .compare import show_runs  # imports pandas and MLflow: only now

    show_runs(limit=max(len(states) + 5, 10))
    failed = sorted(task for task, state in states.items() if state == "Failed")
    if failed:
        raise PipelineError(
            f"{len(failed)} experiment(s) failed: {', '.join(failed)}; see `dvc queue logs <task>`"
        )


if __name__ == "__main__":
    run_main(main)
