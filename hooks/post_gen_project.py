"""Prune what the options did not choose, then initialise git, DVC and the MLflow store.

Runs inside the new project folder. Any failing step stops generation with the command's own
message, and cookiecutter then removes the folder: no half-initialised repository is left.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


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


def dvc_command() -> list[str] | None:
    """How to call DVC: through this Python if it has DVC, else a `dvc` on PATH, else None."""
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    found = shutil.which("dvc")
    return [found] if found else None


def init_repositories(options: dict, raw_file: Path) -> None:
    """git init, dvc init, dvc add the raw data, set the remote, and commit it all."""
    git = shutil.which("git")
    dvc = dvc_command()
    if git:
        run(git, "init", "--quiet", "--initial-branch=main")
    else:
        print("NOTE: git not found: the project is not a git repository; run `git init` later.")
    if not dvc:
        print("NOTE: DVC not found: run `make setup`, then `dvc init` and `dvc add " + str(raw_file) + "`.")
        return
    run(*dvc, "init", "--quiet", *([] if git else ["--no-scm"]))
    run(*dvc, "config", "core.autostage", "true")
    run(*dvc, "add", "--quiet", str(raw_file))
    if options["dvc_remote_url"]:
        run(*dvc, "remote", "add", "--default", "storage", options["dvc_remote_url"])
    if options["s3_endpoint_url"]:
        run(*dvc, "remote", "modify", "storage", "endpointurl", options["s3_endpoint_url"])
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


def start_tracking_store(options: dict) -> subprocess.Popen | None:
    """Start creating the local MLflow store and experiment, so parallel first runs don't race for
    it. It runs in the background (its schema migrations take ~2 s) while git and DVC are set up."""
    if options["mlflow_tracking_uri"] or os.environ.get("MLFLOW_TRACKING_URI"):
        return None  # a tracking server: the stages create the experiment on first use
    if importlib.util.find_spec("mlflow") is None:
        print("NOTE: MLflow not installed here; `make setup` creates the tracking store.")
        return None
    command = [sys.executable, "-m", f"{options['package_name']}.tracking"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_tracking_store(process: subprocess.Popen | None) -> None:
    """Wait for the store to be created; on failure stop generation with its output."""
    if process is None:
        return
    output, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"ERROR: creating the MLflow store failed:\n{output}")


def main() -> None:
    options = json.loads(r"""{{ cookiecutter | tojson }}""")
    raw_file = prune(options)
    write_schema(raw_file)
    store = start_tracking_store(options)
    try:
        init_repositories(options, raw_file)
    finally:
        finish_tracking_store(store)
    print(f"Created {Path.cwd()}\nNext: cd {options['project_slug']} && make setup && make repro")


if __name__ == "__main__":
    main()
