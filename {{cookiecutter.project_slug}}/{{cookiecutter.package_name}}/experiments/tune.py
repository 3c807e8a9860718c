"""Tune the model's params with Optuna, each trial one DVC experiment run by DVC's queue.

    python -m <package>.experiments.tune --trials 12 --jobs 2 --study tune
    (or: make tune TRIALS=12 JOBS=2)

The search space and the objective are params.yaml's `tune:` section. Optuna's sampler (TPE)
asks for `jobs` trials at a time; each is queued as a DVC experiment named <study>-<trial> with
its values set as by `dvc exp run -S`, the batch runs in parallel as `make sweep` runs a grid, and
the metric of each experiment's MLflow run (tagged with the study and the trial, and nested under
the study's own run) is told back to Optuna. A failed experiment is a failed trial; the study goes
on. The study's run holds the best value after each trial and Optuna's pictures.

The study is kept in .optuna/<study>.jsonl (git-ignored): the same command again continues it,
first settling the trials an interrupted run left open (kill -9), from their experiments. With a
database instead (OPTUNA_STORAGE or tune.storage), any number of clones on any machines search one
study together: see shared.py. Ctrl-C stops this clone's running trials, tells Optuna those that
finished, and leaves no DVC worker running. It never promotes: at the end it prints the best trial
(of every machine) and the commands that adopt it.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import time
from typing import TYPE_CHECKING

from .. import tasks
from ..common.errors import PipelineError, run_main
from ..config import Params, Range, load_params
from ..tracking import store
from .queue import (
    QUEUED,
    RUNNING,
    SUCCESS,
    dvc,
    queue_states,
    saved_experiment_refs,
    stop_idle_workers,
    use_this_environment,
)
from .shared import (
    MACHINE_ATTR,
    check_git_remote,
    heartbeats,
    push_experiments,
    shared_storage,
    storage_url,
    this_machine,
)
from .study import experiment_name, log_pictures, open_study, report, study_run, trial_runs
from .sweep import run_grid

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.storages import RDBStorage

STUDY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")  # also a DVC experiment name's prefix
STUDY_TAG, TRIAL_TAG = "optuna_study", "optuna_trial"  # on each trial's run
INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C


def search_space(space: dict[str, Range | list]) -> dict[str, BaseDistribution]:
    """Optuna's distributions for the `tune.space` of params.yaml."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    found: dict[str, BaseDistribution] = {}
    for name, values in space.items():
        if isinstance(values, list):
            found[name] = CategoricalDistribution(values)
        elif isinstance(values.low, int) and isinstance(values.high, int):
            found[name] = IntDistribution(values.low, values.high, log=values.log)
        else:
            found[name] = FloatDistribution(float(values.low), float(values.high), log=values.log)
    return found


def objective(params: Params) -> tuple[str, str]:
    """The metric to optimise, and Optuna's direction for it."""
    task = tasks.current()
    metric = params.tune.metric or task.RANKING[0]
    return metric, task.METRICS[metric].direction


def tell(study: optuna.Study, numbers: list[int], metric: str, parent_run: str) -> None:
    """Tell Optuna the outcome of these trials: the metric of each one's MLflow run (then tagged
    with the study and trial, and nested under the study's run, which logs the best value so far),
    or a failure for a trial whose experiment left no run or was not saved. A run whose experiment
    was stopped after its pipeline ran and before DVC saved it (Ctrl-C) is marked KILLED: a
    finished run names an experiment `dvc exp apply` can adopt."""
    from optuna.trial import TrialState

    client, runs, saved = store.client(), trial_runs(study), set(saved_experiment_refs())
    for number in sorted(numbers):
        name = experiment_name(study, number)
        run = runs.get(name)
        if run and name not in saved:
            client.set_terminated(run.info.run_id, status="KILLED")
            run = None
        value = run.data.metrics.get(metric) if run else None
        if value is None:
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            continue
        study.tell(number, value, skip_if_finished=True)
        for key, tag in (
            (STUDY_TAG, study.study_name),
            (TRIAL_TAG, str(number)),
            ("mlflow.parentRunId", parent_run),
        ):
            client.set_tag(run.info.run_id, key, tag)
        client.log_metric(parent_run, f"best_{metric}", study.best_value, step=number)


def settle_interrupted(study: optuna.Study, metric: str, parent_run: str, jobs: int, timeout: float) -> None:
    """Trials a killed run of this clone left open: let those DVC still has queued or running
    finish, then tell each one's outcome (see tell)."""
    open_trials = unfinished(study)
    if not open_trials:
        return
    names = {experiment_name(study, number) for number in open_trials}
    pending = {name for name, state in queue_states().items() if name in names and state in (QUEUED, RUNNING)}
    if pending:
        print(f"tune: finishing {len(pending)} trial(s) of an interrupted run first", flush=True)
        run_grid(pending, {}, jobs, timeout)
    tell(study, open_trials, metric, parent_run)


def unfinished(study: optuna.Study) -> list[int]:
    """The trials this clone asked for and has not told yet (another machine's are its own)."""
    from optuna.trial import TrialState

    here = this_machine()
    return [
        trial.number
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if trial.user_attrs.get(MACHINE_ATTR, here) == here
    ]


