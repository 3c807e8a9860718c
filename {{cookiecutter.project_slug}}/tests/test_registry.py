"""tracking.registry with an MLflow store of the test's own: an alias is moved, also when a
parallel run sets it first."""

from __future__ import annotations

from pathlib import Path

from conftest import another_run_inserts_first

from {{ cookiecutter.package_name }}.stages.register import CANDIDATE_ALIAS
from {{ cookiecutter.package_name }}.tracking import registry, store


def test_an_alias_another_run_just_set_is_moved_not_an_error(tmp_path: Path, mlflow_store: str) -> None:
    """Parallel experiments that pass the gate on a new registry race to set `staging` first."""
    store.connect()
    name = "raced-model"
    store.client().create_registered_model(name)
    first, second = (
        store.client().create_model_version(name, source=(tmp_path / folder).as_uri())
        for folder in ("first", "second")
    )
    winner = {"workspace": "default", "name": name, "alias": CANDIDATE_ALIAS, "version": int(first.version)}
    with another_run_inserts_first(
        mlflow_store.removeprefix("sqlite:///"), "registered_model_aliases", winner
    ):
        registry.set_alias(name, CANDIDATE_ALIAS, second.version)
    assert registry.version_by_alias(name, CANDIDATE_ALIAS).version == second.version
