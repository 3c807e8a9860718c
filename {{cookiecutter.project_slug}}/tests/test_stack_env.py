"""ops.stack_env: the secrets a team stack's `.env` gets, reading them back, and the TLS proxy's
certificate (made by the real `openssl` on PATH, LibreSSL or OpenSSL)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# ops/stack_env.py and this file exist only in projects generated with team_stack=yes (the
# generation hook removes both otherwise).
from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.ops import stack_env

# Each secret the stack's services read from `.env`, as it is generated: plain letters, digits, `-`
# and `_`, which docker compose reads as they are (no `$` to expand, no quote, no `#`).
FORMS = {
    "POSTGRES_PASSWORD": r"[0-9a-f]{32}",
    "MINIO_ROOT_USER": r"root-[0-9a-f]{8}",
    "MINIO_ROOT_PASSWORD": r"[0-9a-f]{40}",
    "MLFLOW_S3_ACCESS_KEY_ID": r"mlflow-[0-9a-f]{8}",
    "MLFLOW_S3_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "DVC_PERSON_ACCESS_KEY_ID": r"person-[0-9a-f]{8}",
    "DVC_PERSON_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "DVC_CI_ACCESS_KEY_ID": r"ci-[0-9a-f]{12}",
    "DVC_CI_SECRET_ACCESS_KEY": r"[0-9a-f]{40}",
    "MLFLOW_ADMIN_PASSWORD": r"[A-Za-z0-9_-]{32}",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": r"[0-9a-f]{64}",
    "OPTUNA_DB_PASSWORD": r"[0-9a-f]{32}",
    "OPTUNA_STORAGE": r"postgresql\+psycopg2://optuna:[0-9a-f]{32}@127\.0\.0\.1:5432/optuna",
}


def test_every_secret_of_the_stack_is_generated_anew() -> None:
    first, second = stack_env.generated_secrets(), stack_env.generated_secrets()
    assert set(first) == set(FORMS)
    for name, form in FORMS.items():
        assert re.fullmatch(form, first[name]), name
        assert first[name] != second[name], name
    assert first["OPTUNA_STORAGE"].split(":")[2] == first["OPTUNA_DB_PASSWORD"] + "@127.0.0.1"


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


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on PATH")
# A fake `openssl` is a shell script: POSIX only (Windows runs the stack through WSL2).
posix_only = pytest.mark.skipif(os.name == "nt", reason="the fake openssl is a shell script")


def openssl(*args: str) -> str:
    """What the real openssl prints for `args`."""
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


def failing_openssl(folder: Path) -> Path:
    """A folder for PATH whose only `openssl` says why it fails on stderr and exits 1."""
    folder.mkdir()
    script = folder / "openssl"
    script.write_text(
        "#!/bin/sh\necho 'progress...' >&2\necho 'req: Unknown option: -simulated' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    return folder


@needs_openssl
def test_the_certificate_names_localhost_and_127_0_0_1_and_is_its_own_ca(tmp_path: Path) -> None:
    """The names the proxy answers on, as `-addext subjectAltName=...` gave them, now given through a
    config file (macOS's LibreSSL has no -addext); a CA, since clients trust server.crt as their CA
    file; its key beside it, readable by its owner only."""
    folder = tmp_path / "docker" / "tls"
    stack_env.write_certificate(folder)
    assert sorted(path.name for path in folder.iterdir()) == ["server.crt", "server.key"]  # no temporary
    text = openssl("x509", "-noout", "-text", "-in", str(folder / "server.crt"))
    assert re.search(r"Subject Alternative Name:\s*\n\s*DNS:localhost, IP Address:127\.0\.0\.1\n", text)
    assert re.search(r"Basic Constraints: critical\s*\n\s*CA:TRUE", text)
    assert re.search(r"Subject: CN ?= ?localhost\n", text)
    public = openssl("x509", "-noout", "-pubkey", "-in", str(folder / "server.crt"))
    assert public == openssl("pkey", "-pubout", "-in", str(folder / "server.key"))  # the pair
    if os.name != "nt":
        assert (folder / "server.key").stat().st_mode & 0o077 == 0
    assert stack_env.has_certificate(folder)


@posix_only
def test_a_failing_or_missing_openssl_is_one_pipeline_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tls"
    monkeypatch.setenv("PATH", str(failing_openssl(tmp_path / "bin")))
    with pytest.raises(
        PipelineError, match=r"openssl could not .*\(req: Unknown option: -simulated\): install"
    ):
        stack_env.write_certificate(folder)
    assert list(folder.iterdir()) == []  # no key without its certificate, no temporary
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PipelineError, match=r"could not run openssl .*: install openssl"):
        stack_env.write_certificate(folder)


@posix_only
def test_make_stack_env_with_a_failing_openssl_says_so_in_one_line_and_writes_no_env(tmp_path: Path) -> None:
    """The certificate comes before `.env`: a run that fails leaves no `.env` whose secrets went
    nowhere (the next run would keep it)."""
    env = {
        **os.environ,
        "PATH": str(failing_openssl(tmp_path / "bin")),
        "PYTHONPATH": str(Path(stack_env.__file__).parents[2]),  # the package, run from elsewhere
    }
    done = subprocess.run(
        [sys.executable, "-m", stack_env.__name__], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: openssl could not write the proxy's certificate (req: Unknown option: -simulated): "
        "install openssl (or fix it) and run `make stack-env` again"
    ]
    assert not (tmp_path / ".env").exists()
    assert not (tmp_path / "docker" / "tls" / "server.key").exists()
