"""Create an identity on the team's tracking server with only what it needs (run by the admin).

    python -m <package>.ops.identities alice --role person    (or: make identity NAME=alice ROLE=person)

Roles, on this project's experiment and registered model:
- person: EDIT on both: logs runs, registers versions, moves aliases (make promote); cannot
  delete versions or experiments, nor manage users;
- ci: READ on both: reads runs and the registry (make compare, the gate); cannot log runs,
  register, promote or delete.
The server's default for everything else is no permission (docker/basic_auth.ini).

Signs in as the admin: MLFLOW_ADMIN_USERNAME (default admin) and MLFLOW_ADMIN_PASSWORD, which
`make identity` reads from .env (make stack-env). Creates the experiment and the registered
model if they don't exist yet. A new user gets a generated password, printed once as soon as the
user exists; for an existing user the grants are set again and the password is kept.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from typing import TYPE_CHECKING

from ..common.errors import PipelineError, run_main
from ..common.failpoints import fail_point
from ..config import load_params
from ..tracking import registry, store

if TYPE_CHECKING:
    from mlflow.server.auth.client import AuthServiceClient

ROLES = {"person": "EDIT", "ci": "READ"}
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


def sign_in_as_admin() -> None:
    """Use the admin's credentials for this process's MLflow calls."""
    password = os.environ.get("MLFLOW_ADMIN_PASSWORD")
    if not password:
        raise PipelineError(
            "MLFLOW_ADMIN_PASSWORD is not set: run this as the server's admin (make identity reads "
            "it from .env, written by make stack-env)"
        )
    os.environ["MLFLOW_TRACKING_USERNAME"] = os.environ.get("MLFLOW_ADMIN_USERNAME", "admin")
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password


def project_resources(model_name: str) -> str:
    """Create this project's experiment and registered model if missing; return the experiment id."""
    experiment_id = store.connect()
    registry.create_registered_model(model_name)
    return experiment_id


def grant(auth: AuthServiceClient, name: str, resource_type: str, resource_id: str, permission: str) -> None:
    """Give `name` exactly `permission` on one resource, replacing an earlier grant."""
    from mlflow.exceptions import MlflowException

    try:
        auth.grant_user_permission(name, resource_type, resource_id, permission)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(name, resource_type, resource_id)
        auth.grant_user_permission(name, resource_type, resource_id, permission)


def add_identity(name: str, role: str) -> None:
    """Create the user `name` (if new) and print its password at once, before anything else can fail
    (a grant refused, the server gone: the user exists either way, and a second run keeps its
    password); then give it the grants of `role`."""
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    uri = store.reachable_tracking_uri()
    if not store.is_server(uri):
        raise PipelineError(f"identities live on a tracking server; this project tracks to {uri}")
    model_name = load_params().registry.model_name
    experiment_id = project_resources(model_name)
    auth = get_app_client("basic-auth", tracking_uri=uri)
    password = secrets.token_urlsafe(24)
    try:
        auth.create_user(name, password)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        print("(an existing user: its grants are set again, its password is unchanged)")
    else:
        print(
            f"password, shown once: {password}\n"
            f"{name} keeps it in ~/.mlflow/credentials (a person) or in the CI's secrets (CI):\n"
            f"  [mlflow]\n  mlflow_tracking_username = {name}\n  mlflow_tracking_password = {password}",
            flush=True,
        )
        fail_point("identity.user_created")
    grant(auth, name, "experiment", experiment_id, ROLES[role])
    grant(auth, name, "registered_model", model_name, ROLES[role])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", help="the user's name, e.g. alice, or ci")
    parser.add_argument("--role", choices=sorted(ROLES), required=True)
    args = parser.parse_args()
    if not USER_NAME.match(args.name):
        raise PipelineError(f"user name {args.name!r}: use letters, digits, '.', '_', '@' and '-'")
    sign_in_as_admin()
    add_identity(args.name, args.role)
    print(f"identity {args.name!r}: {ROLES[args.role]} on this project's experiment and registered model")


if __name__ == "__main__":
    run_main(main)