def queue_trials(
    study: optuna.Study, space: dict[str, BaseDistribution], count: int
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Ask Optuna for `count` trials and queue each as a DVC experiment. Return name -> trial
    number, and name -> its `-S` values (for the sweep's one rerun of an experiment that failed
    without a pipeline error). Queued through DVC's Python API, as `dvc exp run --queue` does,
    without starting a `dvc` process per trial, which costs more than the queueing."""
    from dvc.repo import Repo

    numbers, overrides, here = {}, {}, this_machine()
    with Repo() as repo:
        for _ in range(count):
            trial = study.ask(space)  # a failed trial of a lost machine first, with its params
            trial.set_user_attr(MACHINE_ATTR, here)
            name = experiment_name(study, trial.number)
            values = [f"{param}={value}" for param, value in trial.params.items()]
            repo.experiments.run(queue=True, name=name, params=values)
            numbers[name], overrides[name] = trial.number, values
    return numbers, overrides


def tune(
    study: optuna.Study,
    storage: RDBStorage | None,
    metric: str,
    parent_run: str,
    trials: int,
    jobs: int,
    timeout: float,
) -> float:
    """Run `trials` more trials of the study, `jobs` at a time (see the module docstring); on a
    shared `storage`, beat for each running trial and push each finished one. Return the seconds
    spent on the study's own work: asking, queueing and telling."""
    from optuna.storages import fail_stale_trials

    params = load_params()
    space = search_space(params.tune.space)
    with heartbeats(storage, study, unfinished(study)):
        settle_interrupted(study, metric, parent_run, jobs, timeout)
    done, own_work = 0, 0.0
    while done < trials:
        started = time.perf_counter()
        if storage is not None:
            fail_stale_trials(study)  # a lost machine's trials: their params are asked again first
        batch, overrides = queue_trials(study, space, min(jobs, trials - done))
        own_work += time.perf_counter() - started
        with heartbeats(storage, study, batch.values()):
            states, _ = run_grid(set(batch), overrides, jobs, timeout)
        started = time.perf_counter()
        tell(study, list(batch.values()), metric, parent_run)
        own_work += time.perf_counter() - started
        if storage is not None:
            push_experiments(name for name in batch if states.get(name) == SUCCESS)
        done += len(batch)
        failed = sorted(name for name in batch if states.get(name) != SUCCESS)
        print(
            f"tune: {done}/{trials} trials" + (f" ({', '.join(failed)} failed)" if failed else ""), flush=True
        )
    return own_work


def stop_trials(study: optuna.Study, metric: str, parent_run: str) -> None:
    """After Ctrl-C: stop DVC's workers from taking another experiment, drop the study's queued
    experiments, kill its running ones, wait for the workers to exit, and tell Optuna the open
    trials' outcome (one that finished keeps its value; the others fail, as Optuna's own
    `optimize` fails the trial it was running)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    stop_idle_workers(wait=0)  # SIGTERM: each worker ends after its current experiment
    open_trials = unfinished(study)
    names = {experiment_name(study, number) for number in open_trials}
    for name, state in queue_states().items():
        if name in names and state in (QUEUED, RUNNING):
            with contextlib.suppress(PipelineError):  # it ended meanwhile
                dvc("queue", "remove" if state == QUEUED else "kill", name)
    stop_idle_workers()
    tell(study, open_trials, metric, parent_run)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=12, help="trials to run now (default 12)")
    parser.add_argument("--jobs", type=int, default=2, help="experiments run at once (default 2)")
    parser.add_argument("--study", default="tune", help="the study's name (default: tune)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each batch")
    args = parser.parse_args()
    if not STUDY_NAME.match(args.study):
        raise PipelineError(
            f"--study {args.study!r}: use letters, digits, '-' and '_', starting with a letter"
        )
    if args.trials < 1 or args.jobs < 1:
        raise PipelineError(f"--trials and --jobs must be 1 or more, got {args.trials} and {args.jobs}")
    use_this_environment()
    params = load_params()
    metric, direction = objective(params)
    url = storage_url(params.tune.storage)
    storage = shared_storage(url, params.tune.grace_period) if url else None
    if storage is not None:
        check_git_remote()
    study = open_study(args.study, direction, storage)
    parent_run = study_run(study, metric, url)
    started = time.perf_counter()
    try:
        own_work = tune(study, storage, metric, parent_run, args.trials, args.jobs, args.timeout)
    except KeyboardInterrupt:
        stop_trials(study, metric, parent_run)
        log_pictures(study, parent_run)
        print(
            "tune: interrupted; the finished trials are kept. Run the same command to go on.",
            file=sys.stderr,
        )
        sys.exit(INTERRUPTED)
    log_pictures(study, parent_run)
    print(
        f"tune: {args.trials} trial(s) in {time.perf_counter() - started:.0f} s; the study's own work "
        f"(asking, queueing, telling) {own_work / args.trials:.2f} s per trial"
    )
    print(report(study, metric, shared=storage is not None))


if __name__ == "__main__":
    run_main(main)
