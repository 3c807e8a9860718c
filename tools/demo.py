"""`make demo`: generate a project with the default options into demo/ and run its pipeline.

Prints where the project is, its test metrics, the registered model version and its aliases,
and how to open the MLflow UI. Run again to start over (demo/ is replaced).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEMO_DIR = TEMPLATE / "demo"


def generate() -> Path:
    """Generate the default project into demo/, replacing an earlier demo."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(DEMO_DIR)))


def registered_versions(project: Path, model_name: str) -> list[tuple[str, list[str]]]:
    """(version, aliases) of each registered version, read from the project's SQLite store."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    aliases = client.get_registered_model(model_name).aliases  # alias -> version
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{model_name}'"))
    return [(str(v), sorted(a for a, av in aliases.items() if int(av) == v)) for v in versions]


def main() -> None:
    project = generate()
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):  # compile what the pipeline imports, once
        package = next(path.parent.parent.name for path in project.glob("*/ops/bytecode.py"))
        subprocess.run([sys.executable, "-m", f"{package}.ops.bytecode"], cwd=project, check=True)
    print(f"\n== Generated {project}\n== Running its pipeline: dvc repro\n", flush=True)
    subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=project, check=True)
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
