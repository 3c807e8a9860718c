"""Check the DVC remote: reachable, its bucket there, the credentials in use accepted, whether
they may write or only read, and that `dvc pull` checks the hash of what it downloads (`make
doctor`, and `make push` when a push fails)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..common.project import project_root
from .report import Report

if TYPE_CHECKING:
    from s3fs import S3FileSystem

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
CREDENTIAL_OPTIONS = ("access_key_id", "secret_access_key", "session_token", "profile", "credentialpath")


def credential_sources(remote_config: dict, local_config: dict) -> str:
    """Which credential settings are in use for an S3 remote (names only, never values)."""
    sources = [name for name in CREDENTIAL_VARIABLES if os.environ.get(name)]
    sources += [f"{option} in .dvc/config.local" for option in CREDENTIAL_OPTIONS if option in local_config]
    sources += [
        f"{option} in .dvc/config"
        for option in CREDENTIAL_OPTIONS
        if option in remote_config and option not in local_config
    ]
    return ", ".join(sources) or "none set (AWS's default chain: ~/.aws, instance role)"


def check_remote(report: Report) -> None:
    """The default DVC remote is reachable and accepts the credentials in use."""
    from dvc.repo import Repo

    repo = Repo(str(project_root()))
    name = repo.config["core"].get("remote")
    if not name:
        report.ok("no default DVC remote: data stays in this clone's cache (add one: dvc remote add -d ...)")
        return
    remote_config = repo.config["remote"][name]
    url = remote_config["url"]
    where = f"DVC remote '{name}' ({url}" + (
        f" at {remote_config['endpointurl']})" if remote_config.get("endpointurl") else ")"
    )
    if not remote_config.get("verify"):
        report.problem(
            f"{where} does not verify what it sends: an object changed there would be loaded",
            f"dvc remote modify {name} verify true",
        )
    try:
        remote = repo.cloud.get_remote(name)
    except ImportError as error:  # e.g. a gs:// remote without dvc-gs installed
        report.problem(f"{where}: {error}", "install DVC's plugin for it, then rerun")
        return
    if remote.fs.protocol == "local":
        if can_write(Path(remote.path)):
            report.ok(f"{where} is writable")
        else:
            report.problem(f"{where} is not writable", "fix the folder's permissions or the remote's url")
        return
    if remote.fs.protocol != "s3":
        report.ok(f"{where}: only local and S3 remotes are checked here; `dvc push` reports the rest")
        return
    local_config = repo.config.read("local").get("remote", {}).get(name, {})
    credentials = credential_sources(remote_config, local_config)
    bucket = remote.path.split("/")[0]
    try:
        remote.fs.fs.ls(bucket, refresh=True)
    except PermissionError as error:
        report.problem(
            f"{where} refused the credentials: {error} (credentials in use: {credentials})",
            f"set the right keys in the environment or with `dvc remote modify --local {name} access_key_id ...`",
        )
    except FileNotFoundError:
        report.problem(f"{where}: bucket '{bucket}' does not exist", "create the bucket, or correct the url")
    except Exception as error:  # noqa: BLE001 - botocore's connection errors share no useful base
        report.problem(
            f"{where} is not reachable: {error}",
            f"check the network and the endpoint (`dvc remote modify {name} endpointurl URL`)",
        )
    else:
        may = "read and write" if may_write(remote.fs.fs, remote.path) else "read (pull), not write (push)"
        report.ok(f"{where} is reachable; the credentials in use ({credentials}) may {may}")


def may_write(s3: S3FileSystem, path: str) -> bool:
    """Whether the credentials may upload to the remote: S3 asks the same permission to start a
    multipart upload as to put an object, and the upload, aborted at once, leaves nothing."""
    bucket, _, prefix = path.partition("/")
    key = f"{prefix}/.doctor-write-check".lstrip("/")
    try:
        upload = s3.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    except PermissionError:
        return False
    s3.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    return True


def can_write(folder: Path) -> bool:
    """Whether we can write into `folder`, or create it where it does not exist yet."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    return os.access(existing, os.W_OK)
