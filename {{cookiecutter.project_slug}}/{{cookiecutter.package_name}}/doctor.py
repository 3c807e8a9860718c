"""Check the setup the pipeline depends on, one line per check: `python -m <package>.doctor`.

- the MLflow tracking store: a server answers within seconds and accepts a write (with
  authentication: the identity signed in and what it may do; a wrong password is named); a SQLite
  file passes `PRAGMA integrity_check`;
- the DVC remote: reachable, its bucket exists, the credentials in use are accepted, whether they
  may write or only read (and which credential settings are in use, never their values);
- git and DVC: a repository with a commit, the raw data as its .dvc file records it, and the
  plots templates dvc.yaml names.

Each line starts with `ok:` or `problem:`; a problem says what is wrong and how to fix it.
Exit status 1 when there is a problem. `--remote` checks only the DVC remote (`make push` uses it).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import schema, tracking

if TYPE_CHECKING:
    from s3fs import S3FileSystem

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
CREDENTIAL_OPTIONS = ("access_key_id", "secret_access_key", "session_token", "profile", "credentialpath")


class Report:
    """Collects the checks' outcomes and prints each as it comes."""

    def __init__(self) -> None:
        self.problems = 0

    def ok(self, message: str) -> None:
        print(f"ok: {message}")

    def problem(self, message: str, fix: str) -> None:
        self.problems += 1
        print(f"problem: {message}. Fix: {fix}")


def check_tracking(report: Report) -> None:
    """The tracking store answers and takes writes (server), or is an intact SQLite file. A server
    with authentication: who we are signed in as, and what that identity may do here."""
    uri = tracking.tracking_uri()
    if uri.startswith("sqlite:///"):
        check_sqlite_store(report, Path(uri.removeprefix("sqlite:///")))
        return
    unreachable = tracking.server_problem(uri)
    if unreachable:
        report.problem(
            f"MLflow tracking server {uri} {unreachable}",
            "start the server, or correct MLFLOW_TRACKING_URI / mlflow_tracking_uri in pyproject.toml",
        )
        return
    status, user = tracking.identity(uri)
    if status == 401:
        who = tracking.signed_in_as()
        refused = (
            f"user {who!r} (wrong password, or no such user)" if who else "a request without credentials"
        )
        report.problem(
            f"MLflow tracking server {uri} refused {refused}: HTTP 401",
            "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to "
            "the identity the server's admin gave you (make identity)",
        )
        return
    if status == 200 and not check_identity(report, uri, user):
        return  # an identity that may not write: nothing more to try
    try:
        experiment_id = tracking.connect()
        tracking.client().set_experiment_tag(experiment_id, "doctor.checked_at", str(int(time.time())))
    except Exception as error:  # noqa: BLE001 - MLflow raises many types; report any in one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        report.problem(
            f"MLflow tracking server {uri} does not accept writes: {first_line}",
            "check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN",
        )
        return
    anyone = "" if status == 200 else ", without authentication: anyone who reaches it may read and write"
    report.ok(f"MLflow tracking server {uri} answers and accepts writes (experiment {experiment_id}){anyone}")


def grant_on(user: dict, resource_type: str, resource_id: str | None) -> str:
    """A signed-in user's permission on one resource: ADMIN, its grant (READ, EDIT, MANAGE), or
    NO_PERMISSIONS (MLflow's default for the team stack)."""
    if user.get("is_admin"):
        return "ADMIN"
    for grant in user.get("permissions", []):
        if grant["resource_type"] == resource_type and grant["resource_pattern"] in (resource_id, "*"):
            return grant["permission"]
    return "NO_PERMISSIONS"


