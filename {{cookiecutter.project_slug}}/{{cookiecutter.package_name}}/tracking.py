"""Every MLflow call of the pipeline: where runs go, the experiment, lineage tags, models, registry.

Where runs go, first match wins:
1. `MLFLOW_TRACKING_URI` in the environment (team mode: a tracking server);
2. `mlflow_tracking_uri` under `[tool.<package>]` in pyproject.toml;
3. the SQLite file `mlflow.db` at the project root, with artifacts in `mlartifacts/`.
The project root is `DVC_ROOT` when DVC runs the stage, so experiments that DVC runs in temporary
copies of the workspace (`dvc exp run --queue`) still log into the project's one store.

Run `python -m <package>.tracking` to create the local store and experiment ahead of time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import distributions, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from .errors import PipelineError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import ActiveRun, MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models import ModelSignature

    from .schema import Schema

T = TypeVar("T")
PACKAGE = __package__.split(".")[0]  # this package, also under `python -m`
MODEL_ARTIFACT = "model"
MODEL_URI_TAG = "model_uri"  # the run's logged model
# What the pipeline's results depend on in git: `git_dirty` says whether they differ from the commit.
LINEAGE_PATHS = (PACKAGE, "params.yaml", "dvc.yaml", "data", "pyproject.toml", "uv.lock")
INPUTS_KEY_TAG = "inputs_key"  # a digest of what the run records (stages.register.inputs_key)
MLFLOW_DEFAULTS = {  # each one unless set in the environment
    # Fail within seconds when a tracking server is down, instead of MLflow's default ~4 minutes of retries.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # A logged model carries its own pinned requirements (log_model), not a copy of the project's
    # whole uv.lock and pyproject.toml, which MLflow would add on finding them (and say so).
    "MLFLOW_UV_AUTO_DETECT": "false",
    # No progress bar per artifact transfer in stage logs and notebooks.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
SERVER_CHECK_SECONDS = 5
# What a refused (403) call of the pipeline was for, by its endpoint under /api/2.0/mlflow/.
REFUSED_ACTIONS = {
    "runs/create": "log a run",
    "experiments/create": "create the experiment",
    "registered-models/create": "create the registered model",
    "model-versions/create": "register a model version",
    "registered-models/alias": "move an alias",
    "model-versions/delete": "delete a model version",
}
RACE_ATTEMPTS = 3  # see again_if_raced
GRANT_PAUSES = (0.25, 0.5, 1.0, 2.0)  # seconds between the attempts of once_granted
# How SQLite, PostgreSQL or SQL Server, and MySQL word a refused duplicate row.
DUPLICATE_ROW_MESSAGES = ("UNIQUE constraint failed", "duplicate key", "Duplicate entry")


def project_root() -> Path:
    """The project folder: DVC's root when DVC runs us, else the nearest folder with dvc.yaml."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if (folder / "dvc.yaml").exists()), here)


