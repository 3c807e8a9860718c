"""A real team stack on 127.0.0.1 for the tests: PostgreSQL, an S3-compatible server, MLflow server.

The same three services as the generated docker-compose.yml (PostgreSQL for MLflow's metadata,
S3 for artifacts and DVC data, an MLflow tracking server that proxies artifacts and asks every
client for a user and password), started as plain processes: PostgreSQL from Debian's package
(initdb + pg_ctl, as the `postgres` user when we are root), moto's S3 server instead of MinIO (not
installable here), and `mlflow server --app-name basic-auth` with the project's basic_auth.ini.
"""

from __future__ import annotations

import base64
import glob
import itertools
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

AUTH_CONFIG = (
    Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}" / "docker" / "basic_auth.ini"
)
PROXY_CONFIG = AUTH_CONFIG.with_name("nginx.conf")  # the compose stack's TLS proxy
OPTUNA_DB_SCRIPT = AUTH_CONFIG.with_name("optuna-db.sh")  # Optuna's database, beside MLflow's
ARTIFACT_BUCKET = "mlflow-artifacts"
DVC_BUCKET = "dvc-remote"
# moto accepts any key; these stand for the team's real ones, which come from the environment.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "team-key",
    "AWS_SECRET_ACCESS_KEY": "team-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


PORTS_PER_WORKER = 500
_next_port = itertools.count()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 for a server to bind later. Drawn from a block of this pytest-xdist
    worker's own, below the kernel's ephemeral ports (Linux 32768-60999, macOS 49152-65535), so
    neither another worker nor an outgoing connection takes it between this check and the bind."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    first = 20000 + worker * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_next_port) % PORTS_PER_WORKER
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use, e.g. by a server an earlier test left
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_WORKER - 1}")


def listening_addresses(port: int) -> set[str]:
    """The addresses, IPv4 and IPv6, a TCP server listens on at `port`: on Linux from /proc/net/tcp
    and tcp6, elsewhere (macOS has no /proc) from `lsof`. A wildcard is 0.0.0.0 or ::."""
    if sys.platform.startswith("linux"):
        return proc_listening_addresses(port)
    return lsof_listening_addresses(port)


