"""Tune the model's params with Optuna, each trial one DVC experiment run by DVC's queue.

    python -m <package>.tune --trials 12 --jobs 2 --study tune     (or: make tune TRIALS=12 JOBS=2)

The search space and the objective are params.yaml's `tune:` section. Optuna's sampler (TPE)
asks for `jobs` trials at a time; each is queued as `dvc exp run --queue --name <study>-<trial>
-S <param>=<value> ...`, the batch runs in parallel as `make sweep` runs a grid, and the metric of
each experiment's MLflow run (tagged with the study and the trial) is told back to Optuna. A failed
experiment is a failed trial; the study goes on. The study is kept in .optuna/<study>.jsonl
(git-ignored): the same command again continues it, first settling the trials an interrupted run
left open, from their experiments. It never promotes: at the end it prints the best trial and
the commands that adopt it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import tasks, tracking
from .config import Params, Range, load_params
from .errors import PipelineError, run_main
from .sweep import dvc, queue_states, run_grid, set_param_args

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

STUDIES = Path(".optuna")
STUDY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")  # also a DVC experiment name's prefix
STUDY_TAG, TRIAL_TAG = "optuna_study", "optuna_trial"


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
    return metric, "maximize" if task.METRICS[metric].higher_is_better else "minimize"


def open_study(name: str, direction: str) -> optuna.Study:
    """The study `name`, stored in .optuna/<name>.jsonl (Optuna's journal file): new, or continued."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    STUDIES.mkdir(exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(STUDIES / f"{name}.jsonl")))
    study = optuna.create_study(study_name=name, storage=storage, direction=direction, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise PipelineError(
            f"study {name!r} was created to {study.direction.name.lower()} its metric; give another --study"
        )
    return study


def experiment_name(study: optuna.Study, number: int) -> str:
    return f"{study.study_name}-{number}"


def trial_runs(study: optuna.Study) -> dict[str, Any]:
    """DVC experiment name -> its finished MLflow run, for the experiments of this study."""
    experiment_id = tracking.connect()
    runs = tracking.client().search_runs(
        [experiment_id],
        f"tags.dvc_exp_name LIKE '{study.study_name}-%' and attributes.status = 'FINISHED'",
    )
    return {run.data.tags["dvc_exp_name"]: run for run in runs}


def tell(study: optuna.Study, numbers: list[int], metric: str) -> None:
    """Tell Optuna the outcome of these trials: the metric of each one's MLflow run (then tagged
    with the study and trial), or a failure for a trial whose experiment left no run."""
    from optuna.trial import TrialState

    runs = trial_runs(study)
    for number in numbers:
        run = runs.get(experiment_name(study, number))
        value = run.data.metrics.get(metric) if run else None
        if value is None:
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            continue
        study.tell(number, value, skip_if_finished=True)
        tracking.client().set_tag(run.info.run_id, STUDY_TAG, study.study_name)
        tracking.client().set_tag(run.info.run_id, TRIAL_TAG, str(number))


def settle_interrupted(study: optuna.Study, metric: str, jobs: int, timeout: float) -> None:
    """Trials an interrupted run left open: let those DVC still has queued or running finish, then
    tell each one's outcome (see tell)."""
    from optuna.trial import TrialState

    open_trials = [trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    if not open_trials:
        return
    names = {experiment_name(study, number) for number in open_trials}
    pending = {
        name for name, state in queue_states().items() if name in names and state in ("Queued", "Running")
    }
    if pending:
        print(f"tune: finishing {len(pending)} trial(s) of an interrupted run first", flush=True)
        run_grid(pending, {}, jobs, timeout)
    tell(study, open_trials, metric)


def queue_trials(
    study: optuna.Study, space: dict[str, BaseDistribution], count: int
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Ask Optuna for `count` trials and queue each as a DVC experiment. Return name -> trial
    number, and name -> its `-S` values (for the sweep's one rerun of an experiment that failed
    without a pipeline error)."""
    numbers, overrides = {}, {}
    for _ in range(count):
        trial = study.ask(space)
        name = experiment_name(study, trial.number)
        values = [f"{param}={value}" for param, value in trial.params.items()]
        dvc("exp", "run", "--queue", "--name", name, *set_param_args(values))
        numbers[name], overrides[name] = trial.number, values
    return numbers, overrides


def tune(study_name: str, trials: int, jobs: int, timeout: float) -> optuna.Study:
    """Run `trials` more trials of the study, `jobs` at a time (see the module docstring)."""
    params = load_params()
    metric, direction = objective(params)
    space = search_space(params.tune.space)
    study = open_study(study_name, direction)
    settle_interrupted(study, metric, jobs, timeout)
    done = 0
    while done < trials:
        batch, overrides = queue_trials(study, space, min(jobs, trials - done))
        states, _ = run_grid(set(batch), overrides, jobs, timeout)
        tell(study, list(batch.values()), metric)
        done += len(batch)
        failed = sorted(name for name in batch if states.get(name) != "Success")
        print(
            f"tune: {done}/{trials} trials" + (f" ({', '.join(failed)} failed)" if failed else ""), flush=True
        )
    return study


def report(study: optuna.Study, metric: str) -> str:
    """The best trial so far and how to adopt it."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not finished:
        raise PipelineError(f"no trial of study {study.study_name!r} finished; see `dvc queue logs <name>`")
    best = study.best_trial
    values = ", ".join(f"{param}={value}" for param, value in best.params.items())
    name = experiment_name(study, best.number)
    return (
        f"tune: best of {len(finished)} finished trial(s) of {study.study_name!r}: {name}, "
        f"{metric}={best.value:.4f} with {values}\n"
        f"To adopt it: dvc exp apply {name} && make promote"
    )


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
    # DVC's workers start `dvc`, and the stages `python`, from PATH: make both this environment's.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    study = tune(args.study, args.trials, args.jobs, args.timeout)
    print(report(study, objective(load_params())[0]))


if __name__ == "__main__":
    run_main(main)