def pyproject() -> dict[str, Any]:
    """The project's pyproject.toml."""
    with open(project_root() / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def project_settings() -> dict[str, Any]:
    """The `[tool.<package>]` table of pyproject.toml (tracking URI and experiment name)."""
    return pyproject()["tool"][PACKAGE]


def tracking_uri() -> str:
    """Where MLflow runs and registry entries go (see the module docstring)."""
    configured = os.environ.get("MLFLOW_TRACKING_URI") or project_settings().get("mlflow_tracking_uri")
    return configured or f"sqlite:///{project_root() / 'mlflow.db'}"


def is_server(uri: str) -> bool:
    """Whether the tracking URI names a tracking server (rather than a local store)."""
    return urlparse(uri).scheme in ("http", "https")


def connect() -> str:
    """Point MLflow at the store and experiment, creating them if needed; return the experiment id.

    A tracking server that does not answer within seconds is a PipelineError naming its URI.
    """
    uri = reachable_tracking_uri()
    for variable, value in MLFLOW_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # migration chatter
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.model_registry.abstract_store").setLevel(logging.WARNING)  # "Waiting..."
    import mlflow

    mlflow.set_tracking_uri(uri)
    name = project_settings()["mlflow_experiment"]
    experiment = once_granted(lambda: mlflow.get_experiment_by_name(name))
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        experiment_id = create_experiment(name, local=uri.startswith("sqlite:"))
    once_granted(lambda: mlflow.set_experiment(experiment_id=experiment_id))
    return experiment_id


def once_granted(call: Callable[[], T]) -> T:
    """Call `call`; if the tracking server refuses it (HTTP 403), again a few times over about 4 s.
    MLflow's auth app grants whoever creates an experiment or a registered model its permission
    just after creating it, so a parallel process of the same user (queued experiments of a new
    project) that reaches it in between is refused; a refusal that lasts is raised."""
    from mlflow.exceptions import MlflowException

    for pause in GRANT_PAUSES:
        try:
            return call()
        except MlflowException as error:
            if error.error_code != "PERMISSION_DENIED":
                raise
            time.sleep(pause)
    return call()


def reachable_tracking_uri() -> str:
    """The tracking URI; for a server, a PipelineError naming it unless it answers within seconds."""
    uri = tracking_uri()
    if is_server(uri):
        problem = server_problem(uri)
        if problem:
            raise PipelineError(
                f"MLflow tracking server {uri} {problem}. Start it (or fix MLFLOW_TRACKING_URI / "
                f"mlflow_tracking_uri in pyproject.toml), then rerun; `make doctor` checks the setup"
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
    request = urllib.request.Request(f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1")
    try:
        with urllib.request.urlopen(request, timeout=SERVER_CHECK_SECONDS, context=tls_context()):
            return None
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return None  # it answers; MLflow's own call reports the authentication problem
        return f"answers with HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):
            return (
                f"presents a certificate this machine does not trust ({reason.verify_message}): set "
                "MLFLOW_TRACKING_SERVER_CERT_PATH to the server's certificate (a team stack's is "
                "docker/tls/server.crt)"
            )
        return f"is not reachable ({reason})"


def signed_in_as() -> str | None:
    """The user MLflow sends to a tracking server: MLFLOW_TRACKING_USERNAME, else the one in
    ~/.mlflow/credentials (MLflow's own file, outside the repository); None if neither."""
    from mlflow.utils.credentials import read_mlflow_creds

    return read_mlflow_creds().username or None


def identity(uri: str) -> tuple[int, dict[str, Any]]:
    """Ask the tracking server at `uri` who we are, with MLflow's credentials: (HTTP status, its
    answer). 200 with the user and its grants; 401 for missing or wrong credentials; 404 for a
    server without authentication."""
    from mlflow.utils.credentials import read_mlflow_creds

    creds = read_mlflow_creds()
    headers = {}
    if creds.username:
        token = base64.b64encode(f"{creds.username}:{creds.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"

    def get(path: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{uri.rstrip('/')}{path}", headers=headers)
        try:
            with urllib.request.urlopen(
                request, timeout=SERVER_CHECK_SECONDS, context=tls_context()
            ) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    status, answer = get("/api/2.0/mlflow/users/current")
    if status != 200:
        return status, {}
    user = answer["user"]
    user["permissions"] = get("/api/3.0/mlflow/users/current/permissions")[1].get("permissions", [])
    return status, user


def refusal(error: Exception) -> str | None:
    """One line for a tracking server's refusal (HTTP 401 or 403, from MLflow's basic-auth app)
    naming the user and the fix, never a password; None for any other error."""
    code = getattr(error, "error_code", None)
    if code not in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return None
    uri, user = tracking_uri(), signed_in_as()
    who = f"user {user!r}" if user else "a request without credentials (no MLFLOW_TRACKING_USERNAME)"
    if code == "UNAUTHENTICATED":
        return (
            f"the MLflow tracking server {uri} did not accept {who} (HTTP 401). Set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to the "
            "identity the server's admin gave you (make identity); `make doctor` checks them"
        )
    endpoint = next((word for word in str(error).split() if word.startswith("/api/")), "this request")
    action = REFUSED_ACTIONS.get(endpoint.rsplit("/mlflow/", 1)[-1], f"call {endpoint}")
    return (
        f"the MLflow tracking server {uri} does not let {who} {action} (HTTP 403). That takes an "
        "identity with EDIT on this project's experiment and registered model (make identity "
        "NAME=<you> ROLE=person, run by the admin); `make doctor` shows what this one may do"
    )


def create_experiment(name: str, local: bool) -> str:
    """Create the experiment; if a parallel run just created it, use that one."""
    import mlflow
    from mlflow.exceptions import MlflowException

    # A local store gets an explicit artifact folder in the project: the default is relative to
    # the working directory, which for queued DVC experiments is a temporary copy.
    artifacts = (project_root() / "mlartifacts").as_uri() if local else None
    kind = {"mlflow.experimentKind": "custom_model_development"}  # MLflow's UI: model training, not GenAI
    try:
        return mlflow.create_experiment(name, artifact_location=artifacts, tags=kind)
    except MlflowException:
        experiment = once_granted(lambda: mlflow.get_experiment_by_name(name))
        if experiment is None:
            raise
        return experiment.experiment_id


@contextmanager
def start_run(experiment_id: str, tags: dict[str, str], description: str) -> Iterator[ActiveRun]:
    """Start a run with these tags and its process's, named after where it ran (see run_name) and
    with a one-line `description`, after ending runs of killed processes."""
    import mlflow

    end_abandoned_runs(experiment_id)
    tags = {**tags, "host": socket.gethostname(), "pid": str(os.getpid())}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name(tags), tags=tags, description=description
    ) as run:
        yield run


def run_name(tags: dict[str, str]) -> str:
    """The name a run shows in the MLflow UI: its DVC experiment's (`dvc exp run`), else
    `workspace@<short commit>`."""
    if "dvc_exp_name" in tags:
        return tags["dvc_exp_name"]
    return f"workspace@{tags['git_commit'][:7]}" if "git_commit" in tags else "workspace"


def describe(model: str, data: Path, data_md5: str, metric: tuple[str, float], tags: dict[str, str]) -> str:
    """One line on what a run was: the model, its main test metric, the data and the code."""
    name, value = metric
    code = f"commit {tags['git_commit'][:7]}" if "git_commit" in tags else "no git commit"
    if tags.get("git_dirty") == "true":
        code += " with uncommitted changes"
    return f"{model} on {data.name} (data {data_md5[:8]}): {name}={value:.4f}; {code}"


def finished_run(experiment_id: str, inputs_key: str) -> tuple[str, str] | None:
    """(run id, model URI) of a finished run of the experiment with this inputs' key and a logged
    model, if any."""
    found = f"attributes.status = 'FINISHED' and tags.{INPUTS_KEY_TAG} = '{inputs_key}'"
    for run in client().search_runs([experiment_id], filter_string=found, max_results=10):
        if MODEL_URI_TAG in run.data.tags:
            return run.info.run_id, run.data.tags[MODEL_URI_TAG]
    return None


def end_abandoned_runs(experiment_id: str) -> None:
    """Mark KILLED the runs left RUNNING by a process of this host that no longer exists (kill -9)."""
    running = f"attributes.status = 'RUNNING' and tags.host = '{socket.gethostname()}'"
    for run in client().search_runs([experiment_id], filter_string=running):
        pid = int(run.data.tags.get("pid", "0"))
        if pid and not process_exists(pid):
            client().set_terminated(run.info.run_id, status="KILLED")


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def lineage_tags() -> dict[str, str]:
    """Tags that lead from an MLflow run back to the code and the DVC experiment."""
    tags = {"project": PACKAGE}
    commit = os.environ.get("DVC_EXP_BASELINE_REV") or git("rev-parse", "HEAD")
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git_commit"] = commit
        # Whether the code, params or data definitions differ from that commit (inside `dvc exp
        # run`: the experiment's -S values); the pipeline's own outputs are left out.
        status = ("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
        changed = git(*status, "--", *LINEAGE_PATHS, ":(exclude,glob)**/.gitignore")  # DVC's own
        if changed is not None:
            tags["git_dirty"] = str(bool(changed)).lower()
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


def git(*args: str) -> str | None:
    """Output of a git command in the project, or None outside a git repository."""
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path.cwd())
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def file_md5(path: Path) -> str:
    """The MD5 that DVC records for a single file (its `.dvc` file and dvc.lock show the same)."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def log_data_source(path: Path, md5: str) -> None:
    """Log the raw data file, identified by its DVC hash `md5` (see file_md5), as the active run's input."""
    import mlflow
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.meta_dataset import MetaDataset

    source = get_dataset_source_from_json(json.dumps({"uri": path.as_posix()}), source_type="local")
    dataset = MetaDataset(source, name=path.name, digest=md5)
    # Parallel runs on data new to the experiment race to add its dataset row.
    again_if_raced(lambda: mlflow.log_input(dataset, context="training"))
    mlflow.set_tags({"dvc_data_path": str(path), "dvc_data_md5": md5})


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


def log_environment() -> None:
    """Record the Python version and every installed package of the active run's environment."""
    import mlflow

    installed = sorted(f"{dist.metadata['Name']}=={dist.version}" for dist in distributions())
    mlflow.log_text("\n".join(installed) + "\n", "environment/installed-packages.txt")
    mlflow.set_tag("python_version", sys.version.split()[0])


def data_source_tags(path: Path) -> dict[str, str]:
    """Where the raw data came from: the URL and its checksum for data brought in with
    `dvc import-url` (as its .dvc file records them), else the DVC-tracked file itself."""
    import yaml

    dvc_file = path.with_name(path.name + ".dvc")
    try:
        deps = yaml.safe_load(dvc_file.read_text(encoding="utf-8")).get("deps") or []
    except (OSError, AttributeError, yaml.YAMLError):
        deps = []
    if not deps:
        return {"data_source": path.as_posix()}
    checksum = next((str(deps[0][key]) for key in ("checksum", "etag", "md5") if key in deps[0]), "")
    return {"data_source": deps[0]["path"], "data_source_checksum": checksum}


# A feature's kind -> its type in the MLflow signature. A date is its raw text, as predict and the
# Bento send it (the model parses it with the schema's format), not an MLflow datetime.
SIGNATURE_TYPES = {"number": "double", "category": "string", "boolean": "string", "datetime": "string"}


def signature(table: Schema, example: pd.DataFrame, model: Any) -> ModelSignature:
    """The model's MLflow signature: its inputs from the schema (numbers as doubles, categories and
    dates as strings, nullable columns optional), its output as the model answers for `example`."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec
    from mlflow.types.schema import Schema as ColumnSchema

    columns = [
        ColSpec(SIGNATURE_TYPES[table.columns[name].kind], name, required=not table.columns[name].nullable)
        for name in table.features()
    ]
    outputs = infer_signature(example, model.predict(example)).outputs
    return ModelSignature(inputs=ColumnSchema(columns), outputs=outputs)


def log_model(model: Any, example: pd.DataFrame, table: Schema) -> str:
    """Log a fitted scikit-learn model (skops format, signature, pinned requirements) with a few input
    rows as its `example`; return its URI."""
    import mlflow.sklearn
    import skops.io

    info = mlflow.sklearn.log_model(
        model,
        name=MODEL_ARTIFACT,
        signature=signature(table, example, model),
        input_example=example,
        # Explicit requirements: inferring them costs seconds per run.
        pip_requirements=[f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas")],
        # The types of the model we just trained; skops refuses unlisted types when loading.
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
    )
    return info.model_uri


def client() -> MlflowClient:
    """A client on the configured store (call `connect()` first)."""
    from mlflow import MlflowClient

    return MlflowClient()


def version_of_run(name: str, run_id: str) -> ModelVersion | None:
    """The registered version of model `name` made from `run_id`, if there is one."""
    versions = client().search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(versions, key=lambda v: int(v.version)) if versions else None


# What a registered version carries of its run, so the registry answers where it came from.
VERSION_LINEAGE_TAGS = ("git_commit", "git_dirty", "dvc_exp_name", "dvc_data_md5", "data_source")


def version_lineage(run_id: str, metrics: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The run's description, and the tags a version of its model gets: the run, its lineage, the
    model and the values of `metrics`."""
    run = client().get_run(run_id)
    tags = {key: run.data.tags[key] for key in VERSION_LINEAGE_TAGS if key in run.data.tags}
    tags |= {"run_id": run_id, "model": run.data.params.get("train.model", "")}
    tags |= {name: f"{run.data.metrics[name]:.4f}" for name in metrics if name in run.data.metrics}
    return run.data.tags.get("mlflow.note.content", ""), tags


def register(model_uri: str, name: str, run_id: str, metrics: tuple[str, ...]) -> ModelVersion:
    """Register the run's model as a new version of `name`, with the run's description and lineage
    (see version_lineage), or return the version it already has. A new registered model gets the
    project's description."""
    existing = version_of_run(name, run_id)
    if existing is not None:
        return existing
    create_registered_model(name)
    description, tags = version_lineage(run_id, metrics)
    model_id = model_uri.removeprefix("models:/")  # a logged model: models:/m-<id>
    return once_granted(
        lambda: client().create_model_version(
            name, source=model_uri, run_id=run_id, tags=tags, description=description, model_id=model_id
        )
    )


def create_registered_model(name: str) -> None:
    """Create registered model `name` with the project's description, unless it exists (the client
    API, not mlflow.register_model, which prints three lines about it)."""
    from mlflow.exceptions import MlflowException

    try:
        client().create_registered_model(name, description=pyproject()["project"].get("description"))
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def set_alias(name: str, alias: str, version: str) -> None:
    """Point `models:/<name>@<alias>` at `version` (parallel runs may set the same alias at once)."""
    again_if_raced(lambda: client().set_registered_model_alias(name, alias, version))


def model_version(name: str, version: int) -> ModelVersion | None:
    """Version `version` of model `name`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version(name, str(version))
    except MlflowException:
        return None


def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    """The version `models:/<name>@<alias>` points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def registered_versions(name: str) -> dict[str, str]:
    """run id -> "version (aliases)" for every registered version of model `name`."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client().get_registered_model(name).aliases  # alias -> version
    except MlflowException:
        return {}  # nothing registered yet
    shown = {}
    for entry in client().search_model_versions(f"name = '{name}'"):
        names = sorted(alias for alias, number in aliases.items() if int(number) == int(entry.version))
        shown[entry.run_id] = f"{entry.version} ({', '.join(names)})" if names else str(entry.version)
    return shown


def run_metrics(run_id: str) -> dict[str, float]:
    """The metrics logged to a run."""
    return dict(client().get_run(run_id).data.metrics)


def main() -> None:
    """Create the local tracking store and the project's experiment; for a server, only say
    whether it answers (the stages create the experiment there on first use)."""
    uri = tracking_uri()
    if is_server(uri):
        problem = server_problem(uri)
        print(
            f"MLflow tracking server: {uri}"
            + (f" {problem}: start it before `make repro`" if problem else "")
        )
        return
    experiment_id = connect()
    print(f"MLflow tracking store: {uri} (experiment {experiment_id})")


if __name__ == "__main__":
    main()
