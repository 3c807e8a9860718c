"""Where MLflow runs go and how to reach that store; retries for the races parallel runs meet.

Where runs go, first match wins:
1. `MLFLOW_TRACKING_URI` in the environment (team mode: a tracking server);
2. `mlflow_tracking_uri` under `[tool.<package>]` in pyproject.toml;
3. the SQLite file `mlflow.db` at the project root, with artifacts in `mlartifacts/`.
The project root is `DVC_ROOT` when DVC runs the stage, so experiments that DVC runs in temporary
copies of the workspace (`dvc exp run --queue`) still log into the project's one store.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

from ..common.errors import PipelineError
from ..common.project import project_root, project_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


T = TypeVar("T")
LOCAL_STORE = "mlflow.db"  # the project's own store, at its root
MLFLOW_DEFAULTS = {  # each one unless set in the environment
    # Fail within seconds when a tracking server is down, instead of MLflow's default minutes of retries.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # A logged model carries its own pinned requirements (log_model), not a copy of the project's
    # whole uv.lock and pyproject.toml, which MLflow would add on finding them (and say so).
    "MLFLOW_UV_AUTO_DETECT": "false",
    # No progress bar per artifact transfer in stage logs and notebooks.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
SERVER_CHECK_SECONDS = 5
RACE_ATTEMPTS = 3  # see again_if_raced
GRANT_PAUSES = (0.25, 0.5, 1.0, 2.0)  # seconds between the attempts of once_granted
# How SQLite, PostgreSQL or SQL Server, and MySQL word a refused duplicate row.
DUPLICATE_ROW_MESSAGES = ("UNIQUE constraint failed", "duplicate key", "Duplicate entry")


class ServerDown(PipelineError):
    """The tracking server `uri` can't be reached (refused, unknown name, timeout) or fails (HTTP
    5xx): `problem` says which."""

    def __init__(self, uri: str, problem: str) -> None:
        super().__init__(
            f"MLflow tracking server {uri} {problem}. Start it (or fix MLFLOW_TRACKING_URI / "
            f"mlflow_tracking_uri in pyproject.toml), then rerun; `make doctor` checks the setup"
        )
        self.uri, self.problem = uri, problem


def tracking_uri() -> str:
    """Where MLflow runs and registry entries go (see the module docstring)."""
    configured = os.environ.get("MLFLOW_TRACKING_URI") or project_settings().get("mlflow_tracking_uri")
    return configured or local_tracking_uri()


def local_tracking_uri() -> str:
    """The project's own store: the SQLite file LOCAL_STORE at its root."""
    return f"sqlite:///{project_root() / LOCAL_STORE}"


def is_server(uri: str) -> bool:
    """Whether the tracking URI names a tracking server (rather than a local store)."""
    return urlparse(uri).scheme in ("http", "https")


def connect(uri: str | None = None) -> str:
    """Point MLflow at the store (`uri`, by default tracking_uri()) and the project's experiment,
    creating them if needed; return the experiment id.

    A tracking server that does not answer within seconds is a ServerDown naming its URI.
    """
    uri = uri or reachable_tracking_uri()
    for variable, value in MLFLOW_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # migration chatter
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.model_registry.abstract_store").setLevel(logging.WARNING)  # "Waiting..."
    # .venv has no pip (uv installs without it), so MLflow warns that it writes the logged model's
    # conda.yaml with an unversioned pip: its requirements are pinned (runs.log_model) all the same.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(uri)
    name = project_settings()["mlflow_experiment"]
    experiment = mlflow.get_experiment_by_name(name)  # a refusal here lasts: raised at once
    if experiment is not None:
        mlflow.set_experiment(experiment_id=experiment.experiment_id)
        return experiment.experiment_id
    experiment_id = create_experiment(name, local=uri.startswith("sqlite:"))
    once_granted(lambda: mlflow.set_experiment(experiment_id=experiment_id))
    return experiment_id