def proc_listening_addresses(port: int) -> set[str]:
    """listening_addresses from Linux's /proc/net/tcp and tcp6."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        rows = [line.split() for line in path.read_text().splitlines()[1:]] if path.exists() else []
        for row in rows:
            address, _, row_port = row[1].partition(":")
            if row[3] == "0A" and int(row_port, 16) == port:  # 0A: LISTEN
                packed = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
                found.add(socket.inet_ntop(family, words))
    return found


def lsof_listening_addresses(port: int) -> set[str]:
    """listening_addresses from `lsof -nP -iTCP:<port> -sTCP:LISTEN` (macOS's /usr/sbin/lsof, or
    Linux's), in its field output: a `t` line (IPv4 or IPv6) before each `n` line (address:port,
    IPv6 in brackets, `*` for any). lsof sees the sockets of this user's processes, which is
    where the tests' servers run."""
    lsof = shutil.which("lsof") or "/usr/sbin/lsof"
    command = [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Ftn"]
    result = subprocess.run(command, capture_output=True, text=True)  # exits 1 when nothing listens
    if result.returncode != 0 and (result.stdout.strip() or "usage:" in result.stderr):
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
    found, family = set(), socket.AF_INET
    for line in result.stdout.splitlines():
        field, value = line[:1], line[1:]
        if field == "t":
            family = socket.AF_INET6 if value == "IPv6" else socket.AF_INET
        elif field == "n":
            address, _, row_port = value.rpartition(":")
            if int(row_port) != port:
                continue
            address = address.strip("[]")
            if address == "*":
                address = "::" if family == socket.AF_INET6 else "0.0.0.0"
            found.add(socket.inet_ntop(family, socket.inet_pton(family, address)))  # canonical form
    return found


def wait_until(
    check, what: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None
):
    """Call `check` until it returns true; fail with the service's log after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            if check():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout} s\n{tail}")


def http_ok(url: str, data: bytes | None = None, user: tuple[str, str] | None = None) -> bool:
    return http_status(url, data, user) == 200


def http_status(url: str, data: bytes | None = None, user: tuple[str, str] | None = None) -> int:
    """The HTTP status of a GET (or a POST of `data`), as `user` (name, password) or anonymous."""
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def served(
    project: Path, target: list[str], port: int, ready: str, log: Path, env: dict | None = None
) -> Iterator[str]:
    """`make <target>` (a server on `port`, its output into `log`) until the block ends; yields its
    URL once GET `ready` answers 200."""
    with log.open("w") as output:
        server = subprocess.Popen(
            ["make", *target],
            cwd=project,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}{ready}", timeout=10) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, f"never ready:\n{log.read_text()}"
            time.sleep(0.5)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


@dataclass
class TeamStack:
    """The running services and how to reach them."""

    root: Path
    pg_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    mlflow_port: int = field(default_factory=free_port)
    pg_password: str = field(default_factory=lambda: secrets.token_hex(8))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # The tracking server's users (name -> password) besides the admin: `person` and `ci`.
    users: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    pg_data: Path | None = None

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def backend_uri(self) -> str:
        # SQLAlchemy 2.1 needs the driver named in the URI.
        return f"postgresql+psycopg2://mlflow:{self.pg_password}@127.0.0.1:{self.pg_port}/mlflow"

    def client_env(self, user: str = "person") -> dict[str, str]:
        """Environment of a team member (or CI): their S3 keys and tracking server identity (the
        tracking URI is in the project's settings)."""
        env = {**os.environ, **AWS_ENV}
        env.pop("MLFLOW_TRACKING_URI", None)
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = user, self.users[user]
        return env

    def admin_env(self) -> dict[str, str]:
        """What `make identity` needs: the admin's password (it reads MLFLOW_ADMIN_PASSWORD)."""
        env = self.client_env()
        env["MLFLOW_ADMIN_PASSWORD"] = self.admin_password
        return env

    @property
    def admin(self) -> tuple[str, str]:
        return "admin", self.admin_password

    def create_users(self, *names: str) -> None:
        """Users of the tracking server, with no grant yet (MLflow's AuthServiceClient, as admin)."""
        from mlflow.server.auth.client import AuthServiceClient

        auth = AuthServiceClient(self.tracking_uri)  # as the admin: see the `stack` fixture
        for name in names:
            self.users[name] = secrets.token_urlsafe(18)
            auth.create_user(name, self.users[name])

    # --- PostgreSQL ------------------------------------------------------------------------
    def as_postgres_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start_postgres(self, bin_dir: Path) -> None:
        # A folder the postgres user owns, outside root's private pytest temp folders.
        self.pg_data = Path(tempfile.mkdtemp(prefix="team-pg-"))
        password_file = self.pg_data / "pw"
        password_file.write_text(self.pg_password)
        if os.geteuid() == 0:
            shutil.chown(self.pg_data, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        cluster = self.pg_data / "cluster"
        initdb = [str(bin_dir / "initdb"), "-D", str(cluster), "-U", "mlflow", "--auth=scram-sha-256"]
        subprocess.run(
            self.as_postgres_user([*initdb, f"--pwfile={password_file}"]), check=True, capture_output=True
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.pg_data}"
        log = self.pg_data / "postgres.log"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(cluster), "-o", options, "-l", str(log), "-w", "start"]
        subprocess.run(self.as_postgres_user(pg_ctl), check=True, capture_output=True)
        self.run_on_database(bin_dir, "createdb")

    def run_on_database(self, bin_dir: Path, program: str) -> str:
        """Run one of PostgreSQL's client programs (createdb, pg_dump) on the `mlflow` database, as
        its owner; return what it printed."""
        command = [
            str(bin_dir / program),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "mlflow",
            "mlflow",
        ]
        env = {**os.environ, "PGPASSWORD": self.pg_password}
        return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout

    def create_optuna_database(self, bin_dir: Path) -> str:
        """Optuna's own database, made by the compose stack's docker/optuna-db.sh as PostgreSQL's
        image runs it; return its URL (OPTUNA_STORAGE)."""
        password = secrets.token_hex(8)
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",  # its psql
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.pg_port),
            "PGPASSWORD": self.pg_password,
            "POSTGRES_USER": "mlflow",
            "POSTGRES_DB": "mlflow",
            "OPTUNA_DB_PASSWORD": password,
        }
        subprocess.run(["sh", str(OPTUNA_DB_SCRIPT)], check=True, capture_output=True, env=env)
        return f"postgresql+psycopg2://optuna:{password}@127.0.0.1:{self.pg_port}/optuna"

    def dump_database(self, bin_dir: Path) -> str:
        """Everything the tracking server keeps in PostgreSQL, as `pg_dump` writes it (SQL text)."""
        return self.run_on_database(bin_dir, "pg_dump")

    def stop_postgres(self, bin_dir: Path) -> None:
        if self.pg_data and (self.pg_data / "cluster" / "postmaster.pid").exists():
            stop = [str(bin_dir / "pg_ctl"), "-D", str(self.pg_data / "cluster"), "-m", "fast", "-w", "stop"]
            subprocess.run(self.as_postgres_user(stop), capture_output=True)
        if self.pg_data:
            shutil.rmtree(self.pg_data, ignore_errors=True)

    # --- S3 and MLflow ---------------------------------------------------------------------
    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
        log = self.root / f"{name}.log"
        with open(log, "w") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.processes.append(process)
        return process, log

    def start_s3(self, port: int | None = None, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        """moto's S3 server on 127.0.0.1 (a second one with `extra_env` for fault tests)."""
        port = port or self.s3_port
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        process, log = self.spawn(f"s3-{port}", command, {**os.environ, **(extra_env or {})})
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/moto-api/"), "S3 server", 30, process, log)
        return process

    def create_buckets(self) -> None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, **aws_kwargs())
        for bucket in (ARTIFACT_BUCKET, DVC_BUCKET):
            s3.create_bucket(Bucket=bucket)

    def start_mlflow(self, port: int | None = None) -> subprocess.Popen:
        """`mlflow server --app-name basic-auth` on PostgreSQL with proxied S3 artifacts, its users
        in a file of the stack's (the project's basic_auth.ini otherwise); ready when its API
        answers the admin."""
        port = port or self.mlflow_port
        config = self.root / "basic_auth.ini"
        users = f"database_uri = sqlite:///{self.root / 'users.db'}"
        config.write_text(AUTH_CONFIG.read_text().replace("database_uri = sqlite:////auth/users.db", users))
        command = [
            sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--artifacts-destination", f"s3://{ARTIFACT_BUCKET}",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        env = {**os.environ, **AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint}
        env |= {
            "MLFLOW_BACKEND_STORE_URI": self.backend_uri,  # as docker-compose.yml: not in `ps`
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        }
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no GenAI job workers (~240 MB each)
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(variable, None)
        process, log = self.spawn(f"mlflow-{port}", command, env)
        # /health says OK even when the database is down: wait on a call that reads it.
        search = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search"
        ready = lambda: http_ok(search, b'{"max_results": 1}', self.admin)  # noqa: E731
        wait_until(ready, "MLflow server", 90, process, log)
        return process

    def start_tls_proxy(self, nginx: str, cert: Path, key: Path) -> str:
        """Debian's nginx with the compose stack's server block (docker/nginx.conf), in front of
        this stack's tracking server; return its https:// address."""
        port, folder = free_port(), self.root / "nginx"
        folder.mkdir(exist_ok=True)
        server = (
            PROXY_CONFIG.read_text()
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
            .replace("/etc/nginx/tls/server.crt", str(cert))
            .replace("/etc/nginx/tls/server.key", str(key))
            .replace("http://mlflow:5000", self.tracking_uri)
        )
        temp_paths = "".join(
            f"{kind}_temp_path {folder / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = folder / "nginx.conf"
        config.write_text(
            ("user root;\n" if os.geteuid() == 0 else "")  # workers keep root's access to the temp folders
            + f"worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            + "events { worker_connections 64; }\n"
            + f"http {{\naccess_log off;\n{temp_paths}{server}\n}}\n"
        )
        command = [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(config)]
        process, log = self.spawn(f"nginx-{port}", command, dict(os.environ))
        url = f"https://127.0.0.1:{port}"
        context = ssl.create_default_context(cafile=str(cert))
        ready = lambda: urllib.request.urlopen(f"{url}/health", timeout=3, context=context).status == 200  # noqa: E731
        wait_until(ready, "TLS proxy", 30, process, log)
        return url

    def stop(self, process: subprocess.Popen) -> None:
        """Stop a service and its children (the MLflow server forks workers)."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def objects(self, bucket: str) -> list[str]:
        """Keys in a bucket of the S3 server."""
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, **aws_kwargs())
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def object_contents(self, bucket: str) -> dict[str, bytes]:
        """Key -> bytes of every object in a bucket of the S3 server."""
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, **aws_kwargs())
        return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in self.objects(bucket)}


@contextmanager
def running_stack(root: Path) -> Iterator[TeamStack]:
    """PostgreSQL, S3 and the tracking server with users `person` and `ci`, stopped after; this
    process talks to the server as its admin. Fails (CI) or skips without PostgreSQL's binaries."""
    import pytest

    bin_dir = postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs them")
        pytest.skip(message)
    team = TeamStack(root)
    try:
        team.start_postgres(bin_dir)
        team.start_s3()
        team.create_buckets()
        team.start_mlflow()
        with pytest.MonkeyPatch.context() as env:
            # This process checks the server as its admin; projects run as `person` (client_env).
            env.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            env.setenv("MLFLOW_TRACKING_PASSWORD", team.admin_password)
            team.create_users("person", "ci")
            yield team
    finally:
        for process in reversed(team.processes):
            team.stop(process)
        team.stop_postgres(bin_dir)


def bake_team(stack: TeamStack, out: Path, slug: str, tracking_uri: str | None = None) -> Path:
    """A project generated for the team stack: tracking server, S3 remote and its endpoint."""
    from conftest import bake

    return bake(
        out,
        project_name=slug,
        team_stack="yes",
        mlflow_tracking_uri=tracking_uri or stack.tracking_uri,
        dvc_remote_url=f"s3://{DVC_BUCKET}/{slug}",
        s3_endpoint_url=stack.s3_endpoint,
    )


def aws_kwargs() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }
