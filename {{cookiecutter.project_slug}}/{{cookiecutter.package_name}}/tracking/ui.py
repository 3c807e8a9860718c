"""The MLflow UI of the project's store on 127.0.0.1:5050 (`make ui`); with a tracking server, its
address.

    python -m <package>.tracking.ui --host 127.0.0.1 --port 5050
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from ..common.errors import PipelineError, run_main
from ..ops.ports import ensure_free
from .store import is_server, tracking_uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    # Not MLflow's 5000: on macOS, AirPlay answers there.
    parser.add_argument("--port", type=int, default=5050, help="the port (default 5050)")
    args = parser.parse_args()
    uri = tracking_uri()
    if is_server(uri):
        print(f"runs go to the tracking server: open {uri}")
        return
    mlflow = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or shutil.which("mlflow")
    if mlflow is None:
        raise PipelineError("the mlflow command is not installed here: run `make setup` first")
    ensure_free(args.host, args.port, "ui", "PORT")
    print(f"MLflow UI of {uri} on http://{args.host}:{args.port}/#/experiments?workflowType=machine_learning")
    # No GenAI job workers (each takes hundreds of MB; the project runs no jobs).
    os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    sys.stdout.flush()
    command = ["ui", "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port)]
    os.execvp(mlflow, [mlflow, *command])


if __name__ == "__main__":
    run_main(main)