def create_experiment(name: str, local: bool) -> str:
    """Create the experiment; if a parallel run just created it, use that one (once granted)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    # A local store gets an explicit artifact folder in the project: the default is relative to
    # the working directory, which for queued DVC experiments is a temporary copy.
    artifacts = (project_root() / "mlartifacts").as_uri() if local else None
    kind = {"mlflow.experimentKind": "custom_model_development"}  # MLflow's UI: model training, not GenAI
    try:
        return mlflow.create_experiment(name, artifact_location=artifacts, tags=kind)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        experiment = once_granted(lambda: mlflow.get_experiment_by_name(name))
        if experiment is None:
            raise
        return experiment.experiment_id


def client() -> MlflowClient:
    """A client on the configured store (call `connect()` first)."""
    from mlflow import MlflowClient

    return MlflowClient()


def once_granted(call: Callable[[], T]) -> T:
    """Call `call`; if the tracking server refuses it (HTTP 403), again a few times (GRANT_PAUSES).
    MLflow's auth app grants whoever creates an experiment or a registered model its permission
    just after creating it, so a process that has just created one, or was told a parallel process
    of the same user had (queued experiments of a new project), may be refused in between. Use it
    only then: anywhere else a refusal lasts, and waiting would only delay the same error."""
    from mlflow.exceptions import MlflowException

    for pause in GRANT_PAUSES:
        try:
            return call()
        except MlflowException as error:
            if error.error_code != "PERMISSION_DENIED":
                raise
            time.sleep(pause)
    return call()


def again_if_raced(write: Callable[[], T]) -> T:
    """Call `write`, again if a parallel run raced it to add the same row (at most RACE_ATTEMPTS).

    Some MLflow writes look for a row, then insert it (a dataset, an alias); when two runs do so at
    once, the store refuses the second insert. The refused call is rolled back whole, and the next
    attempt finds the other run's row and links to it or updates it.
    """
    from mlflow.exceptions import MlflowException

    for _ in range(RACE_ATTEMPTS - 1):
        try:
            return write()
        except MlflowException as error:
            if not is_duplicate_row(error):
                raise
    return write()


def is_duplicate_row(error: Exception) -> bool:
    """Whether a store refused to insert a row because one with the same key is already there."""
    return any(text in str(error) for text in DUPLICATE_ROW_MESSAGES)


def reachable_tracking_uri() -> str:
    """The tracking URI; for a server, unless it answers within seconds, a ServerDown naming it
    (a PipelineError when its certificate is not trusted: a setting to fix, not an outage)."""
    uri = tracking_uri()
    if is_server(uri):
        problem, down = checked_server(uri)
        if problem and down:
            raise ServerDown(uri, problem)
        if problem:
            raise PipelineError(
                f"MLflow tracking server {uri} {problem}. Check MLFLOW_TRACKING_URI / mlflow_tracking_uri "
                "in pyproject.toml, then rerun; `make doctor` checks the setup"
            )
    return uri


def tls_context() -> ssl.SSLContext:
    """How this process checks a tracking server's certificate, as MLflow's own client does: the
    system's authorities, or the file MLFLOW_TRACKING_SERVER_CERT_PATH names (a team stack's own
    certificate); no check at all only when MLFLOW_TRACKING_INSECURE_TLS is true."""
    context = ssl.create_default_context(cafile=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None)
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":  # asked for by the user
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def server_problem(uri: str) -> str | None:
    """Why the tracking server at `uri` can't be used, asked with a few seconds' timeout; None if it answers."""
    return checked_server(uri)[0]


def checked_server(uri: str) -> tuple[str | None, bool]:
    """Why the tracking server at `uri` can't be used (None if it answers), and whether that is an
    outage: unreachable or failing (HTTP 5xx), as opposed to a refusal or an untrusted certificate."""
    request = urllib.request.Request(f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1")
    try:
        with urllib.request.urlopen(request, timeout=SERVER_CHECK_SECONDS, context=tls_context()):
            return None, False
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return None, False  # it answers; MLflow's own call reports the authentication problem
        return f"answers with HTTP {error.code} {error.reason}", error.code >= 500
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):
            problem = (
                f"presents a certificate this machine does not trust ({reason.verify_message}): set "
                "MLFLOW_TRACKING_SERVER_CERT_PATH to the server's certificate (a team stack's is "
                "docker/tls/server.crt)"
            )
            return problem, False
        return f"is not reachable ({reason})", True
