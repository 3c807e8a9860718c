"""The team stack's files, without running the stack: the compose file matches the stack the team
tests run, `make stack-env` writes its secrets once and outside git, and a project without the
team stack has none of it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from conftest import TEMPLATE, bake, locked_versions, project_tests, run
from team_stack import AUTH_CONFIG, PROXY_CONFIG


def test_compose_file_matches_the_stack_the_tests_run(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="composed", team_stack="yes")
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "minio", "buckets", "mlflow", "proxy"}
    # TLS in front of the server: the nginx.conf the tests' proxy runs, the certificate's folder.
    assert services["proxy"]["volumes"] == [
        "./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro",
        "./docker/tls:/etc/nginx/tls:ro",
    ]
    assert services["proxy"]["ports"] == ["127.0.0.1:5443:443"]
    assert (project / "docker" / "nginx.conf").read_text() == PROXY_CONFIG.read_text()
    assert "proxy_pass http://mlflow:5000;" in PROXY_CONFIG.read_text()
    for service in services.values():
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))
    command = services["mlflow"]["command"]
    assert (
        "mlflow server --app-name basic-auth" in command  # as the tests' stack runs it
        and "--artifacts-destination s3://mlflow" in command
    )
    # No secret on a command line: the database's password reaches the server in its environment,
    # mc's keys in its alias variable.
    mlflow_env = services["mlflow"]["environment"]
    assert mlflow_env["MLFLOW_BACKEND_STORE_URI"].startswith(
        "postgresql+psycopg2://mlflow:${POSTGRES_PASSWORD:?"
    )
    buckets = services["buckets"]
    assert buckets["environment"]["MC_HOST_stack"].startswith("http://${MINIO_ROOT_USER:?")
    assert "PASSWORD" not in command and "SECRET" not in command
    assert buckets["entrypoint"] == ["sh", "/setup/minio-users.sh"]
    users_script = project / "docker" / "minio-users.sh"
    run(["sh", "-n", str(users_script)], project)  # parses as POSIX sh
    mc_arguments = [
        line.split("mc ", 1)[1] for line in users_script.read_text().splitlines() if "mc " in line
    ]
    assert [line for line in mc_arguments if "SECRET" in line or "$2" in line] == []  # keys go on mc's input
    assert 'printf \'%s\\n%s\\n\' "$1" "$2" | mc admin user add stack' in users_script.read_text()
    # MinIO's root keys reach MinIO and the set-up job only; the server has a user of its own.
    root_users = {name for name, service in services.items() if "MINIO_ROOT" in json.dumps(service)}
    assert root_users == {"minio", "buckets"}
    assert mlflow_env["AWS_ACCESS_KEY_ID"].startswith("${MLFLOW_S3_ACCESS_KEY_ID:?")
    assert mlflow_env["AWS_SECRET_ACCESS_KEY"].startswith("${MLFLOW_S3_SECRET_ACCESS_KEY:?")
    # Every image by release, none by a tag that moves to the next one (postgres:16, nginx:1.27).
    release = {
        "postgres": r"\d+\.\d+",
        "nginx": r"\d+\.\d+\.\d+",
        "minio/minio": r"RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z",
    }
    release["minio/mc"] = release["minio/minio"]
    images = [service["image"].split(":") for service in services.values() if "image" in service]
    assert sorted(name for name, _ in images) == sorted(release)
    assert [f"{name}:{tag}" for name, tag in images if not re.match(release[name] + r"($|-)", tag)] == []
    # The server reads the project's basic_auth.ini, the one the tests' stack uses.
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in services["mlflow"]["volumes"]}
    assert mounted[mlflow_env["MLFLOW_AUTH_CONFIG_PATH"]] == "./docker/basic_auth.ini"
    assert "database_uri = sqlite:////auth/users.db" in (project / "docker" / "basic_auth.ini").read_text()
    assert "/auth" in mounted and "default_permission = NO_PERMISSIONS" in AUTH_CONFIG.read_text()
    # A key per service and identity: the policies the tests' S3 server enforces (test_team), the
    # DVC keys' objects within this project's prefix, the server's within the artifact bucket.
    assert services["buckets"]["volumes"] == [
        "./docker/minio-users.sh:/setup/minio-users.sh:ro",
        "./docker/mlflow-artifacts.json:/policies/mlflow-artifacts.json:ro",
        "./docker/dvc-write.json:/policies/dvc-write.json:ro",
        "./docker/dvc-read.json:/policies/dvc-read.json:ro",
    ]
    assert buckets["environment"]["DVC_BUCKET"] == "dvc"
    expected = {
        "dvc-read.json": {"arn:aws:s3:::dvc", "arn:aws:s3:::dvc/composed/*"},
        "dvc-write.json": {"arn:aws:s3:::dvc", "arn:aws:s3:::dvc/composed/*"},
        "mlflow-artifacts.json": {"arn:aws:s3:::mlflow", "arn:aws:s3:::mlflow/*"},
    }
    for policy, resources in expected.items():
        statements = json.loads((project / "docker" / policy).read_text())["Statement"]
        assert {resource for statement in statements for resource in statement["Resource"]} == resources
    text = (project / "docker-compose.yml").read_text()
    for secret in (
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "MLFLOW_S3_SECRET_ACCESS_KEY",
        "MLFLOW_AUTH_ADMIN_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
        "DVC_PERSON_SECRET_ACCESS_KEY",
        "DVC_CI_SECRET_ACCESS_KEY",
    ):
        assert f"{secret}: ${{" in text, secret  # secrets only from .env

    pins = dict(
        line.split("==") for line in (TEMPLATE / "requirements.txt").read_text().splitlines() if "==" in line
    )
    pins |= locked_versions(project / "uv.lock")
    dockerfile = (project / "docker" / "mlflow.Dockerfile").read_text()
    assert f"ghcr.io/mlflow/mlflow:v{pins['mlflow']}" in dockerfile
    for package in ("psycopg2-binary", "boto3", "flask-wtf"):
        assert f"{package}=={pins[package]}".lower() in dockerfile.lower(), package

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["composed"]["mlflow_tracking_uri"] == "http://127.0.0.1:5050"
    dvc_config = (project / ".dvc" / "config").read_text()
    assert "endpointurl = http://127.0.0.1:9000" in dvc_config
    assert "verify = true" in dvc_config  # dvc pull hashes what it downloads (test_team: a changed object)
    assert ".env" in (project / ".gitignore").read_text()
    # Valid for Compose (its specification's schema; docker compose itself may be absent).
    schema_check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    run([*schema_check, str(project / "docker-compose.yml")], project)
    env = {**os.environ, "POSTGRES_PASSWORD": "p", "MINIO_ROOT_USER": "k", "MINIO_ROOT_PASSWORD": "s"}
    env |= {"MLFLOW_S3_ACCESS_KEY_ID": "m", "MLFLOW_S3_SECRET_ACCESS_KEY": "n"}
    env |= {"MLFLOW_ADMIN_PASSWORD": "a", "MLFLOW_FLASK_SERVER_SECRET_KEY": "f", "OPTUNA_DB_PASSWORD": "o"}
    env |= {
        f"DVC_{who}_{part}": "x"
        for who in ("PERSON", "CI")
        for part in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY")
    }
    compose_cli = compose_command()
    if compose_cli:
        run([*compose_cli, "config", "--quiet"], project, env=env)
    # and the project's own checks pass in team mode (its pipeline test uses a store of its own)
    project_tests(project)
    run([sys.executable, "-m", "ruff", "check", "."], project)


def test_make_stack_env_writes_secrets_once_outside_git(tmp_path: Path) -> None:
    """`make stack-env`: .env with generated secrets for docker compose, the same S3 keys for DVC
    in .dvc/config.local, nothing for git to commit; a second run keeps the secrets."""
    project = bake(tmp_path, project_name="stacked", team_stack="yes")
    # Under the common umask 022 (files 0644): every file holding a secret is its owner's only.
    first = run(["sh", "-c", "umask 022 && exec make stack-env"], project).stdout
    assert "wrote .env" in first
    for secret in (".env", ".dvc/config.local", "docker/tls/server.key"):
        assert (project / secret).stat().st_mode & 0o777 == 0o600, secret
    secrets = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines())
    assert set(secrets) == {
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "MLFLOW_S3_ACCESS_KEY_ID",
        "MLFLOW_S3_SECRET_ACCESS_KEY",
        "DVC_PERSON_ACCESS_KEY_ID",
        "DVC_PERSON_SECRET_ACCESS_KEY",
        "DVC_CI_ACCESS_KEY_ID",
        "DVC_CI_SECRET_ACCESS_KEY",
        "MLFLOW_ADMIN_PASSWORD",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
        "OPTUNA_DB_PASSWORD",
        "OPTUNA_STORAGE",  # Optuna's database, password included, which `make tune` reads
    }
    assert all(len(value) >= 12 for value in secrets.values())
    local = (project / ".dvc" / "config.local").read_text()
    # DVC gets a person's keys (pull and push the DVC bucket), not MinIO's root keys.
    assert f"access_key_id = {secrets['DVC_PERSON_ACCESS_KEY_ID']}" in local
    assert f"secret_access_key = {secrets['DVC_PERSON_SECRET_ACCESS_KEY']}" in local
    assert secrets["MINIO_ROOT_PASSWORD"] not in local and secrets["MLFLOW_S3_SECRET_ACCESS_KEY"] not in local
    assert "url = s3://dvc/stacked" in (project / ".dvc" / "config").read_text()  # the remote as it was
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert ".env exists, keeping it" in run(["make", "stack-env"], project).stdout
    assert dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()) == secrets


def compose_command() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever validates files here (neither needs an engine)."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_without_team_stack_there_is_no_compose_file(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="solo")
    assert not (project / "docker-compose.yml").exists() and not (project / "docker").exists()
    assert "stack-env" not in (project / "Makefile").read_text()
    assert not (project / "solo" / "ops" / "identities.py").exists()  # the team server's users
    assert not (project / "solo" / "ops" / "stack_env.py").exists()  # and its secrets
    assert not (project / "tests" / "test_stack_env.py").exists()
