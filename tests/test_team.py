"""Team mode against real servers: PostgreSQL + S3 + `mlflow server`, started here on 127.0.0.1.

A project generated with `team_stack=yes` and the stack's addresses logs its runs and models to
the tracking server (artifacts land in the S3 bucket), pushes its data to the S3 DVC remote, and a
fresh clone pulls and reproduces it byte for byte. Faults (server down, bad S3 credentials,
missing bucket, S3 down) fail fast with a message naming what is wrong, and lose nothing.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import pickle
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    DVC,
    bake,
    checked_runs_by_experiment,
    dvc_lock_hashes,
    exp_show,
    run,
    sweep_output,
)
from crash import (
    PROMOTE_POINTS,
    REGISTER_POINTS,
    RUN_LEFT_RUNNING,
    Before,
    alias_version,
    assert_consistent,
    assert_left_by,
    killed_at,
    new_commit,
)
from team_stack import (
    ARTIFACT_BUCKET,
    AWS_ENV,
    DVC_BUCKET,
    TeamStack,
    aws_kwargs,
    bake_team,
    free_port,
    http_status,
    postgres_bin,
    running_stack,
)

pytestmark = pytest.mark.xdist_group("team")
MODEL = "team-wine"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    with running_stack(tmp_path_factory.mktemp("stack")) as team:
        yield team


def client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def dvc(project: Path, stack: TeamStack, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([*DVC, *args], project, check=check, env=stack.client_env())


def lock_hashes(project: Path) -> dict[str, str]:
    """path -> md5 of the outputs dvc.lock records, but the registration under reports/."""
    return {path: md5 for path, md5 in dvc_lock_hashes(project).items() if not path.startswith("reports/")}


def cache_files(project: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file in the project's DVC cache."""
    cache = project / ".dvc" / "cache"
    return {
        str(p.relative_to(cache)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in cache.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def team_project(stack: TeamStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team-mode project after `dvc repro`, committed and pushed with `make push`."""
    project = bake_team(stack, tmp_path_factory.mktemp("team"), MODEL)
    # The admin grants both identities on the project's experiment and model (creating them).
    for user, role in (("person", "person"), ("ci", "ci")):
        granted = run(["make", "identity", f"NAME={user}", f"ROLE={role}"], project, env=stack.admin_env())
        assert "its password is unchanged" in granted.stdout
    dvc(project, stack, "repro")
    run(["git", "add", "--all"], project)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "repro"], project)
    run(["make", "push"], project, env=stack.client_env())
    return project


def test_repro_logs_run_model_and_alias_to_the_tracking_server(
    stack: TeamStack, team_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn
    import pandas as pd

    decision = yaml.safe_load((team_project / "reports" / "registration.json").read_text())
    run_id = decision["mlflow_run_id"]
    server = client(stack.tracking_uri)
    logged = server.get_run(run_id)
    assert logged.info.status == "FINISHED"
    head = run(["git", "rev-parse", "HEAD~1"], team_project).stdout.strip()  # the commit it ran on
    assert logged.data.tags["git_commit"] == head
    raw_md5 = yaml.safe_load((team_project / "data" / "raw" / "wine.csv.dvc").read_text())
    assert logged.data.tags["dvc_data_md5"] == raw_md5["outs"][0]["md5"]
    assert logged.data.tags["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert server.get_model_version(MODEL, str(decision["model_version"])).run_id == run_id
    assert "staging" in server.get_registered_model(MODEL).aliases
    assert not (team_project / "mlflow.db").exists(), "team mode must not create a local store"

    keys = stack.objects(ARTIFACT_BUCKET)
    assert any(key.endswith("/MLmodel") for key in keys), keys
    assert any(key.endswith("environment/installed-packages.txt") and run_id in key for key in keys)
    installed = server.download_artifacts(
        run_id, "environment/installed-packages.txt", str(team_project.parent)
    )
    assert f"mlflow=={mlflow.__version__}" in Path(installed).read_text().splitlines()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.tracking_uri)  # undone after the test
    model = mlflow.sklearn.load_model(f"models:/{MODEL}/{decision['model_version']}")
    test = pd.read_parquet(team_project / "data" / "prepared" / "test.parquet")
    assert len(model.predict(test.drop(columns="target"))) == len(test)


def test_fresh_clone_pulls_and_reproduces_byte_identical(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    assert stack.objects(DVC_BUCKET), "make push uploaded nothing"
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(team_project), str(clone)], tmp_path)
    dvc(clone, stack, "pull")
    assert "up to date" in dvc(clone, stack, "status").stdout
    repro = dvc(clone, stack, "repro").stdout
    assert "Running stage" not in repro and "up to date" in repro

    dvc(clone, stack, "repro", "--force")
    assert lock_hashes(clone) == lock_hashes(team_project)
    # the clone's run is a second version of the same model on the same server
    assert server_versions(stack, MODEL) == ["1", "2"]


def test_dvc_pull_refuses_an_object_changed_in_the_bucket(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    import boto3

    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(team_project), str(clone)], tmp_path)
    raw = yaml.safe_load((clone / "data" / "raw" / "wine.csv.dvc").read_text())["outs"][0]
    key = f"{MODEL}/files/md5/{raw['md5'][:2]}/{raw['md5'][2:]}"
    s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint, **aws_kwargs())
    original = s3.get_object(Bucket=DVC_BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=DVC_BUCKET, Key=key, Body=original.replace(b",", b";", 1))  # same size
    try:
        result = dvc(clone, stack, "pull", check=False)
    finally:
        s3.put_object(Bucket=DVC_BUCKET, Key=key, Body=original)
    assert result.returncode != 0
    assert "Checkout failed for following targets:\ndata/raw/wine.csv" in result.stderr, result.stderr
    assert not (clone / "data" / "raw" / "wine.csv").exists()  # refused, not loaded


class WritesAFile:
    """Pickled, a call that creates a file when the pickle is loaded: what a leaked key could put
    in place of the model, to run code on every machine that loads it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return open, (str(self.marker), "w")


def test_a_pickle_swapped_for_the_model_in_the_bucket_is_refused_and_never_runs(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """`dvc pull` refuses the changed object (verify); with verify turned off it comes down, and
    loading it is refused in one line: the model file is read by skops, never unpickled."""
    import boto3

    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(team_project), str(clone)], tmp_path)
    md5 = dvc_lock_hashes(clone)["models/model.skops"]
    key = f"{MODEL}/files/md5/{md5[:2]}/{md5[2:]}"
    marker = tmp_path / "the pickle ran"
    payload = pickle.dumps(WritesAFile(marker))
    s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint, **aws_kwargs())
    original = s3.get_object(Bucket=DVC_BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=DVC_BUCKET, Key=key, Body=payload)
    try:
        verified = dvc(clone, stack, "pull", check=False)
        assert verified.returncode != 0 and "models/model.skops" in verified.stderr, verified.stderr
        assert not (clone / "models" / "model.skops").exists()
        dvc(clone, stack, "remote", "modify", "--local", "storage", "verify", "false")
        dvc(clone, stack, "pull", "--force")
    finally:
        s3.put_object(Bucket=DVC_BUCKET, Key=key, Body=original)
    assert (clone / "models" / "model.skops").read_bytes() == payload
    predict = [
        sys.executable,
        "-m",
        f"{MODEL.replace('-', '_')}.serving.predict",
        "--model",
        "models/model.skops",
    ]
    predict += ["--input", "data/raw/wine.csv", "--output", str(tmp_path / "scores.csv")]
    refused = run(predict, clone, check=False, env=stack.client_env())
    assert refused.returncode == 1
    assert "error: models/model.skops is not a model file in skops's format" in refused.stderr, refused.stderr
    assert not marker.exists() and not (tmp_path / "scores.csv").exists()


def server_versions(stack: TeamStack, name: str) -> list[str]:
    return sorted(v.version for v in client(stack.tracking_uri).search_model_versions(f"name = '{name}'"))


def test_four_parallel_experiments_each_log_one_run_and_version_on_the_server(
    stack: TeamStack, tmp_path: Path
) -> None:
    """`make sweep` with 4 jobs against the tracking server, on a project and data it has not seen,
    of LightGBM with each training's live run (`train.live_run`)."""
    project = bake_team(stack, tmp_path, "team-sweep")
    grid = ["-S", "train.n_estimators=5,6,7,8", "-S", "train.model=lightgbm", "-S", "train.live_run=true"]
    sweep = [sys.executable, "-m", "team_sweep.experiments.sweep", *grid, "--jobs", "4"]
    result = run(sweep, project, check=False, env=stack.client_env())
    assert result.returncode == 0, sweep_output(project, result)
    assert "sweep: 4/4 done (0 failed)" in result.stdout

    server = client(stack.tracking_uri)
    experiment = server.get_experiment_by_name("team-sweep")
    found = server.search_runs([experiment.experiment_id])
    live = [logged for logged in found if "live_training_of" in logged.data.tags]
    runs = [logged for logged in found if logged not in live]
    assert len(runs) == len(checked_runs_by_experiment(project, runs)) == 4
    # each training's own run, its curve sent as it trained, nested under its pipeline's run
    pipeline_runs = {logged.info.run_id: logged for logged in runs}
    assert sorted(logged.data.tags["mlflow.parentRunId"] for logged in live) == sorted(pipeline_runs)
    for logged in live:
        iterations = int(
            pipeline_runs[logged.data.tags["mlflow.parentRunId"]].data.params["train.n_estimators"]
        )
        assert logged.info.status == "FINISHED"
        assert len(server.get_metric_history(logged.info.run_id, "loss/test")) == iterations
    registered = {
        decision["mlflow_run_id"] for decision in exp_show(project).values() if decision["registered"]
    }
    versions = server.search_model_versions("name = 'team-sweep'")
    assert registered and {version.run_id for version in versions} == registered


def test_no_secret_reaches_a_file_the_database_or_an_artifact(stack: TeamStack, team_project: Path) -> None:
    """The project used the S3 keys (DVC's remote, the server's artifact store) and the tracking
    server's passwords (the admin's for `make identity`, the person's for the pipeline): none is in
    a commit, a file of the project (DVC's config and cache included), what the tracking server
    stored in PostgreSQL (params, tags, metrics, registry), an object of either bucket, or the
    command line of a process (the database's password included)."""
    secrets = [AWS_ENV["AWS_SECRET_ACCESS_KEY"], stack.admin_password, *stack.users.values()]
    commits = run(["git", "rev-list", "--all"], team_project).stdout.split()
    assert len(commits) >= 2  # the generated commit and the one after repro
    for secret in secrets:
        committed = run(
            ["git", "grep", "--files-with-matches", "-F", "-e", secret, *commits], team_project, check=False
        )
        assert committed.returncode == 1, (
            committed.stdout or committed.stderr
        )  # 1: no match (an error is 128)
    files = [path for path in team_project.rglob("*") if ".git" not in path.parts and path.is_file()]
    assert any(path.match(".dvc/config") for path in files) and len(files) > 50
    contents = {str(path): path.read_bytes() for path in files}
    assert [
        path for path, content in contents.items() for secret in secrets if secret.encode() in content
    ] == []
    database = stack.dump_database(postgres_bin())
    assert team_project.name in database and "dvc_data_md5" in database  # the runs are in the dump
    assert [secret for secret in secrets if secret in database] == []
    for bucket in (ARTIFACT_BUCKET, DVC_BUCKET):
        stored = stack.object_contents(bucket)
        assert stored, bucket
        leaked = [key for key, content in stored.items() for secret in secrets if secret.encode() in content]
        assert leaked == []
    # Nor a command line of the stack's processes, which any user of the machine sees in `ps`.
    command_lines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "mlflow server --app-name basic-auth" in command_lines  # the stack is running
    assert [secret for secret in (*secrets, stack.pg_password) if secret in command_lines] == []


REGISTER_AND_PROMOTE = [*REGISTER_POINTS, *PROMOTE_POINTS]


@pytest.fixture(scope="module")
def team_crashed(stack: TeamStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team-mode project that has run its pipeline once and promotes any candidate."""
    project = bake_team(stack, tmp_path_factory.mktemp("team-crash"), "team-crash")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("must_beat_production: true", "must_beat_production: false"))
    dvc(project, stack, "repro")
    return project


@pytest.mark.parametrize("point", REGISTER_AND_PROMOTE)
def test_a_crash_in_register_or_promote_on_the_server_then_recovery_ends_consistent(
    stack: TeamStack, team_crashed: Path, point: str
) -> None:
    """The fail points of register and promote against the tracking server on PostgreSQL: after the
    kill, `dvc repro` (register) or `make promote` again ends as an uninterrupted run."""
    project, env, server = team_crashed, stack.client_env(), client(stack.tracking_uri)
    # A new gate threshold (met by any model): new inputs for register alone, so only it runs.
    threshold = f"{{accuracy: 0.{REGISTER_AND_PROMOTE.index(point) + 1}}}"
    commit = new_commit(project, "gate", threshold)
    experiment = server.get_experiment_by_name(project.name).experiment_id
    if point.startswith("register"):
        before = Before.of(project, server)
        output = killed_at(point, [*DVC, "repro"], project, env)
        assert_left_by(point, output, project, commit, server, before)
        recovery = dvc(project, stack, "repro").stdout
        assert "Running stage 'train'" not in recovery and "register: models:/" in recovery
        assert_consistent(project, commit, server, env)
        killed = server.search_runs(
            [experiment], f"tags.git_commit = '{commit}' and attributes.status = 'KILLED'"
        )
        assert len(killed) == (1 if point in RUN_LEFT_RUNNING else 0)
        return
    dvc(project, stack, "repro")
    decision = assert_consistent(project, commit, server, env)
    before = alias_version(server, project.name, "production")
    killed_at(point, ["make", "promote"], project, env)
    moved = alias_version(server, project.name, "production")
    assert moved == (before if point == "promote.before_alias" else decision["model_version"])
    run(["make", "promote"], project, env=env)
    assert alias_version(server, project.name, "production") == decision["model_version"]
    assert_consistent(project, commit, server, env)


SYNC_POINTS = (
    "sync.run_created",
    "sync.metrics_sent",
    "sync.model_sent",
    "sync.run_ended",
    "sync.version_created",
)


def test_tracking_server_down_logs_locally_then_make_sync_sends_one_run_and_version(
    stack: TeamStack, tmp_path: Path
) -> None:
    """The server's port has nothing listening: `dvc repro` ends green, its run and version in the
    project's mlflow.db, pending. Once the server is up, `make sync`, killed at each of its fail
    points and run again, leaves one run (params, metrics, lineage, model) and one version
    @staging; a second sync and a forced register add nothing."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    project = bake_team(stack, tmp_path, "server-down", tracking_uri=uri)
    # MLflow alone would retry for minutes; the timeout only keeps a regression from hanging CI.
    repro = subprocess.run(
        [*DVC, "repro"], cwd=project, capture_output=True, text=True, env=stack.client_env(), timeout=300
    )
    assert repro.returncode == 0, repro.stdout + repro.stderr
    assert (
        f"register: the MLflow tracking server {uri} is not reachable" in repro.stdout
        and "`make sync` sends them once the server is up" in repro.stdout
    ), repro.stdout
    decision = json.loads((project / "reports" / "registration.json").read_text())
    assert decision["registered"] and decision["sync"] == f"pending: `make sync` sends it to {uri}"
    assert "register" not in dvc(project, stack, "status").stdout  # nothing left to run
    doctor = run(["make", "doctor"], project, check=False, env=stack.client_env())
    assert "1 run(s) logged to mlflow.db while the tracking server was down" in doctor.stdout
    local = client(f"sqlite:///{project / 'mlflow.db'}")
    (kept,) = local.search_runs([local.get_experiment_by_name("server-down").experiment_id])
    assert kept.info.run_id == decision["mlflow_run_id"]
    not_yet = run(["make", "sync"], project, check=False, env=stack.client_env())
    assert not_yet.returncode != 0 and f"MLflow tracking server {uri} is not reachable" in not_yet.stderr

    restarted = stack.start_mlflow(port)  # the same database and bucket, on the project's address
    try:
        for point in SYNC_POINTS:
            killed = run(
                ["make", "sync"], project, check=False, env={**stack.client_env(), "FAIL_POINT": point}
            )
            assert killed.returncode != 0, f"{point} was not reached:\n{killed.stdout}"
        sent = run(["make", "sync"], project, env=stack.client_env()).stdout
        assert "sync: 1 run(s) sent" in sent
        server = client(uri)
        experiment_id = server.get_experiment_by_name("server-down").experiment_id
        (copy,) = server.search_runs([experiment_id])
        assert copy.info.status == "FINISHED" and copy.info.run_name == kept.info.run_name
        assert copy.data.params == kept.data.params and copy.data.metrics == kept.data.metrics
        for tag in ("git_commit", "dvc_data_md5", "inputs_key", "dvc_model_md5", "environment_md5"):
            assert copy.data.tags[tag] == kept.data.tags[tag], tag
        assert [d.dataset.digest for d in copy.inputs.dataset_inputs] == [
            d.dataset.digest for d in kept.inputs.dataset_inputs
        ]
        assert server_versions(stack, "server-down") == ["1"]
        assert server.get_model_version_by_alias("server-down", "staging").run_id == copy.info.run_id
        assert "no run is waiting" in run(["make", "sync"], project, env=stack.client_env()).stdout
        # The model itself came along: predict loads it from the server's registry.
        rows = pd_rows(project, tmp_path / "rows.csv")
        run(
            [
                "make",
                "predict",
                "MODEL=models:/server-down@staging",
                f"INPUT={rows}",
                f"OUTPUT={tmp_path / 'out.csv'}",
            ],
            project,
            env=stack.client_env(),
        )
        assert len((tmp_path / "out.csv").read_text().splitlines()) == 6  # a header and 5 rows
        # Promotion works from the workspace's pending decision; a forced register finds the sent run.
        run(["make", "promote"], project, env=stack.client_env())
        assert server.get_model_version_by_alias("server-down", "production").version == "1"
        dvc(project, stack, "repro", "--force", "register")
        assert [run_.info.run_id for run_ in server.search_runs([experiment_id])] == [copy.info.run_id]
        assert server_versions(stack, "server-down") == ["1"]
        assert (
            "not on it yet"
            not in run(["make", "doctor"], project, check=False, env=stack.client_env()).stdout
        )
    finally:
        stack.stop(restarted)


def pd_rows(project: Path, path: Path) -> Path:
    """The first 5 rows of the project's raw table, without the target, written to `path`."""
    import pandas as pd

    raw = yaml.safe_load((project / "data" / "schema.yaml").read_text())
    table = pd.read_csv(project / raw["raw"])
    table.drop(columns=raw["target"]).head(5).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fault", ["bad-credentials", "missing-bucket", "s3-down"])
def test_push_fault_is_explained_and_loses_nothing(stack: TeamStack, tmp_path: Path, fault: str) -> None:
    project = bake_team(stack, tmp_path, f"push-{fault}")
    port = free_port()
    if fault == "bad-credentials":  # an S3 server that checks keys and knows none of ours
        stack.start_s3(port, extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    setting, expected = {
        "bad-credentials": (("endpointurl", f"http://127.0.0.1:{port}"), "refused the credentials"),
        "missing-bucket": (("url", "s3://no-such-bucket/data"), "bucket 'no-such-bucket' does not exist"),
        "s3-down": (("endpointurl", f"http://127.0.0.1:{port}"), "is not reachable"),  # nothing listens
    }[fault]
    dvc(project, stack, "remote", "modify", "--local", "storage", *setting)
    before = cache_files(project)
    raw = project / "data" / "raw" / "wine.csv"
    raw_before = raw.read_bytes()

    pushed = run(["make", "push"], project, check=False, env=stack.client_env())
    output = pushed.stdout + pushed.stderr
    assert pushed.returncode != 0
    assert "problem: DVC remote 'storage'" in output and expected in output, output
    if fault == "bad-credentials":
        assert "AWS_ACCESS_KEY_ID" in output and AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in output
    assert cache_files(project) == before
    assert raw.read_bytes() == raw_before


def test_doctor_passes_on_a_working_team_setup(stack: TeamStack, team_project: Path) -> None:
    doctor = run([sys.executable, "-m", "team_wine.ops.doctor"], team_project, env=stack.client_env())
    lines = doctor.stdout.splitlines()
    assert all(line.startswith("ok: ") for line in lines), doctor.stdout
    assert any(stack.tracking_uri in line and "accepts writes" in line for line in lines)
    assert any("DVC remote 'storage'" in line and "AWS_ACCESS_KEY_ID" in line for line in lines)


def test_a_teammate_pulls_a_shared_experiment_and_adopts_it_with_nothing_rerun(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """Experiments shared as DVC means: `make exp-push` sends an experiment's git ref to origin (a
    bare repository here) and its outputs to the S3 remote; a teammate's fresh clone runs
    `make exp-pull`, sees it in `dvc exp show` with its MLflow run, applies it, and `dvc repro` has
    nothing to do; the run and version it names are those on the server."""
    origin = tmp_path / "origin.git"
    run(["git", "clone", "--quiet", "--bare", str(team_project), str(origin)], tmp_path)
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    run(["git", "clone", "--quiet", str(origin), str(alice)], tmp_path)
    dvc(alice, stack, "pull")
    dvc(alice, stack, "exp", "run", "--name", "shared-31", "-S", "train.n_estimators=31")
    shared = exp_show(alice)["shared-31"]
    run(["make", "exp-push", "NAME=shared-31"], alice, env=stack.client_env())
    assert "give the experiment" in run(["make", "exp-push"], alice, check=False).stderr

    run(["git", "clone", "--quiet", str(origin), str(bob)], tmp_path)
    run(["make", "exp-pull", "NAME=shared-31"], bob, env=stack.client_env())
    assert exp_show(bob)["shared-31"] == shared
    dvc(bob, stack, "exp", "apply", "shared-31")
    assert "Data and pipelines are up to date" in dvc(bob, stack, "repro").stdout
    decision = json.loads((bob / "reports" / "registration.json").read_text())
    assert decision == shared and decision["registered"]
    server = client(stack.tracking_uri)
    logged = server.get_run(decision["mlflow_run_id"])
    assert (
        logged.data.tags["dvc_exp_name"] == "shared-31" and logged.data.params["train.n_estimators"] == "31"
    )
    assert server.get_model_version(MODEL, str(decision["model_version"])).run_id == logged.info.run_id


def nginx_binary() -> str:
    """Debian's nginx (package nginx-light), which .ci/run installs."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        message = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it")
        pytest.skip(message)
    return found


def test_tls_proxy_serves_the_tracking_server_to_clients_that_trust_its_certificate(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """The compose stack's TLS proxy as the tests can run it: Debian's nginx with the project's
    docker/nginx.conf and the self-signed certificate `make stack-env` writes. A client that trusts
    the certificate (MLFLOW_TRACKING_SERVER_CERT_PATH) signs in and reads the runs over HTTPS; one
    that doesn't is told which variable to set; MLFLOW_TRACKING_INSECURE_TLS skips the check only
    when asked."""
    nginx = nginx_binary()
    stacked = bake(tmp_path, project_name="tls", team_stack="yes")
    assert "self-signed certificate" in run(["make", "stack-env"], stacked).stdout
    cert, key = stacked / "docker" / "tls" / "server.crt", stacked / "docker" / "tls" / "server.key"
    assert run(["git", "status", "--porcelain"], stacked).stdout == ""  # the key stays out of git
    uri = stack.start_tls_proxy(nginx, cert, key)
    env = {**stack.client_env(), "MLFLOW_TRACKING_URI": uri}
    doctor = [sys.executable, "-m", "team_wine.ops.doctor"]

    untrusted = run(doctor, team_project, check=False, env=env)
    assert untrusted.returncode == 1
    assert f"problem: MLflow tracking server {uri} presents a certificate this machine does not trust" in (
        untrusted.stdout
    ), untrusted.stdout
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in untrusted.stdout

    trusted = {**env, "MLFLOW_TRACKING_SERVER_CERT_PATH": str(cert)}
    signed_in = run(doctor, team_project, check=False, env=trusted).stdout
    assert f"ok: signed in to {uri} as 'person': EDIT on experiment '{MODEL}'" in signed_in, signed_in
    assert f"ok: MLflow tracking server {uri} answers and accepts writes" in signed_in
    decision = yaml.safe_load((team_project / "reports" / "registration.json").read_text())
    assert decision["mlflow_run_id"][:8] in run(["make", "compare"], team_project, env=trusted).stdout
    insecure = {**env, "MLFLOW_TRACKING_INSECURE_TLS": "true"}
    assert decision["mlflow_run_id"][:8] in run(["make", "compare"], team_project, env=insecure).stdout


def test_the_proxy_limits_each_client_and_refuses_user_administration(
    stack: TeamStack, tmp_path: Path
) -> None:
    """Through the TLS proxy (docker/nginx.conf): creating a user, making an admin, granting and
    /signup are refused even to the admin, who does them on the server's own port; one address
    sending 40 wrong-password requests at once gets 429 beyond its share, and another address
    signs in meanwhile."""
    nginx = nginx_binary()
    stacked = bake(tmp_path, project_name="edges", team_stack="yes")
    run(["make", "stack-env"], stacked)
    cert, key = stacked / "docker" / "tls" / "server.crt", stacked / "docker" / "tls" / "server.key"
    port = int(stack.start_tls_proxy(nginx, cert, key).rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(cert))

    def status(path: str, user: tuple[str, str], body: dict | None = None, source: str = "127.0.0.1") -> int:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=context, source_address=(source, 0), timeout=120
        )
        credentials = base64.b64encode(":".join(user).encode()).decode()
        headers = {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}
        try:
            connection.request("POST" if body is not None else "GET", path, json.dumps(body), headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    mallory = {"username": "mallory", "password": "a-long-password"}
    assert status("/api/2.0/mlflow/users/create", stack.admin, mallory) == 403
    assert (
        status(
            "/ajax-api/2.0/mlflow/users/update-admin", stack.admin, {"username": "person", "is_admin": True}
        )
        == 403
    )
    grant = {
        "username": "person",
        "resource_type": "registered_model",
        "resource_pattern": "*",
        "permission": "MANAGE",
    }
    assert status("/api/3.0/mlflow/users/permissions/grant", stack.admin, grant) == 403
    assert status("/signup", stack.admin) == 403
    assert (
        status("/api/2.0/mlflow/users/current", ("person", stack.users["person"])) == 200
    )  # reading oneself
    own_port = f"{stack.tracking_uri}/api/2.0/mlflow/users/get?username="
    assert http_status(own_port + "mallory", user=stack.admin) == 404  # never created
    assert http_status(own_port + "person", user=stack.admin) == 200  # admin work goes here

    search = "/api/2.0/mlflow/experiments/search"
    guess = lambda _: status(search, ("person", "a-guess"), {"max_results": 1}, source="127.0.0.2")  # noqa: E731
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        flood = pool.map(guess, range(40))
        assert status(search, ("person", stack.users["person"]), {"max_results": 1}) == 200
        statuses = list(flood)
    assert set(statuses) == {401, 429}, statuses


def test_dvc_keys_per_identity_let_ci_pull_but_not_push(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """A key per identity and service, with the project's own policies (docker/dvc-write.json for a
    person, dvc-read.json for CI, mlflow-artifacts.json for the tracking server) on an S3 server
    that enforces them (moto's IAM): the person pushes; CI pulls and reproduces, but its push is
    refused, doctor says its keys may only read, and nothing local is lost. The DVC keys reach this
    project's prefix of the DVC bucket only, the server's key MLflow's bucket only."""
    import boto3
    import botocore.exceptions

    port = free_port()
    stack.start_s3(port)
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, **aws_kwargs())
    s3.create_bucket(Bucket=DVC_BUCKET)
    s3.create_bucket(Bucket="mlflow")  # docker-compose.yml's --artifacts-destination
    iam = boto3.client("iam", endpoint_url=endpoint, **aws_kwargs())
    keys = {}
    for user, policy in (
        ("person", "dvc-write.json"),
        ("ci", "dvc-read.json"),
        ("server", "mlflow-artifacts.json"),
    ):
        document = (team_project / "docker" / policy).read_text()
        arn = iam.create_policy(PolicyName=policy, PolicyDocument=document)["Policy"]["Arn"]
        iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
    plain = {"Content-Type": "text/plain"}  # a form would leave the body unread
    enforce = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", headers=plain)
    urllib.request.urlopen(enforce)  # IAM's policies apply from now on

    def clone(name: str) -> Path:
        folder = tmp_path / name
        run(["git", "clone", "--quiet", str(team_project), str(folder)], tmp_path)
        dvc(folder, stack, "remote", "modify", "--local", "storage", "endpointurl", endpoint)
        return folder

    person, ci = clone("person"), clone("ci")
    shutil.copytree(team_project / ".dvc" / "cache", person / ".dvc" / "cache", dirs_exist_ok=True)
    person_env, ci_env = {**stack.client_env(), **keys["person"]}, {**stack.client_env("ci"), **keys["ci"]}
    run(["make", "push"], person, env=person_env)
    assert (
        "may read and write"
        in run([sys.executable, "-m", "team_wine.ops.doctor", "--remote"], person, env=person_env).stdout
    )

    run(["make", "pull"], ci, env=ci_env)
    assert "Data and pipelines are up to date" in run([*DVC, "repro"], ci, env=ci_env).stdout
    (ci / "notes.csv").write_text("a,b\n1,2\n")
    run([*DVC, "add", "notes.csv"], ci, env=ci_env)
    before = cache_files(ci)
    pushed = run(["make", "push"], ci, check=False, env=ci_env)
    assert pushed.returncode != 0
    assert "may read (pull), not write (push)" in pushed.stdout, pushed.stdout + pushed.stderr
    assert keys["ci"]["AWS_SECRET_ACCESS_KEY"] not in pushed.stdout + pushed.stderr
    assert cache_files(ci) == before and (ci / "notes.csv").read_text() == "a,b\n1,2\n"

    def allowed(user: str, action: str, bucket: str, key: str) -> bool:
        """Whether `user`'s key may get or put `key` in `bucket` (AccessDenied: False)."""
        client = s3_client(keys[user], endpoint)
        try:
            if action == "put":
                client.put_object(Bucket=bucket, Key=key, Body=b"probe")
            else:
                client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "AccessDenied", error.response
            return False
        return True

    prefix = team_project.name  # the project's dvc_remote_url: s3://<DVC bucket>/<slug>
    pushed_object = s3_keys_under(keys["person"], endpoint, DVC_BUCKET, f"{prefix}/")[0]
    assert allowed("person", "put", DVC_BUCKET, f"{prefix}/probe")
    assert not allowed("person", "put", DVC_BUCKET, "another-project/probe")
    assert not allowed("person", "put", "mlflow", "1/artifact")
    assert allowed("ci", "get", DVC_BUCKET, pushed_object)
    assert allowed("server", "put", "mlflow", "1/artifact")
    assert allowed("server", "get", "mlflow", "1/artifact")
    assert not allowed("person", "get", "mlflow", "1/artifact")
    assert not allowed("server", "get", DVC_BUCKET, pushed_object)
    assert not allowed("server", "put", DVC_BUCKET, f"{prefix}/probe")


def s3_client(credentials: dict[str, str], endpoint: str) -> Any:
    """An S3 client of `endpoint` with `credentials` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )


def s3_keys_under(credentials: dict[str, str], endpoint: str, bucket: str, prefix: str) -> list[str]:
    """The keys of `bucket` under `prefix`, listed with `credentials`."""
    listed = s3_client(credentials, endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The `error: ...` lines a command of the project printed."""
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error: ")]


def test_anonymous_and_wrong_passwords_are_refused_and_named(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """Every read and write needs an identity: anonymous requests get 401. A wrong password is named
    by `make doctor` and, in one line, by the pipeline's commands; neither prints the password."""
    api = f"{stack.tracking_uri}/api/2.0/mlflow"
    assert http_status(f"{api}/experiments/search", b'{"max_results": 1}') == 401
    assert http_status(f"{api}/registered-models/get?name={MODEL}") == 401
    assert http_status(f"{api}/runs/create", b'{"experiment_id": "1"}') == 401
    assert (
        http_status(f"{api}/experiments/search", b'{"max_results": 1}', ("person", stack.users["person"]))
        == 200
    )

    wrong = {**stack.client_env(), "MLFLOW_TRACKING_PASSWORD": "not-the-password-42"}
    doctor = run([sys.executable, "-m", "team_wine.ops.doctor"], team_project, check=False, env=wrong)
    assert doctor.returncode == 1
    refused = f"problem: MLflow tracking server {stack.tracking_uri} refused user 'person' (wrong password"
    assert refused in doctor.stdout, doctor.stdout
    promote = run(["make", "promote"], team_project, check=False, env=wrong)
    assert promote.returncode != 0
    assert error_lines(promote) == [
        f"error: the MLflow tracking server {stack.tracking_uri} did not accept user 'person' (HTTP 401). "
        "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to the "
        "identity the server's admin gave you (make identity); `make doctor` checks them"
    ], promote.stdout + promote.stderr
    # register stops on the refusal too, keeping nothing locally for `make sync`
    before = local_runs(team_project)
    stage = ["--schema", "data/schema.yaml", "--test", "data/prepared/test.parquet", "--unlabeled"]
    stage += ["data/prepared/unlabeled.parquet", "--model", "models/model.skops", "--metrics"]
    stage += ["dvclive/metrics.json", "--images", "dvclive/plots/images", "--curve", "dvclive/training"]
    stage += ["--environment", "pipeline-requirements.txt", "--out", str(tmp_path / "decision.json")]
    register = run(
        [sys.executable, "-m", "team_wine.stages.register", *stage], team_project, check=False, env=wrong
    )
    assert register.returncode != 0
    assert (
        f"error: the MLflow tracking server {stack.tracking_uri} did not accept user 'person' (HTTP 401)"
        in (register.stdout + register.stderr)
    )
    assert len(local_runs(team_project)) == len(before)
    for result in (doctor, promote, register):
        assert "not-the-password-42" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_ci_reads_and_gates_but_cannot_register_or_promote(
    stack: TeamStack, team_project: Path, tmp_path: Path
) -> None:
    """CI's identity (READ): doctor says what it may do, `make compare` and `make gate` work. In a
    fresh clone with a new gate, `dvc repro` stops at register with one line naming the 403, and
    `make promote` too; the server is left as it was: no run, no version, no alias moved."""
    env, server = stack.client_env("ci"), client(stack.tracking_uri)
    doctor = run([sys.executable, "-m", "team_wine.ops.doctor"], team_project, env=env)
    assert (
        f"ok: signed in to {stack.tracking_uri} as 'ci': READ on experiment '{MODEL}', "
        f"READ on model '{MODEL}': reads runs and the registry\n"
    ) in doctor.stdout, doctor.stdout
    decision = yaml.safe_load((team_project / "reports" / "registration.json").read_text())
    assert decision["mlflow_run_id"][:8] in run(["make", "compare"], team_project, env=env).stdout
    assert "gate: passed" in run(["make", "gate"], team_project, env=env).stdout

    clone = tmp_path / "ci"
    run(["git", "clone", "--quiet", str(team_project), str(clone)], tmp_path)
    dvc(clone, stack, "pull")
    commit = new_commit(clone, "gate", "{accuracy: 0.5}")
    versions, aliases = server_versions(stack, MODEL), server.get_registered_model(MODEL).aliases
    repro = run([*DVC, "repro"], clone, check=False, env=env)
    assert repro.returncode != 0
    assert error_lines(repro) == [
        f"error: the MLflow tracking server {stack.tracking_uri} does not let user 'ci' log a run "
        "(HTTP 403). That takes an identity with EDIT on this project's experiment and registered "
        "model (make identity NAME=<you> ROLE=person, run by the admin); `make doctor` shows what "
        "this one may do"
    ], repro.stdout + repro.stderr
    promote = run(["make", "promote"], team_project, check=False, env=env)
    assert [line.split(" (HTTP 403)")[0] for line in error_lines(promote)] == [
        f"error: the MLflow tracking server {stack.tracking_uri} does not let user 'ci' move an alias"
    ], promote.stdout + promote.stderr
    experiment = server.get_experiment_by_name(MODEL).experiment_id
    assert server.search_runs([experiment], f"tags.git_commit = '{commit}'") == []
    assert server.search_runs([experiment], "attributes.status = 'RUNNING'") == []
    assert server_versions(stack, MODEL) == versions
    assert server.get_registered_model(MODEL).aliases == aliases
    assert local_runs(clone) == []  # a refusal is no outage: nothing kept for `make sync`


def local_runs(project: Path) -> list:
    """The runs in the project's own store, mlflow.db (none when it has none)."""
    if not (project / "mlflow.db").exists():
        return []
    local = client(f"sqlite:///{project / 'mlflow.db'}")
    return [
        found
        for experiment in local.search_experiments()
        for found in local.search_runs([experiment.experiment_id])
    ]


def test_make_identity_creates_a_user_who_signs_in_with_what_the_role_allows(
    stack: TeamStack, team_project: Path
) -> None:
    """`make identity` (the admin, with MLFLOW_ADMIN_PASSWORD): a new user with a generated
    password, printed once in MLflow's credentials format as soon as the user exists; doctor signed
    in as that user says what it may do; again for the same user, the grants are set and the
    password kept."""
    # Killed once the user exists, before any grant: its password was already printed, and the
    # same command again sets the grants and keeps it.
    env = {**stack.admin_env(), "FAIL_POINT": "identity.user_created"}
    created = run(["make", "identity", "NAME=alice", "ROLE=person"], team_project, check=False, env=env)
    assert created.returncode != 0
    password = created.stdout.split("password, shown once: ")[1].split()[0]
    granted = run(["make", "identity", "NAME=alice", "ROLE=person"], team_project, env=stack.admin_env())
    assert "its password is unchanged" in granted.stdout and password not in granted.stdout
    assert f"mlflow_tracking_username = alice\n  mlflow_tracking_password = {password}" in created.stdout
    alice = {**stack.client_env(), "MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": password}
    doctor = run([sys.executable, "-m", "team_wine.ops.doctor"], team_project, env=alice).stdout
    assert (
        f"ok: signed in to {stack.tracking_uri} as 'alice': EDIT on experiment '{MODEL}', EDIT on "
        f"model '{MODEL}': reads runs and the registry, logs runs, registers and promotes\n"
    ) in doctor, doctor
    assert "accepts writes" in doctor
    again = run(["make", "identity", "NAME=alice", "ROLE=person"], team_project, env=stack.admin_env())
    assert "its password is unchanged" in again.stdout and password not in again.stdout
    no_admin = run(
        ["make", "identity", "NAME=bob", "ROLE=ci"], team_project, check=False, env=stack.client_env()
    )
    assert no_admin.returncode != 0
    assert error_lines(no_admin) == [
        "error: MLFLOW_ADMIN_PASSWORD is not set: run this as the server's admin (make identity reads "
        "it from .env, written by make stack-env)"
    ]
