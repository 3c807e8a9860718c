"""Serve a registered model over HTTP with MLflow's scoring server.

    python -m <package>.serve --model models:/<name>@production --port 5001   (or: make serve)

POST rows to http://127.0.0.1:<port>/invocations, e.g. `{"dataframe_split": {"columns": [...],
"data": [[...]]}}`; the answer is `{"predictions": [...]}`. The server runs in this environment
(`--env-manager local`) and listens on 127.0.0.1 unless `--host` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import tracking
from .errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/<name>@<alias>")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args()
    # The server resolves models:/ URIs in the project's store (or the team's server).
    os.environ["MLFLOW_TRACKING_URI"] = tracking.reachable_tracking_uri()
    command = ["mlflow", "models", "serve", "--model-uri", args.model, "--env-manager", "local"]
    command += ["--host", args.host, "--port", str(args.port)]
    print(f"serve: {args.model} on http://{args.host}:{args.port}/invocations", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", *command])


if __name__ == "__main__":
    run_main(main)
