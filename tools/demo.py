"""`make demo`: generate a project with the default options into demo/, set it up and run its pipeline.

Runs the project's own `make setup` (its .venv, from its uv.lock) and `make repro`, as a user
would, so the commands printed at the end work there. Prints where the project is, its test
metrics, the registered model version and its aliases, and how to open the MLflow UI. Run again to
start over (demo/ is replaced).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEMO_DIR = TEMPLATE / "demo"


def generate() -> Path:
    """Generate the default project into demo/, replacing an earlier demo."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(DEMO_DIR)))


def user_environment() -> dict[str, str]:
    """This process's environment without the template's .venv: the project uses its own."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(folder for folder in os.environ["PATH"].split(os.pathsep) if folder != venv_bin)
    return {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"} | {"PATH": path}


def registered_versions(project: Path, model_name: str) -> list[tuple[str, list[str]]]:
    """(version, aliases) of each registered version, read from the project's SQLite store (its
    registry tables; importing MLflow here would take longer than the query)."""
    with closing(sqlite3.connect(project / "mlflow.db")) as store:
        versions = store.execute("SELECT version FROM model_versions WHERE name = ?", (model_name,))
        aliases = store.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (model_name,)
        ).fetchall()
        return [
            (str(v), sorted(alias for alias, av in aliases if av == v))
            for v in sorted(int(row[0]) for row in versions)
        ]


def main() -> None:
    project = generate()
    print(f"\n== {project}: make setup", flush=True)
    setup = subprocess.run(
        ["make", "setup"], cwd=project, env=user_environment(), capture_output=True, text=True
    )
    if setup.returncode != 0:  # its list of installed packages is shown only when something failed
        sys.exit(f"{setup.stdout}{setup.stderr}\nerror: make setup failed in {project} (above)")
    print(f"== {project}: make repro\n", flush=True)
    subprocess.run(["make", "repro"], cwd=project, env=user_environment(), check=True)
    metrics = json.loads((project / "dvclive" / "metrics.json").read_text())
    decision = json.loads((project / "reports" / "registration.json").read_text())
    print(f"\n== Project:        {project}")
    print("== Test metrics:   " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    print(f"== Registration:   {decision['reason']}")
    for version, aliases in registered_versions(project, decision["model_name"]):
        print(f"== Model registry: models:/{decision['model_name']} version {version}, aliases {aliases}")
    print(f"== MLflow UI:      cd {os.path.relpath(project)} && make ui   (http://127.0.0.1:5050)")
    print(f"== Experiments:    cd {os.path.relpath(project)} && make exp ARGS='-S train.n_estimators=50'")


if __name__ == "__main__":
    main()
