"""Write the empty MLflow tracking store that generation starts each project with, as SQL.

    .venv/bin/python tools/dump_mlflow_schema.py

MLflow creates a new SQLite store by running its ~100 schema migrations (seconds, plus MLflow's
import). The post-generation hook instead runs this file's SQL (milliseconds): the tables,
indexes, triggers and rows that the installed MLflow's own migrations produce, without any
experiment (a project's first run creates MLflow's Default experiment and the project's own,
with paths of the project). Rerun this after changing MLflow's pin in the lock; a test checks
that the file matches the locked MLflow.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
SCHEMA_FILE = TEMPLATE / "{{cookiecutter.project_slug}}" / ".mlflow-store.sql"


def header(mlflow_version: str) -> str:
    return (
        f"-- An empty MLflow {mlflow_version} tracking store: what its migrations create, without experiments.\n"
        "-- Written by tools/dump_mlflow_schema.py; the post-generation hook runs it and deletes this file.\n"
    )


# MLflow's tracking and registry stores, created as a stage would (tracking.connect()).
CREATE_STORE = """
import sys
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
TrackingStore(sys.argv[1], sys.argv[2])
RegistryStore(sys.argv[1])
"""


def store_sql() -> str:
    """The SQL of a new store made by the installed MLflow, less the Default experiment's row."""
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "mlflow.db"
        # Some migrations order constraints and indexes by string hashes: a fixed seed makes the
        # file the same on every run, so a rerun shows a diff only when MLflow's schema changed.
        subprocess.run(
            [sys.executable, "-c", CREATE_STORE, f"sqlite:///{database}", Path(folder).as_uri()],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
            capture_output=True,
        )
        connection = sqlite3.connect(database)
        statements = [
            line for line in connection.iterdump() if not line.startswith('INSERT INTO "experiments"')
        ]
        connection.close()
    # iterdump lists tables by name but indexes and triggers in the order they were made, which
    # varies: list those by name too, before the closing COMMIT.
    later = sorted(
        s for s in statements if s.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX", "CREATE TRIGGER"))
    )
    first = [s for s in statements if s not in later and s != "COMMIT;"]
    return header(version("mlflow")) + "\n".join([*first, *later, "COMMIT;"]) + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(store_sql(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE.relative_to(TEMPLATE)} (MLflow {version('mlflow')})", file=sys.stderr)


if __name__ == "__main__":
    main()
