"""Prune what the options did not choose, then create the MLflow store and initialise git and DVC.

Runs inside the new project folder. Any failing step stops generation with the command's own
message, and cookiecutter then removes the folder: no half-initialised repository is left.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

PLOTS_TEMPLATES = Path(".dvc", "plots")  # the project's `dvc plots` templates (classification only)
PLOTS_ASIDE = Path(".dvc-plots")  # where they wait while `dvc init` runs (and stay, without DVC)


def prune(options: dict) -> Path:
    """Keep only the chosen data set, task module, license, CI workflow and team stack; return the raw data file."""
    chosen = options["_datasets"][options["dataset"]]
    raw_dir = Path("data", "raw")
    for data_file in raw_dir.glob("*.csv"):
        if data_file.name != chosen["file"]:
            data_file.unlink()
    package = Path(options["package_name"])
    (package / "tasks" / f"{chosen['task']}.py").rename(package / "task.py")
    shutil.rmtree(package / "tasks")
    if options["license"] == "Proprietary":
        Path("LICENSE").unlink()
    if options["ci"] != "github":
        shutil.rmtree(".github")
    if options["team_stack"] != "yes":
        Path("docker-compose.yml").unlink()
        shutil.rmtree("docker")
    if chosen["task"] != "classification":
        shutil.rmtree(PLOTS_TEMPLATES)  # the template that draws the confusion matrix
        PLOTS_TEMPLATES.parent.rmdir()
    for cache in list(Path().rglob("__pycache__")):  # copied from a template folder whose code ran
        shutil.rmtree(cache)
    return raw_dir / chosen["file"]


def write_schema(raw_file: Path) -> None:
    """Write data/schema.yaml: the feature columns `prepare` will require, from the raw data's header."""
    with open(raw_file, newline="", encoding="utf-8") as file:
        header = next(csv.reader(file))
    features = "".join(f"  - {json.dumps(column)}\n" for column in header if column != "target")
    Path("data", "schema.yaml").write_text(
        "# The feature columns `prepare` requires in the raw data, besides the target column `target`.\n"
        "# Written when the project was generated; edit it when you change the data's columns on purpose.\n"
        f"features:\n{features}",
        encoding="utf-8",
    )


def run(*command: str, env: dict | None = None) -> None:
    """Run a command; on failure stop generation with its output."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"ERROR: `{' '.join(command)}` failed:\n{result.stdout}{result.stderr}")


def dvc_commands(options: dict, raw_file: Path, with_git: bool) -> list[list[str]]:
    """The `dvc` commands (arguments) that set the project up: init, auto-staging, the remote, and
    the raw data added."""
    commands = [
        ["init", "--quiet", *([] if with_git else ["--no-scm"])],
        ["config", "core.autostage", "true"],
    ]
    if options["dvc_remote_url"]:
        commands.append(["remote", "add", "--default", "storage", options["dvc_remote_url"]])
    if options["s3_endpoint_url"]:
        commands.append(["remote", "modify", "storage", "endpointurl", options["s3_endpoint_url"]])
    return [*commands, ["add", "--quiet", str(raw_file)]]


def init_dvc(options: dict, raw_file: Path, with_git: bool) -> bool:
    """Run dvc_commands, with the project's plots templates set aside meanwhile (see
    templates_set_aside). Through DVC's Python API when this interpreter has DVC (one process: ~1 s
    less than the commands), else the `dvc` on PATH (cookiecutter installed on its own, e.g. with
    pipx). Without DVC, print the steps to take once it is installed and return False."""
    templates_aside = templates_set_aside()
    if importlib.util.find_spec("dvc") is not None:
        remote = {"url": options["dvc_remote_url"]}
        if options["s3_endpoint_url"]:
            remote["endpointurl"] = options["s3_endpoint_url"]
        init_dvc_in_process(raw_file, with_git, remote)
    elif dvc := shutil.which("dvc"):
        for command in dvc_commands(options, raw_file, with_git):
            run(dvc, *command)
    else:
        steps = dvc_steps(options, raw_file, with_git, templates_aside)
        print("NOTE: DVC not found: run `make setup`, then " + ", ".join(f"`{step}`" for step in steps) + ".")
        return False
    if templates_aside:
        PLOTS_ASIDE.rename(PLOTS_TEMPLATES)
    return True


def templates_set_aside() -> bool:
    """Move the shipped .dvc/plots to PLOTS_ASIDE, since `dvc init` refuses an existing .dvc
    folder; False when there is none (a regression project)."""
    if not PLOTS_TEMPLATES.exists():
        return False
    PLOTS_TEMPLATES.rename(PLOTS_ASIDE)
    PLOTS_TEMPLATES.parent.rmdir()
    return True


def dvc_steps(options: dict, raw_file: Path, with_git: bool, templates_aside: bool) -> list[str]:
    """The shell commands that set DVC up once it is installed: dvc_commands, after `git init` when
    there is no git repository yet, and the plots templates moved into .dvc after `dvc init`."""
    steps = [f"dvc {shlex.join(command)}" for command in dvc_commands(options, raw_file, with_git=True)]
    if templates_aside:
        steps.insert(1, f"mv {PLOTS_ASIDE} {PLOTS_TEMPLATES}")
    return steps if with_git else ["git init --initial-branch=main", *steps]


def init_dvc_in_process(raw_file: Path, with_git: bool, remote: dict[str, str]) -> None:
    """What dvc_commands do, with DVC's Python API; a DVC error stops generation."""
    import logging

    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    logging.getLogger("dvc").setLevel(logging.WARNING)  # the commands' --quiet
    try:
        repo = Repo.init(no_scm=not with_git)
        with repo.config.edit() as config:
            config["core"]["autostage"] = "true"  # as `dvc config` writes it
            if remote["url"]:
                config["core"]["remote"] = "storage"
                config["remote"]["storage"] = remote
        repo.add(str(raw_file))
        repo.close()
    except DvcException as error:
        sys.exit(f"ERROR: setting up DVC failed: {error}")


