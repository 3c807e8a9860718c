"""What one study searched by many machines adds to `make tune`: its database (OPTUNA_STORAGE in
the environment or .env, or tune.storage in params.yaml) with heartbeats, the machine each trial runs on, and each finished
trial's experiment pushed for every teammate (`dvc exp push origin`).

Optuna numbers the trials in the database, so `<study>-<number>` names one DVC experiment across
all machines. A trial whose machine stops beating (killed, disconnected) for tune.grace_period
seconds is failed by the next `make tune` on any machine, which runs its params once more.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..common.errors import PipelineError, first_line
from ..common.project import ENV_FILE, read_env
from .queue import dvc

if TYPE_CHECKING:
    import optuna
    from optuna.storages import RDBStorage

STORAGE_VARIABLE = "OPTUNA_STORAGE"
MACHINE_ATTR = "machine"  # on each trial: where it ran (host:folder)
GIT_REMOTE = "origin"  # where trials' experiments are pushed and pulled from
CONNECT_SECONDS = 5  # to wait for the study's database before saying it does not answer
TABLES_LOCK = 0x0F7A5E1  # the advisory lock's key: any number the database's other users leave alone


def storage_url(configured: str) -> str:
    """The study's database URL: OPTUNA_STORAGE from the environment, else from .env (where
    `make stack-env` writes the team stack's), else tune.storage (`configured`); empty for the
    journal file."""
    if found := os.environ.get(STORAGE_VARIABLE):
        return found
    dot_env = read_env(ENV_FILE) if ENV_FILE.is_file() else {}
    return dot_env.get(STORAGE_VARIABLE) or configured


def shown(url: str) -> str:
    """A database URL as it may be printed: its password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL at all: say so without echoing what might hold a secret
        return "(not a database URL)"


def this_machine() -> str:
    """Where this process runs trials: host and folder, so two clones on one host differ."""
    return f"{socket.gethostname()}:{Path.cwd()}"


def engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy's options for the study's database: a connection checked before use, and a
    PostgreSQL server that does not answer given up after CONNECT_SECONDS."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": CONNECT_SECONDS}
    return options


def database_problem(url: str) -> tuple[str, str] | None:
    """What keeps the database at `url` from holding Optuna's studies, and its fix, or None: it
    does not answer, or it is MLflow's (both keep Alembic's `alembic_version` table, and would
    break each other's)."""
    import sqlalchemy
    import sqlalchemy.exc

    fix = f"check {STORAGE_VARIABLE} (or tune.storage in params.yaml) and that the database runs"
    try:
        engine = sqlalchemy.create_engine(url, **engine_options(url))
        try:
            with engine.connect() as connection:
                mlflow_tables = sqlalchemy.inspect(connection).has_table("registered_models")
        finally:
            engine.dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
        return f"the study's storage {shown(url)} does not answer ({first_line(error)})", fix
    if mlflow_tables:
        return (
            f"the study's storage {shown(url)} is MLflow's database",
            "give Optuna one of its own (CREATE DATABASE optuna), as the team stack's compose file does",
        )
    return None


def shared_storage(url: str, grace_period: int) -> RDBStorage:
    """Optuna's database storage at `url`, with a heartbeat every quarter of `grace_period`. A
    database that does not answer stops here, in one line, before any trial is asked."""
    import sqlalchemy.exc
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if problem := database_problem(url):
        raise PipelineError("{}: {}".format(*problem))
    from optuna.exceptions import ExperimentalWarning

    # Optuna calls the heartbeat experimental and meant for its own optimize loop: tune beats for
    # its trials itself (heartbeats), and users need not read those warnings on every run.
    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    warnings.filterwarnings(
        "ignore", message="Heartbeat of storage is supposed to be used with Study.optimize"
    )

    def storage() -> RDBStorage:
        return RDBStorage(
            url,
            engine_kwargs=engine_options(url),
            heartbeat_interval=max(1, grace_period // 4),
            grace_period=grace_period,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        )

    with tables_lock(url):
        try:
            return storage()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            return storage()  # another process made Optuna's tables meanwhile (SQLite): they exist


@contextlib.contextmanager
def tables_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while Optuna makes its tables on first use: two machines
    that start a new database at the same moment would both create its types, and one would fail
    (duplicate key in pg_type). Nothing to hold for another database."""
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, **engine_options(url))
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": TABLES_LOCK})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": TABLES_LOCK})
    finally:
        engine.dispose()


def trial_ids(storage: RDBStorage, study: optuna.Study, numbers: Iterable[int]) -> list[int]:
    """The storage's ids of these trials of the study."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return [storage.get_trial_id_from_study_id_trial_number(study_id, number) for number in numbers]


@contextlib.contextmanager
def heartbeats(storage: RDBStorage | None, study: optuna.Study, numbers: Iterable[int]) -> Iterator[None]:
    """Record these trials' heartbeat now and every interval until the block ends, so that no other
    machine takes them for abandoned; nothing without a shared storage."""
    if storage is None:
        yield
        return
    import sqlalchemy.exc

    ids, stop = trial_ids(storage, study, numbers), threading.Event()

    def beat() -> None:
        while True:
            for trial_id in ids:
                with contextlib.suppress(sqlalchemy.exc.SQLAlchemyError):  # the next beat retries
                    storage.record_heartbeat(trial_id)
            if stop.wait(storage.get_heartbeat_interval()):
                return

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def check_git_remote() -> None:
    """A shared study pushes each trial's experiment to git remote origin: stop before any trial
    when there is none."""
    import subprocess

    if subprocess.run(["git", "remote", "get-url", GIT_REMOTE], capture_output=True).returncode != 0:
        raise PipelineError(
            f"a shared study pushes each trial's experiment to git remote {GIT_REMOTE!r}, and this "
            f"clone has none: add it (git remote add {GIT_REMOTE} URL), or unset {STORAGE_VARIABLE} "
            "and tune.storage to search alone"
        )


def push_experiments(names: Iterable[str]) -> None:
    """Push these experiments (git refs to origin, outputs to the DVC remote) for every teammate;
    one that cannot be pushed is said, and the study goes on."""
    for name in sorted(names):
        try:
            dvc("exp", "push", GIT_REMOTE, name)
        except PipelineError as error:
            said = str(error).strip().splitlines()[-1]  # DVC's own reason, last
            print(f"tune: could not push {name} ({said}); later: make exp-push NAME={name}", flush=True)
