"""Serve a registered model over HTTP with MLflow's scoring server.

    python -m <package>.serving.serve --model models:/<name>@production --port 5001   (or: make serve)

POST rows to http://127.0.0.1:<port>/invocations, e.g. `{"dataframe_split": {"columns": [...],
"data": [[...]]}}`; the answer is `{"predictions": [...]}`. The server runs in this environment
(`--env-manager local`) and listens on 127.0.0.1 unless `--host` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..common.errors import PipelineError, run_main
from ..ops.ports import ensure_free
from ..tracking import store


def check_model(model_uri: str) -> None:
    """A PipelineError naming `model_uri` unless the store has that model (before the server starts)."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    try:
        get_model_info(model_uri)
    except MlflowException as error:
        raise PipelineError(
            f"can't serve {model_uri}: {error.message.splitlines()[0]} (`make promote` sets production; "
            "or serve another: make serve MODEL=models:/<name>@staging)"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/<name>@<alias>")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args()
    ensure_free(args.host, args.port, "serve", "SERVE_PORT")
    # The server resolves models:/ URIs in the project's store (or the team's server).
    os.environ["MLFLOW_TRACKING_URI"] = store.reachable_tracking_uri()
    check_model(args.model)
    command = ["mlflow", "models", "serve", "--model-uri", args.model, "--env-manager", "local"]
    command += ["--host", args.host, "--port", str(args.port)]
    print(f"serve: {args.model} on http://{args.host}:{args.port}/invocations", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", *command])


if __name__ == "__main__":
    run_main(main)
