"""Bench (11): one Optuna study on PostgreSQL searched by two clones at once, against one clone.

Both sides run 8 trials two at a time on this machine, so the ratio is the coordination's cost
(the shared database, heartbeats, pushing each trial), not the parallelism: one clone with
JOBS=2, then two clones (a copy of the project, so another `machine`) with JOBS=1 each. Also the
study's own work per trial (asking, queueing, telling): first 8 trials on the journal file, then
the same on PostgreSQL, side by side. PostgreSQL is
Debian's, started on 127.0.0.1 as the template's tests start it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from team_stack import TeamStack, postgres_bin  # noqa: E402

TRIALS = 8
OWN_WORK = re.compile(r"\(asking, queueing, telling\) ([0-9.]+) s per trial")


def tune(
    project: Path, env: dict[str, str], package: str, study: str, trials: int, jobs: int
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        f"{package}.experiments.tune",
        "--trials",
        str(trials),
        "--jobs",
        str(jobs),
    ]
    return subprocess.Popen(
        [*command, "--study", study],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def own_work(process: subprocess.Popen) -> float:
    """Wait for a `make tune`; return the study's own work per trial it printed."""
    output, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"make tune failed:\n{output}")
    return float(OWN_WORK.search(output)[1])


def measure_shared_study(project: Path, env: dict[str, str], package: str) -> list[tuple[str, str, str]]:
    """`project`: a generated project after its first `dvc repro`, committed."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        sys.exit("bench (11) needs PostgreSQL's server binaries (Debian: apt-get install postgresql)")
    stack = TeamStack(project.parent / "stack")
    stack.root.mkdir(exist_ok=True)
    origin = project.parent / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(project), str(origin)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=project, check=True)
    second = project.parent / "second-clone" / project.name
    shutil.copytree(project, second, symlinks=True)
    try:
        journal = own_work(tune(project, env, package, "journal", TRIALS, jobs=2))
        stack.start_postgres(bin_dir)
        env = {**env, "OPTUNA_STORAGE": stack.create_optuna_database(bin_dir)}
        started = time.perf_counter()
        alone = own_work(tune(project, env, package, "one-clone", TRIALS, jobs=2))
        one_clone = time.perf_counter() - started
        started = time.perf_counter()
        running = [
            tune(folder, env, package, "two-clones", TRIALS // 2, jobs=1) for folder in (project, second)
        ]
        together = [own_work(process) for process in running]
        two_clones = time.perf_counter() - started
    finally:
        stack.stop_postgres(bin_dir)
    per_minute = [TRIALS * 60 / one_clone, TRIALS * 60 / two_clones]
    return [
        (
            f"(11) {TRIALS} trials of a study on PostgreSQL, trials per minute: 2 clones (JOBS=1 each) / 1 clone (JOBS=2)",
            f"{per_minute[1]:.2f} / {per_minute[0]:.2f} = {per_minute[1] / per_minute[0]:.2f}x",
            ">= 0.95x",
        ),
        (
            "(11) the study's own work per trial, 1 clone (JOBS=2): journal file / PostgreSQL; 2 clones (JOBS=1), the larger",
            f"{journal:.2f} s / {alone:.2f} s; {max(together):.2f} s",
            "<= 0.5 s",
        ),
    ]  # fmt: skip