def check_identity(report: Report, uri: str, user: dict) -> bool:
    """Say who we are signed in as and what that identity may do with this project's experiment
    and registered model; return whether it may log runs."""
    import mlflow

    from .config import load_params

    mlflow.set_tracking_uri(uri)
    experiment_name = tracking.project_settings()["mlflow_experiment"]
    model_name = load_params().registry.model_name
    try:
        experiment = mlflow.get_experiment_by_name(experiment_name)
    except Exception:  # noqa: BLE001 - refused (403) reads as: no grant on it
        experiment = None
    on_experiment = grant_on(user, "experiment", experiment.experiment_id if experiment else None)
    on_model = grant_on(user, "registered_model", model_name)
    name = user["username"]
    if "NO_PERMISSIONS" in (on_experiment, on_model):
        report.problem(
            f"{name!r} is signed in to {uri} but has no grant on experiment {experiment_name!r} "
            f"({on_experiment}) or model {model_name!r} ({on_model})",
            f"the server's admin runs `make identity NAME={name} ROLE=person` (or ROLE=ci)",
        )
        return False
    may = ["reads runs and the registry"]
    if on_experiment != "READ":
        may.append("logs runs")
    if on_model != "READ":
        may.append("registers and promotes")
    if "ADMIN" in (on_experiment, on_model) or "MANAGE" in (on_experiment, on_model):
        may.append("deletes")
    report.ok(
        f"signed in to {uri} as {name!r}: {on_experiment} on experiment {experiment_name!r}, "
        f"{on_model} on model {model_name!r}: {', '.join(may)}"
    )
    return on_experiment != "READ"


def check_sqlite_store(report: Report, path: Path) -> None:
    """The local SQLite store exists, is writable and passes SQLite's integrity check."""
    if not path.exists():
        report.problem(f"MLflow store {path} does not exist", f"run `python -m {tracking.PACKAGE}.tracking`")
        return
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        report.problem(
            f"MLflow store {path} is not writable", "fix the permissions of the file and its folder"
        )
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as database:
            result = database.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as error:
        result = str(error)
    if result != "ok":
        report.problem(
            f"MLflow store {path} is damaged ({result})",
            "restore it from a backup, or move it away and run `dvc repro -f register` to log the model again",
        )
        return
    report.ok(f"MLflow store {path} is intact and writable")


def credential_sources(remote_config: dict, local_config: dict) -> str:
    """Which credential settings are in use for an S3 remote (names only, never values)."""
    sources = [name for name in CREDENTIAL_VARIABLES if os.environ.get(name)]
    sources += [f"{option} in .dvc/config.local" for option in CREDENTIAL_OPTIONS if option in local_config]
    sources += [
        f"{option} in .dvc/config"
        for option in CREDENTIAL_OPTIONS
        if option in remote_config and option not in local_config
    ]
    return ", ".join(sources) or "none set (AWS's default chain: ~/.aws, instance role)"


def check_remote(report: Report) -> None:
    """The default DVC remote is reachable and accepts the credentials in use."""
    from dvc.repo import Repo

    repo = Repo(str(tracking.project_root()))
    name = repo.config["core"].get("remote")
    if not name:
        report.ok("no default DVC remote: data stays in this clone's cache (add one: dvc remote add -d ...)")
        return
    remote_config = repo.config["remote"][name]
    url = remote_config["url"]
    where = f"DVC remote '{name}' ({url}" + (
        f" at {remote_config['endpointurl']})" if remote_config.get("endpointurl") else ")"
    )
    try:
        remote = repo.cloud.get_remote(name)
    except ImportError as error:  # e.g. a gs:// remote without dvc-gs installed
        report.problem(f"{where}: {error}", "install DVC's plugin for it, then rerun")
        return
    if remote.fs.protocol == "local":
        if can_write(Path(remote.path)):
            report.ok(f"{where} is writable")
        else:
            report.problem(f"{where} is not writable", "fix the folder's permissions or the remote's url")
        return
    if remote.fs.protocol != "s3":
        report.ok(f"{where}: only local and S3 remotes are checked here; `dvc push` reports the rest")
        return
    local_config = repo.config.read("local").get("remote", {}).get(name, {})
    credentials = credential_sources(remote_config, local_config)
    bucket = remote.path.split("/")[0]
    try:
        remote.fs.fs.ls(bucket, refresh=True)
    except PermissionError as error:
        report.problem(
            f"{where} refused the credentials: {error} (credentials in use: {credentials})",
            f"set the right keys in the environment or with `dvc remote modify --local {name} access_key_id ...`",
        )
    except FileNotFoundError:
        report.problem(f"{where}: bucket '{bucket}' does not exist", "create the bucket, or correct the url")
    except Exception as error:  # noqa: BLE001 - botocore's connection errors share no useful base
        report.problem(
            f"{where} is not reachable: {error}",
            f"check the network and the endpoint (`dvc remote modify {name} endpointurl URL`)",
        )
    else:
        may = "read and write" if may_write(remote.fs.fs, remote.path) else "read (pull), not write (push)"
        report.ok(f"{where} is reachable; the credentials in use ({credentials}) may {may}")