def init_repositories(options: dict, raw_file: Path) -> None:
    """git init, DVC (see init_dvc), and commit it all."""
    git = shutil.which("git")
    if git:
        run(git, "init", "--quiet", "--initial-branch=main")
    else:
        print("NOTE: git not found: the project is not a git repository; run `git init` later.")
    if not init_dvc(options, raw_file, with_git=bool(git)):
        return
    if git:
        run(git, "add", "--all")
        run(
            git,
            *identity_args(git, options),
            "commit",
            "--quiet",
            "-m",
            "New project from the DVC + MLflow template",
        )


def identity_args(git: str, options: dict) -> list[str]:
    """`-c user.name=… -c user.email=…` when git has no identity configured, else nothing."""
    configured = subprocess.run([git, "config", "user.email"], capture_output=True, text=True)
    if configured.returncode == 0 and configured.stdout.strip():
        return []
    print("NOTE: git has no user.email set; the first commit uses the author name and a placeholder address.")
    author = options["author_name"].strip() or "Project author"
    return ["-c", f"user.name={author}", "-c", f"user.email={options['project_slug']}@users.noreply.invalid"]


def create_tracking_store(options: dict) -> None:
    """Create the local MLflow store, `mlflow.db`, from the SQL of an empty one (what the locked
    MLflow's own migrations make, see tools/dump_mlflow_schema.py): milliseconds, where MLflow takes
    seconds to import and migrate. Parallel first runs then find the store ready. A project that
    logs to a tracking server gets none."""
    schema = Path(".mlflow-store.sql")
    if not options["mlflow_tracking_uri"]:
        with closing(sqlite3.connect("mlflow.db")) as store:
            store.executescript(schema.read_text(encoding="utf-8"))
    schema.unlink()


def existing_project_state() -> list[str]:
    """What a project generated here before left (`cookiecutter -f` over its folder): DVC's
    settings and cache, the MLflow store. The hook would fail on them, so it stops before."""
    dvc_files = [str(path) for path in Path(".dvc").glob("*") if path != PLOTS_TEMPLATES]
    return sorted(dvc_files + [name for name in ("mlflow.db", "mlartifacts") if Path(name).exists()])


def main() -> None:
    options = json.loads(r"""{{ cookiecutter | tojson }}""")
    if found := existing_project_state():
        sys.exit(
            f"ERROR: {Path.cwd()} holds a project already ({', '.join(found)}); nothing of it was "
            "changed beyond the template's files: generate into a new folder"
        )
    raw_file = prune(options)
    write_schema(raw_file)
    create_tracking_store(options)
    init_repositories(options, raw_file)
    print(f"Created {Path.cwd()}\nNext: cd {options['project_slug']} && make setup && make repro")


if __name__ == "__main__":
    main()
