"""Check the setup the pipeline depends on, one line per check: `python -m <package>.ops.doctor`.

- the MLflow tracking store: a server answers within seconds and accepts a write (with
  authentication: the identity signed in and what it may do; a wrong password is named); a SQLite
  file passes `PRAGMA integrity_check`;
- the DVC remote: reachable, its bucket exists, the credentials in use are accepted, whether they
  may write or only read (and which credential settings are in use, never their values);
- git and DVC: a repository with a commit, the raw data as its .dvc file records it, and the
  plots templates dvc.yaml names;
- the environment: the installed packages at the versions uv.lock pins for the pipeline;
- a shared Optuna study's database (OPTUNA_STORAGE or tune.storage), if any: it answers;
- secrets at rest: `.env`, `.dvc/config.local` and the TLS key readable by their owner only.

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

from .. import schema
from ..common.errors import PipelineError, first_line
from ..common.project import PACKAGE, git, project_root, project_settings
from ..config import load_params
from ..experiments.shared import database_problem, shown, storage_url
from ..tables import urls
from ..tracking import auth, store, sync
from .environment import mismatches, pins_of
from .remote import check_remote
from .report import Report


def check_tracking(report: Report) -> None:
    """The tracking store answers and takes writes (server), or is an intact SQLite file. A server
    with authentication: who we are signed in as, and what that identity may do here."""
    uri = store.tracking_uri()
    if uri.startswith("sqlite:///"):
        check_sqlite_store(report, Path(uri.removeprefix("sqlite:///")))
        return
    if exposed_host := urls.clear_text_host(uri):
        report.problem(
            f"MLflow tracking server {uri} is reached over plain http: a password sent to "
            f"{exposed_host} travels in clear text",
            "an https:// URL (the team stack's TLS proxy: docs/team-mode.md#tls)",
        )
    unreachable = store.server_problem(uri)
    if unreachable:
        report.problem(
            f"MLflow tracking server {uri} {unreachable}",
            "start the server, or correct MLFLOW_TRACKING_URI / mlflow_tracking_uri in pyproject.toml",
        )
        return
    status, user = auth.identity(uri)
    if status == 401:
        who = auth.signed_in_as()
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
        experiment_id = store.connect()
        store.client().set_experiment_tag(experiment_id, "doctor.checked_at", str(int(time.time())))
    except Exception as error:  # noqa: BLE001 - MLflow raises many types; report any in one line
        report.problem(
            f"MLflow tracking server {uri} does not accept writes: {first_line(error)}",
            "check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN",
        )
        return
    anyone = "" if status == 200 else ", without authentication: anyone who reaches it may read and write"
    report.ok(f"MLflow tracking server {uri} answers and accepts writes (experiment {experiment_id}){anyone}")


def check_pending_runs(report: Report) -> None:
    """Runs `register` logged locally while the tracking server was down, not yet sent."""
    pending = sync.pending_count()
    if pending:
        report.problem(
            f"{pending} run(s) logged to mlflow.db while the tracking server was down are not on it yet",
            "make sync (once the server answers)",
        )


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

    from ..config import load_params

    mlflow.set_tracking_uri(uri)
    experiment_name = project_settings()["mlflow_experiment"]
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
        report.problem(f"MLflow store {path} does not exist", f"run `python -m {PACKAGE}.tracking`")
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


def check_study_storage(report: Report) -> None:
    """The database a shared Optuna study lives in (make tune) answers, and is not MLflow's."""
    try:
        url = storage_url(load_params().tune.storage)
    except PipelineError as error:
        return report.problem(f"params.yaml: {error}", "correct it as the message says")
    problem = database_problem(url) if url else None
    if problem:
        report.problem(*problem)
    elif url:
        report.ok(f"Optuna's study storage {shown(url)} answers: make tune shares its studies")


def check_repository(report: Report) -> None:
    """A git repository with a commit, and the DVC-tracked raw data present in the workspace."""
    from dvc.repo import Repo

    if git("rev-parse", "--verify", "HEAD") is None:
        report.problem(
            "no git commit: runs can't record which code they used",
            "git init, then git add --all && git commit",
        )
    else:
        report.ok(f"git repository at commit {git('rev-parse', '--short', 'HEAD')}")
    repo = Repo(str(project_root()))
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


# Files that hold keys or passwords: the team stack's secrets, DVC's keys of this clone, the TLS key.
SECRET_FILES = (Path(".env"), Path(".dvc", "config.local"), Path("docker", "tls", "server.key"))


def check_secret_files(report: Report, root: Path) -> None:
    """Each of SECRET_FILES under `root` that exists is readable and writable by its owner only."""
    present = [name for name in SECRET_FILES if (root / name).is_file()]
    exposed = [str(name) for name in present if (root / name).stat().st_mode & 0o077]
    if exposed:
        report.problem(
            f"{', '.join(exposed)} can be read by other users of this machine (keys or passwords)",
            f"chmod 600 {' '.join(exposed)}",
        )
    else:
        report.ok(
            f"files with secrets readable by their owner only: {', '.join(map(str, present)) or 'none here'}"
        )


def check_environment(report: Report) -> None:
    """The installed packages the pipeline runs on, at the versions uv.lock pins."""
    try:
        wrong = mismatches(pins_of(project_root() / "uv.lock"))
    except PipelineError as error:
        report.problem(str(error), "run `uv lock`, then `make setup`")
        return
    if wrong:
        report.problem(f"the environment does not match uv.lock: {'; '.join(wrong)}", "run `make setup`")
    else:
        report.ok("the installed packages match uv.lock")


def check_plots_templates(report: Report) -> None:
    """Every plots template dvc.yaml names is one of DVC's own or a file in .dvc/plots."""
    import yaml
    from dvc_render.vega_templates import TemplateNotFoundError, get_template

    root = project_root()
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
        check_pending_runs(report)
        check_study_storage(report)
        check_repository(report)
        check_environment(report)
        check_plots_templates(report)
        check_secret_files(report, project_root())
    check_remote(report)
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
