"""Once per clone of a team-stack project: `.env` with generated secrets for docker compose, this
person's S3 keys for DVC, and the TLS proxy's self-signed certificate (`make stack-env`).

Nothing that exists is overwritten: a second run keeps `.env` and the certificate.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from ..common.errors import PipelineError, run_main
from ..common.files import write_atomic

ENV_FILE = Path(".env")
TLS_DIR = Path("docker", "tls")
REMOTE = "storage"  # the DVC remote the template configures


def generated_secrets() -> dict[str, str]:
    """A new value for every secret the stack's services read from `.env`."""
    return {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "AWS_ACCESS_KEY_ID": f"stack-{secrets.token_hex(4)}",
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "DVC_PERSON_ACCESS_KEY_ID": f"person-{secrets.token_hex(4)}",
        "DVC_PERSON_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "DVC_CI_ACCESS_KEY_ID": f"ci-{secrets.token_hex(6)}",
        "DVC_CI_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "MLFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
    }


def read_env(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of an env file."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def write_certificate(folder: Path) -> None:
    """A self-signed certificate for localhost and 127.0.0.1, and its key, for the TLS proxy."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(folder / "server.key"), "-out", str(folder / "server.crt"),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise PipelineError(
            f"openssl could not write the proxy's certificate ({error}): install openssl"
        ) from error


def main() -> None:
    if ENV_FILE.exists():
        print(f"{ENV_FILE} exists, keeping it")
    else:
        lines = "".join(f"{name}={value}\n" for name, value in generated_secrets().items())
        write_atomic(ENV_FILE, lambda path: path.write_text(lines, encoding="utf-8"))
    env = read_env(ENV_FILE)
    for option, variable in (
        ("access_key_id", "DVC_PERSON_ACCESS_KEY_ID"),
        ("secret_access_key", "DVC_PERSON_SECRET_ACCESS_KEY"),
    ):
        if variable not in env:
            raise PipelineError(f"{ENV_FILE} has no {variable}: move it away and run `make stack-env` again")
        modify = [sys.executable, "-m", "dvc", "remote", "modify", "--local", REMOTE, option, env[variable]]
        subprocess.run(modify, check=True)
    if not (TLS_DIR / "server.key").exists():
        write_certificate(TLS_DIR)
        print(
            f"wrote {TLS_DIR / 'server.crt'} and its key (git-ignored, like all of {TLS_DIR}): "
            "the proxy's self-signed certificate"
        )
    print(f"wrote {ENV_FILE} (git-ignored) and .dvc/config.local; now: docker compose up -d")


if __name__ == "__main__":
    run_main(main)
