"""What leads from an MLflow run or model version back to the code, the data and the DVC experiment."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..common.project import PACKAGE, git
from .store import again_if_raced, client

# What the pipeline's results depend on in git: `git_dirty` says whether they differ from the commit.
LINEAGE_PATHS = (PACKAGE, "params.yaml", "dvc.yaml", "data", "pyproject.toml", "uv.lock")


def lineage_tags() -> dict[str, str]:
    """Tags that lead from an MLflow run back to the code and the DVC experiment."""
    tags = {"project": PACKAGE}
    commit = os.environ.get("DVC_EXP_BASELINE_REV") or git("rev-parse", "HEAD")
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["git_commit"] = commit
        # Whether the code, params or data definitions differ from that commit (inside `dvc exp
        # run`: the experiment's -S values); the pipeline's own outputs are left out.
        status = ("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
        changed = git(*status, "--", *LINEAGE_PATHS, ":(exclude,glob)**/.gitignore")  # DVC's own
        if changed is not None:
            tags["git_dirty"] = str(bool(changed)).lower()
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


def file_md5(path: Path) -> str:
    """The MD5 that DVC records for a single file (its `.dvc` file and dvc.lock show the same)."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def log_data_source(path: Path, md5: str) -> None:
    """Log the raw data file, identified by its DVC hash `md5` (see file_md5), as the active run's input."""
    import mlflow
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.meta_dataset import MetaDataset

    source = get_dataset_source_from_json(json.dumps({"uri": path.as_posix()}), source_type="local")
    dataset = MetaDataset(source, name=path.name, digest=md5)
    # Parallel runs on data new to the experiment race to add its dataset row.
    again_if_raced(lambda: mlflow.log_input(dataset, context="training"))
    mlflow.set_tags({"dvc_data_path": str(path), "dvc_data_md5": md5})


def data_source_tags(path: Path) -> dict[str, str]:
    """Where the raw data came from: the URL and its checksum for data brought in with
    `dvc import-url` (as its .dvc file records them), else the DVC-tracked file itself."""
    import yaml

    dvc_file = path.with_name(path.name + ".dvc")
    try:
        deps = yaml.safe_load(dvc_file.read_text(encoding="utf-8")).get("deps") or []
    except (OSError, AttributeError, yaml.YAMLError):
        deps = []
    if not deps:
        return {"data_source": path.as_posix()}
    checksum = next((str(deps[0][key]) for key in ("checksum", "etag", "md5") if key in deps[0]), "")
    return {"data_source": deps[0]["path"], "data_source_checksum": checksum}


# What a registered version carries of its run, so the registry answers where it came from.
VERSION_LINEAGE_TAGS = ("git_commit", "git_dirty", "dvc_exp_name", "dvc_data_md5", "data_source")


def version_lineage(run_id: str, metrics: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The run's description, and the tags a version of its model gets: the run, its lineage, the
    model and the values of `metrics`."""
    run = client().get_run(run_id)
    tags = {key: run.data.tags[key] for key in VERSION_LINEAGE_TAGS if key in run.data.tags}
    tags |= {"run_id": run_id, "model": run.data.params.get("train.model", "")}
    tags |= {name: f"{run.data.metrics[name]:.4f}" for name in metrics if name in run.data.metrics}
    return run.data.tags.get("mlflow.note.content", ""), tags
