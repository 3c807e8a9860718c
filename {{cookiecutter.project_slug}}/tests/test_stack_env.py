"""ops.stack_env: the secrets a team stack's `.env` gets, and reading them back."""

from __future__ import annotations

import re
from pathlib import Path

# ops/stack_env.py and this file exist only in projects generated with team_stack=yes (the
# generation hook removes both otherwise).
from {{ cookiecutter.package_name }}.ops import stack_env

# Each secret the stack's services read from `.env`, as it is generated: plain letters, digits, `-`
# and `_`, which docker compose reads as they are (no `$` to expand, no quote, no `#`).
FORMS = {
    "POSTGRES_PASSWORD": r"[0-9a-f]{32}",
    "AWS_ACCESS_KEY_ID": r"stack-[0-9a-f]{8}",
    "AWS_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "DVC_PERSON_ACCESS_KEY_ID": r"person-[0-9a-f]{8}",
    "DVC_PERSON_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "DVC_CI_ACCESS_KEY_ID": r"ci-[0-9a-f]{12}",
    "DVC_CI_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "MLFLOW_ADMIN_PASSWORD": r"[A-Za-z0-9_-]{32}",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": r"[0-9a-f]{64}",
}


def test_every_secret_of_the_stack_is_generated_anew() -> None:
    first, second = stack_env.generated_secrets(), stack_env.generated_secrets()
    assert set(first) == set(FORMS)
    for name, form in FORMS.items():
        assert re.fullmatch(form, first[name]), name
        assert first[name] != second[name], name


def test_an_env_file_is_read_as_names_and_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "POSTGRES_PASSWORD=0a1b\n\n# written by make stack-env\nMLFLOW_ADMIN_PASSWORD = x_y-z==\n"
    )
    assert stack_env.read_env(path) == {"POSTGRES_PASSWORD": "0a1b", "MLFLOW_ADMIN_PASSWORD": "x_y-z=="}


def test_the_generated_secrets_read_back_as_written(tmp_path: Path) -> None:
    secrets = stack_env.generated_secrets()
    path = tmp_path / ".env"
    path.write_text("".join(f"{name}={value}\n" for name, value in secrets.items()))  # as main writes it
    assert stack_env.read_env(path) == secrets
