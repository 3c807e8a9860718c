"""The MLflow Model Registry: versions made from runs, their lineage, and aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..common.project import pyproject
from .lineage import version_lineage
from .store import again_if_raced, client, once_granted

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


def version_of_run(name: str, run_id: str, on: MlflowClient | None = None) -> ModelVersion | None:
    """The registered version of model `name` made from `run_id`, if there is one (in the store of
    client `on`, by default the configured one)."""
    versions = (on or client()).search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(versions, key=lambda v: int(v.version)) if versions else None


def register(model_uri: str, name: str, run_id: str, metrics: tuple[str, ...]) -> ModelVersion:
    """Register the run's model as a new version of `name`, with the run's description and lineage
    (see version_lineage), or return the version it already has. A new registered model gets the
    project's description."""
    existing = version_of_run(name, run_id)
    if existing is not None:
        return existing
    just_created = create_registered_model(name)
    description, tags = version_lineage(run_id, metrics)
    model_id = model_uri.removeprefix("models:/")  # a logged model: models:/m-<id>

    def create_version() -> ModelVersion:
        return client().create_model_version(
            name, source=model_uri, run_id=run_id, tags=tags, description=description, model_id=model_id
        )

    return once_granted(create_version) if just_created else create_version()


def create_registered_model(name: str) -> bool:
    """Create registered model `name` with the project's description unless it exists (the client
    API, not mlflow.register_model, which prints three lines about it). True when this process, or
    a parallel one just now, created it: its permission may not be granted yet (see once_granted)."""
    from mlflow.exceptions import MlflowException

    try:
        client().get_registered_model(name)
        return False  # readable, so granted: a refusal to add a version lasts
    except MlflowException as error:
        # A tracking server refuses a name nobody granted this user (there is no model yet, or a
        # parallel process is creating it): creating it tells which.
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "PERMISSION_DENIED"):
            raise
    try:
        client().create_registered_model(name, description=pyproject()["project"].get("description"))
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    return True


def set_alias(name: str, alias: str, version: str) -> None:
    """Point `models:/<name>@<alias>` at `version` (parallel runs may set the same alias at once)."""
    again_if_raced(lambda: client().set_registered_model_alias(name, alias, version))


def model_version(name: str, version: int) -> ModelVersion | None:
    """Version `version` of model `name`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version(name, str(version))
    except MlflowException:
        return None


def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    """The version `models:/<name>@<alias>` points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def registered_versions(name: str) -> dict[str, str]:
    """run id -> "version (aliases)" for every registered version of model `name`."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client().get_registered_model(name).aliases  # alias -> version
    except MlflowException:
        return {}  # nothing registered yet
    shown = {}
    for entry in client().search_model_versions(f"name = '{name}'"):
        names = sorted(alias for alias, number in aliases.items() if int(number) == int(entry.version))
        shown[entry.run_id] = f"{entry.version} ({', '.join(names)})" if names else str(entry.version)
    return shown
