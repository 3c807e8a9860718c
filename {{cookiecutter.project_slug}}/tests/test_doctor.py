"""ops.doctor: what a signed-in identity may do, the plots templates dvc.yaml names, who may read
the files holding secrets, and a shared study's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import unused_port

from {{ cookiecutter.package_name }}.ops.doctor import (
    check_secret_files,
    check_study_storage,
    check_tracking,
    grant_on,
    template_names,
)
from {{ cookiecutter.package_name }}.ops.report import Report

# What a tracking server's /users/current and /users/current/permissions answer, put together.
ALICE = {
    "username": "alice",
    "is_admin": False,
    "permissions": [
        {"resource_type": "experiment", "resource_pattern": "12", "permission": "EDIT"},
        {"resource_type": "registered_model", "resource_pattern": "my-model", "permission": "READ"},
    ],
}


def test_a_user_has_the_grant_on_the_resource_named_and_none_elsewhere() -> None:
    assert grant_on(ALICE, "experiment", "12") == "EDIT"
    assert grant_on(ALICE, "registered_model", "my-model") == "READ"
    assert grant_on(ALICE, "experiment", "13") == "NO_PERMISSIONS"
    assert grant_on(ALICE, "registered_model", "12") == "NO_PERMISSIONS"  # an experiment's id
    assert grant_on(ALICE, "experiment", None) == "NO_PERMISSIONS"  # the experiment was not found
    assert grant_on({"username": "bob", "is_admin": False}, "experiment", "12") == "NO_PERMISSIONS"


def test_a_grant_on_every_resource_and_an_admin_cover_any() -> None:
    everything = {"resource_type": "experiment", "resource_pattern": "*", "permission": "READ"}
    reader = {"username": "ci", "is_admin": False, "permissions": [everything]}
    assert grant_on(reader, "experiment", "12") == "READ"
    assert grant_on(reader, "experiment", None) == "READ"
    assert grant_on(reader, "registered_model", "my-model") == "NO_PERMISSIONS"
    admin = {"username": "admin", "is_admin": True, "permissions": []}
    assert grant_on(admin, "registered_model", "my-model") == "ADMIN"


def test_template_names_are_found_at_any_depth_of_dvc_yaml() -> None:
    dvc_yaml = {  # a dvc.yaml as yaml.safe_load reads it
        "stages": {
            "evaluate": {
                "cmd": "python -m {{ cookiecutter.package_name }}.stages.evaluate",
                "plots": [
                    {"dvclive/plots/custom/test_predictions.json": {"template": "${task}", "x": "actual"}},
                    "dvclive/plots/images",
                ],
            }
        },
        "plots": [
            {"roc": {"template": "simple", "x": "fpr", "y": {"dvclive/plots/sklearn/roc.json": "tpr"}}},
            {"learning": {"template": "linear"}},
            {"odd": {"template": {"not": "a name"}}},  # not a text: no template name
        ],
    }
    assert template_names(dvc_yaml) == {"${task}", "simple", "linear"}
    assert template_names({"stages": {"prepare": {"cmd": "true"}}}) == set()


def test_a_secrets_file_others_can_read_is_named_with_the_chmod_that_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=secret\n")
    (tmp_path / ".dvc" / "config.local").write_text("['remote \"storage\"']\n")
    (tmp_path / ".env").chmod(0o600)
    (tmp_path / ".dvc" / "config.local").chmod(0o644)  # as DVC writes it under umask 022
    report = Report()
    check_secret_files(report, tmp_path)
    assert report.problems == 1
    assert capsys.readouterr().out == (
        "problem: .dvc/config.local can be read by other users of this machine (keys or passwords). "
        "Fix: chmod 600 .dvc/config.local\n"
    )
    (tmp_path / ".dvc" / "config.local").chmod(0o600)
    check_secret_files(report, tmp_path)
    assert report.problems == 1  # no new one
    assert (
        capsys.readouterr().out
        == "ok: files with secrets readable by their owner only: .env, .dvc/config.local\n"
    )


@pytest.mark.parametrize(
    ("uri", "clear_text"),
    [("http://mlflow.invalid:5050", True), ("https://mlflow.invalid", False), ("http://127.0.0.1:9", False)],
)
def test_a_tracking_server_reached_in_clear_text_from_another_host_is_a_problem(
    uri: str, clear_text: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    check_tracking(Report())
    said = (
        f"problem: MLflow tracking server {uri} is reached over plain http: a password sent to "
        "mlflow.invalid travels in clear text. Fix: an https:// URL"
    )
    assert (said in capsys.readouterr().out) == clear_text


def test_a_shared_studys_database_is_checked_only_when_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPTUNA_STORAGE", raising=False)
    check_study_storage(Report())
    assert capsys.readouterr().out == ""  # the journal file: nothing to check
    monkeypatch.setenv("OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'studies.db'}")
    check_study_storage(report := Report())
    assert report.problems == 0 and "make tune shares its studies" in capsys.readouterr().out
    port = unused_port()
    monkeypatch.setenv("OPTUNA_STORAGE", f"postgresql+psycopg2://optuna:s3cret@127.0.0.1:{port}/optuna")
    check_study_storage(report := Report())
    said = capsys.readouterr().out
    assert report.problems == 1 and f"optuna:***@127.0.0.1:{port}/optuna does not answer" in said
    assert "s3cret" not in said and "Fix: check OPTUNA_STORAGE" in said
