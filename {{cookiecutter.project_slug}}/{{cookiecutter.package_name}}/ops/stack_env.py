"""Once per clone of a team-stack project: `.env` with generated secrets for docker compose, this
person's S3 keys for DVC, and the TLS proxy's self-signed certificate (`make stack-env`).

Nothing that exists is overwritten: a second run keeps `.env` and the certificate. `.env` is written
last, once the certificate and DVC's keys are in place: a failed run leaves no `.env`, and the next run
starts afresh instead of keeping secrets that went nowhere.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from pathlib import Path

from ..common.errors import PipelineError, run_main
from ..common.files import atomic_path, write_atomic
from ..common.project import ENV_FILE, read_env

TLS_DIR = Path("docker", "tls")
REMOTE = "storage"  # the DVC remote the template configures
SUBJECT_ALT_NAME = "DNS:localhost,IP:127.0.0.1"  # the names the proxy answers on
# `openssl req`'s settings, passed as a config file: macOS's LibreSSL has no `-addext`, and both
# LibreSSL and OpenSSL read `-config` and `-extensions`. The extensions are those OpenSSL's default
# config gave with `-addext`: a self-signed CA (the clients trust server.crt as their CA file).
OPENSSL_CONFIG = f"""\
[req]
distinguished_name = subject
prompt = no

[subject]
CN = localhost

[proxy]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE
subjectAltName = {SUBJECT_ALT_NAME}
"""
INSTALL_OPENSSL = "install openssl (or fix it) and run `make stack-env` again"


OPTUNA_DATABASE = "postgresql+psycopg2://optuna:{password}@127.0.0.1:5432/optuna"  # docker/optuna-db.sh


def generated_secrets() -> dict[str, str]:
    """A new value for every secret the stack's services read from `.env`, and the URL of Optuna's
    database with its password, which `make tune` reads from `.env` (OPTUNA_STORAGE)."""
    optuna_password = secrets.token_hex(16)
    return {
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "OPTUNA_DB_PASSWORD": optuna_password,
        "OPTUNA_STORAGE": OPTUNA_DATABASE.format(password=optuna_password),
        # MinIO's root keys, for the stack's set-up only; the services' users (docker/minio-users.sh)
        # have ids starting mlflow-, person- and ci-, which that script uses to remove earlier ones.
        "MINIO_ROOT_USER": f"root-{secrets.token_hex(4)}",
        "MINIO_ROOT_PASSWORD": secrets.token_hex(20),
        "MLFLOW_S3_ACCESS_KEY_ID": f"mlflow-{secrets.token_hex(4)}",
        "MLFLOW_S3_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "DVC_PERSON_ACCESS_KEY_ID": f"person-{secrets.token_hex(4)}",
        "DVC_PERSON_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "DVC_CI_ACCESS_KEY_ID": f"ci-{secrets.token_hex(6)}",
        "DVC_CI_SECRET_ACCESS_KEY": secrets.token_hex(20),
        "MLFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
    }


def has_certificate(folder: Path) -> bool:
    """Whether `folder` holds both the certificate and its key (a run killed between the two
    renames leaves one: it is made again)."""
    return (folder / "server.crt").exists() and (folder / "server.key").exists()


def write_certificate(folder: Path) -> None:
    """A self-signed certificate for localhost and 127.0.0.1, and its key, for the TLS proxy: both
    written whole or not at all. `openssl` is the one on PATH, LibreSSL or OpenSSL."""
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch, "openssl.cnf")
        config.write_text(OPENSSL_CONFIG, encoding="utf-8")
        with (
            atomic_path(folder / "server.key", private=True) as key,
            atomic_path(folder / "server.crt") as certificate,
        ):
            command = [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
                "-config", str(config), "-extensions", "proxy",
                "-keyout", str(key), "-out", str(certificate),
            ]  # fmt: skip
            try:
                result = subprocess.run(command, capture_output=True, text=True)
            except OSError as error:  # no openssl on PATH, or not runnable
                raise PipelineError(
                    f"could not run openssl for the proxy's certificate ({error}): {INSTALL_OPENSSL}"
                ) from error
            if result.returncode != 0:
                said = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
                raise PipelineError(
                    f"openssl could not write the proxy's certificate ({said.strip()}): {INSTALL_OPENSSL}"
                )


def set_dvc_keys(env: dict[str, str]) -> None:
    """Give DVC's remote this person's S3 keys, in .dvc/config.local (git-ignored), through DVC's
    API: `dvc remote modify` would show the secret on its command line."""
    from dvc.config import Config
    from dvc.exceptions import DvcException

    keys = {"access_key_id": "DVC_PERSON_ACCESS_KEY_ID", "secret_access_key": "DVC_PERSON_SECRET_ACCESS_KEY"}
    for variable in keys.values():
        if variable not in env:
            raise PipelineError(f"{ENV_FILE} has no {variable}: move it away and run `make stack-env` again")
    local = Path(".dvc", "config.local")
    local.touch(mode=0o600)  # made the owner's only before a secret is in it
    local.chmod(0o600)  # an earlier one, written with the umask's mode
    try:
        with Config(Path(".dvc")).edit("local") as config:
            remote = config.setdefault("remote", {}).setdefault(REMOTE, {})
            remote.update({option: env[variable] for option, variable in keys.items()})
    except DvcException as error:
        raise PipelineError(f"DVC could not set the keys of remote {REMOTE!r} in {local}: {error}") from None


def main() -> None:
    """Certificate, then DVC's keys, then `.env`: `.env` only once the rest succeeded."""
    keep = ENV_FILE.exists()
    env = read_env(ENV_FILE) if keep else generated_secrets()
    if not has_certificate(TLS_DIR):
        write_certificate(TLS_DIR)
        print(
            f"wrote {TLS_DIR / 'server.crt'} and its key (git-ignored, like all of {TLS_DIR}): "
            "the proxy's self-signed certificate"
        )
    set_dvc_keys(env)
    if keep:
        print(f"{ENV_FILE} exists, keeping it")
    else:
        lines = "".join(f"{name}={value}\n" for name, value in env.items())
        write_atomic(ENV_FILE, lambda path: path.write_text(lines, encoding="utf-8"), private=True)
    print(f"wrote {ENV_FILE} (git-ignored) and .dvc/config.local; now: docker compose up -d")


if __name__ == "__main__":
    run_main(main)
