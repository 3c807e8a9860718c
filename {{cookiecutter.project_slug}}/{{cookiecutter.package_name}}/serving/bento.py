"""Package a registered model as a Bento: the model, the service (`<package>.serving.service`) and the
Python packages it needs, pinned by uv.lock, ready for `bentoml serve` or `bentoml containerize`.

    python -m <package>.serving.bento --model models:/<name>@production     (or: make bento)

The model is first copied into BentoML's store, $BENTOML_HOME (the Makefile sets `.bentoml/` in the
project), tagged `<package>:v<version>` with the registered name, version, alias and run as labels;
copying the same version again does nothing. The Bento carries that copy, so it needs no access to
the MLflow registry. Its packages are those of the `bento` dependency group, exported from uv.lock.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..common.errors import PipelineError, run_main
from ..common.project import PACKAGE
from ..tracking import store

STORE_NAME = PACKAGE  # the model's name in BentoML's store, and the Bento's
MODEL_TAG = f"{STORE_NAME}:latest"  # what the service serves: the newest copy
REQUIREMENTS = Path("dist", "bento-requirements.txt")  # bentofile.yaml installs these
MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def registered_version(model_uri: str) -> tuple[str, str, str]:
    """(name, version, alias or "") of a `models:/<name>@<alias>` or `models:/<name>/<version>` URI."""
    from mlflow.exceptions import MlflowException

    match = MODEL_URI.match(model_uri)
    if match is None:
        raise PipelineError(f"{model_uri} is not models:/<name>@<alias> or models:/<name>/<version>")
    name, alias = match["name"], match["alias"] or ""
    try:
        if alias:
            return name, store.client().get_model_version_by_alias(name, alias).version, alias
        return name, store.client().get_model_version(name, match["version"]).version, alias
    except MlflowException as error:
        raise PipelineError(
            f"can't package {model_uri}: {error.message.splitlines()[0]} (`make promote` sets production; "
            "or package another: make bento MODEL=models:/<name>@staging)"
        ) from None


def import_model(model_uri: str) -> str:
    """Copy the registered model `model_uri` into BentoML's store, unless it is there; return its tag."""
    import bentoml
    from bentoml.exceptions import NotFound

    store.connect()
    name, version, alias = registered_version(model_uri)
    tag = f"{STORE_NAME}:v{version}"
    try:
        bentoml.models.get(tag)
        return tag
    except NotFound:
        pass
    run_id = store.client().get_model_version(name, version).run_id
    labels = {"registered_model": name, "version": str(version), "alias": alias, "mlflow_run_id": run_id}
    bentoml.mlflow.import_model(tag, f"models:/{name}/{version}", labels=labels)
    return tag


def build(tag: str) -> str:
    """Build a Bento (bentofile.yaml) whose service serves the model `tag`; return the Bento's tag."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise PipelineError("packaging a Bento takes uv: run `make bento`, which installs it if needed")
    REQUIREMENTS.parent.mkdir(exist_ok=True)
    export = ["export", "--frozen", "--only-group", "bento", "--no-emit-project", "--no-hashes", "--quiet"]
    subprocess.run([uv, *export, "--output-file", str(REQUIREMENTS)], check=True)
    # bentoml build runs uv too (from PATH) to set up the Bento's environment description.
    env = {**os.environ, "PATH": f"{Path(uv).parent}{os.pathsep}{os.environ['PATH']}"}
    bentoml = [sys.executable, "-m", "bentoml", "build", "--arg", f"model={tag}", "--output", "tag"]
    built = subprocess.run(bentoml, env=env, capture_output=True, text=True)
    if built.returncode != 0:
        raise PipelineError(f"bentoml build failed:\n{built.stderr.strip() or built.stdout.strip()}")
    return built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="models:/<name>@<alias> or models:/<name>/<version>")
    args = parser.parse_args()
    tag = import_model(args.model)
    print(f"bento: {args.model} -> {tag} in BentoML's store", flush=True)
    print(f"bento: built {build(tag)} (bentoml serve it, or bentoml containerize it for an image)")


if __name__ == "__main__":
    run_main(main)