def may_write(s3: S3FileSystem, path: str) -> bool:
    """Whether the credentials may upload to the remote: S3 asks the same permission to start a
    multipart upload as to put an object, and the upload, aborted at once, leaves nothing."""
    bucket, _, prefix = path.partition("/")
    key = f"{prefix}/.doctor-write-check".lstrip("/")
    try:
        upload = s3.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    except PermissionError:
        return False
    s3.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    return True


def can_write(folder: Path) -> bool:
    """Whether we can write into `folder`, or create it where it does not exist yet."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    return os.access(existing, os.W_OK)


def check_repository(report: Report) -> None:
    """A git repository with a commit, and the DVC-tracked raw data present in the workspace."""
    from dvc.repo import Repo

    if tracking.git("rev-parse", "--verify", "HEAD") is None:
        report.problem(
            "no git commit: runs can't record which code they used",
            "git init, then git add --all && git commit",
        )
    else:
        report.ok(f"git repository at commit {tracking.git('rev-parse', '--short', 'HEAD')}")
    repo = Repo(str(tracking.project_root()))
    data_files = [out for stage in repo.index.stages if stage.is_data_source for out in stage.outs]
    for out in data_files:
        state = out.status().get(str(out))  # None when the file matches its .dvc file
        if state is None:
            report.ok(f"DVC-tracked data {out} matches its .dvc file")
        elif state == "modified":
            report.problem(
                f"DVC-tracked data {out} differs from its .dvc file",
                f"`dvc checkout --force {out}` restores the tracked version; `dvc add {out}` records yours",
            )
        elif out.cache.exists(out.hash_info.value):
            report.problem(
                f"DVC-tracked data {out} is {state}", f"run `dvc checkout {out}` (DVC's cache has it)"
            )
        else:
            report.problem(f"DVC-tracked data {out} is {state}, and not in DVC's cache", "run `dvc pull`")


def check_plots_templates(report: Report) -> None:
    """Every plots template dvc.yaml names is one of DVC's own or a file in .dvc/plots."""
    import yaml
    from dvc_render.vega_templates import TemplateNotFoundError, get_template

    root = tracking.project_root()
    named = template_names(yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")))
    task = schema.load(root / schema.SCHEMA_FILE).task  # dvc.yaml's ${task}, from data/schema.yaml
    names = sorted(name.replace("${task}", task) for name in named)
    missing = []
    for name in names:
        try:
            get_template(name, str(root / ".dvc" / "plots"))
        except TemplateNotFoundError:
            missing.append(name)
    if missing:
        report.problem(
            f"dvc.yaml names plots templates that are not in .dvc/plots: {', '.join(missing)}",
            "`git checkout -- .dvc/plots` (a project set up without DVC keeps them in .dvc-plots/: "
            "`mv .dvc-plots .dvc/plots`)",
        )
    else:
        report.ok(f"dvc plots templates found: {', '.join(names) or 'none named'}")


def template_names(node: object) -> set[str]:
    """The values of every `template` key in a parsed dvc.yaml."""
    if isinstance(node, dict):
        found = {value for key, value in node.items() if key == "template" and isinstance(value, str)}
        return found.union(*(template_names(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(template_names(item) for item in node))
    return set()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--remote", action="store_true", help="check only the DVC remote")
    args = parser.parse_args()
    report = Report()
    if not args.remote:
        check_tracking(report)
        check_repository(report)
        check_plots_templates(report)
    check_remote(report)
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
