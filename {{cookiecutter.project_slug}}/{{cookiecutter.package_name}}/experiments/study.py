"""An Optuna study of `make tune`: kept in .optuna/<study>.jsonl, or in a database that many
machines share (OPTUNA_STORAGE, or tune.storage in params.yaml), with its own MLflow run that its
trials' runs are nested under, and its report."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.errors import PipelineError
from ..tracking import store
from ..tracking.runs import STUDY_RUN_TAG
from .shared import MACHINE_ATTR, shown, this_machine

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

STUDIES = Path(".optuna")


def journal_storage(name: str) -> BaseStorage:
    """.optuna/<name>.jsonl, Optuna's journal file: this clone's alone."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    STUDIES.mkdir(exist_ok=True)
    path = str(STUDIES / f"{name}.jsonl")
    # Optuna's default lock is a symlink, which Windows lets only privileged users make; a file
    # created with O_EXCL needs none. Both take <name>.jsonl.lock, so they exclude each other.
    return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))


def open_study(name: str, direction: str, storage: BaseStorage | None = None) -> optuna.Study:
    """The study `name`, new or continued: in `storage`, a database every machine that names it
    shares (shared.shared_storage), or else in .optuna/<name>.jsonl. Two machines creating it at
    once create it once (Optuna's load_if_exists)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage or journal_storage(name)
    # A batch's trials are asked before any is told: the constant liar keeps TPE from proposing
    # the same values twice in one batch, and, on a shared study, values another machine runs.
    sampler = optuna.samplers.TPESampler(constant_liar=True)
    study = optuna.create_study(
        study_name=name, storage=storage, direction=direction, sampler=sampler, load_if_exists=True
    )
    if study.direction.name.lower() != direction:
        raise PipelineError(
            f"study {name!r} was created to {study.direction.name.lower()} its metric; give another --study"
        )
    return study


def experiment_name(study: optuna.Study, number: int) -> str:
    return f"{study.study_name}-{number}"


def study_run(study: optuna.Study, metric: str, url: str = "") -> str:
    """The id of the study's own MLflow run (found by its tag, or created finished): the trials'
    runs of every machine are nested under it, and it holds the best value so far and Optuna's
    pictures. Two machines that create it at once keep the older one."""
    experiment_id = store.connect()
    client = store.client()  # after connect, which names the store
    name = study.study_name
    if existing := oldest_study_run(experiment_id, name):
        return existing
    where = f"the database {shown(url)}" if url else f".optuna/{name}.jsonl"
    run = client.create_run(
        experiment_id,
        run_name=f"study {name}",
        tags={STUDY_RUN_TAG: name, "mlflow.note.content": f"Optuna study {name!r} in {where}"},
    )
    client.log_param(run.info.run_id, "metric", metric)
    client.log_param(run.info.run_id, "direction", study.direction.name.lower())
    client.set_terminated(run.info.run_id)  # nothing runs in it; `make tune` adds to it
    return keep_oldest_study_run(experiment_id, name, run.info.run_id)


def oldest_study_run(experiment_id: str, name: str) -> str | None:
    """The id of the first run made for study `name`, if any."""
    found = store.client().search_runs(
        [experiment_id],
        f"tags.{STUDY_RUN_TAG} = '{name}'",
        max_results=1,
        order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
    )
    return found[0].info.run_id if found else None


def keep_oldest_study_run(experiment_id: str, name: str, made: str) -> str:
    """The study's run to keep once this machine made `made`: the oldest. A newer one, made by a
    machine that raced another, loses its study tag and ends KILLED with a note naming the kept
    one. It is not deleted: deleting a run takes MANAGE on a tracking server, and a teammate has
    EDIT."""
    kept = oldest_study_run(experiment_id, name) or made
    if kept != made:
        client = store.client()
        client.delete_tag(made, STUDY_RUN_TAG)
        client.set_tag(made, "mlflow.note.content", f"A duplicate of study {name!r}'s run {kept}")
        client.set_terminated(made, "KILLED")
    return kept


def trial_runs(study: optuna.Study) -> dict[str, Any]:
    """DVC experiment name -> its finished MLflow run, for the experiments of this study."""
    experiment_id = store.connect()
    runs = store.client().search_runs(
        [experiment_id],
        f"tags.dvc_exp_name LIKE '{study.study_name}-%' and attributes.status = 'FINISHED'",
    )
    return {run.data.tags["dvc_exp_name"]: run for run in runs}


def log_pictures(study: optuna.Study, parent_run: str) -> None:
    """Optuna's optimisation history and param importances, as images on the study's run."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(finished) < 2:
        return  # nothing to draw
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    client = store.client()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's matplotlib plots are "experimental"
        for name, plot in (
            ("optimization_history", plot_optimization_history),
            ("param_importances", plot_param_importances),
        ):
            figure = plot(study).figure
            figure.set_size_inches(8, 5)
            client.log_figure(parent_run, figure, f"optuna/{name}.png")
            plt.close(figure)


def report(study: optuna.Study, metric: str, shared: bool = False) -> str:
    """The best trial so far and how to adopt it: on a shared study, where it ran, and, if that is
    another machine, how to pull its experiment first."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not finished:
        raise PipelineError(f"no trial of study {study.study_name!r} finished; see `dvc queue logs <name>`")
    best = study.best_trial
    values = ", ".join(f"{param}={value}" for param, value in best.params.items())
    name = experiment_name(study, best.number)
    machine = best.user_attrs.get(MACHINE_ATTR, "")
    pull = f"dvc exp pull origin {name} && " if shared and machine != this_machine() else ""
    return (
        f"tune: best of {len(finished)} finished trial(s) of {study.study_name!r}: {name}, "
        f"{metric}={best.value:.4f} with {values}" + (f", run on {machine}" if shared else "") + "\n"
        f"To adopt it: {pull}dvc exp apply {name} && make promote"
    )
