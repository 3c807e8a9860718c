"""ops.remote: which credentials are in use for the DVC remote (their names, never their values), and
whether a local remote's folder can be written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.ops.remote import CREDENTIAL_VARIABLES, can_write, credential_sources


@pytest.fixture
def no_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_credential_sources_name_each_setting_in_use_and_never_its_value(
    no_aws_variables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
    monkeypatch.setenv("AWS_PROFILE", "")  # set but empty: not in use
    remote_config = {"url": "s3://dvc/my-project", "access_key_id": "config-key", "profile": "dev"}
    local_config = {"access_key_id": "local-key", "secret_access_key": "local-secret"}
    found = credential_sources(remote_config, local_config)
    assert found == (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, access_key_id in .dvc/config.local, "
        "secret_access_key in .dvc/config.local, profile in .dvc/config"
    )
    for value in (
        "AKIAENVIRONMENTKEY",
        "environment-secret",
        "config-key",
        "local-key",
        "local-secret",
        "dev",
    ):
        assert value not in found


def test_without_credential_settings_aws_finds_its_own(no_aws_variables: None) -> None:
    expected = "none set (AWS's default chain: ~/.aws, instance role)"
    assert credential_sources({"url": "s3://dvc/my-project"}, {}) == expected


def test_a_folder_that_does_not_exist_yet_is_writable_where_it_would_be_created(tmp_path: Path) -> None:
    assert can_write(tmp_path)
    assert can_write(tmp_path / "remote" / "files" / "md5")


def test_can_write_asks_about_the_nearest_folder_that_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the user may not write into, without depending on who runs the tests (root may
    write anywhere): the answer comes from the nearest folder that exists."""
    (tmp_path / "locked").mkdir()
    asked = []

    def access(path: Path, mode: int) -> bool:
        asked.append((path, mode))
        return path != tmp_path / "locked"

    monkeypatch.setattr(os, "access", access)
    assert can_write(tmp_path / "remote")
    assert not can_write(tmp_path / "locked" / "files" / "md5")
    assert asked == [(tmp_path, os.W_OK), (tmp_path / "locked", os.W_OK)]
