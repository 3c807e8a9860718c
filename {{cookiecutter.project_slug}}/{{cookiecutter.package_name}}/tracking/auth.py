"""Who the tracking server takes us for, and a refused call said in one line."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from ..common.errors import explain_with
from .store import SERVER_CHECK_SECONDS, tls_context, tracking_uri

# What a refused (403) call of the pipeline was for, by its endpoint under /api/2.0/mlflow/.
REFUSED_ACTIONS = {
    "runs/create": "log a run",
    "experiments/create": "create the experiment",
    "registered-models/create": "create the registered model",
    "model-versions/create": "register a model version",
    "registered-models/alias": "move an alias",
    "model-versions/delete": "delete a model version",
}


def signed_in_as() -> str | None:
    """The user MLflow sends to a tracking server: MLFLOW_TRACKING_USERNAME, else the one in
    ~/.mlflow/credentials (MLflow's own file, outside the repository); None if neither."""
    from mlflow.utils.credentials import read_mlflow_creds

    return read_mlflow_creds().username or None


def identity(uri: str) -> tuple[int, dict[str, Any]]:
    """Ask the tracking server at `uri` who we are, with MLflow's credentials: (HTTP status, its
    answer). 200 with the user and its grants; 401 for missing or wrong credentials; 404 for a
    server without authentication."""
    from mlflow.utils.credentials import read_mlflow_creds

    creds = read_mlflow_creds()
    headers = {}
    if creds.username:
        token = base64.b64encode(f"{creds.username}:{creds.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"

    def get(path: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{uri.rstrip('/')}{path}", headers=headers)
        try:
            with urllib.request.urlopen(
                request, timeout=SERVER_CHECK_SECONDS, context=tls_context()
            ) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    status, answer = get("/api/2.0/mlflow/users/current")
    if status != 200:
        return status, {}
    user = answer["user"]
    user["permissions"] = get("/api/3.0/mlflow/users/current/permissions")[1].get("permissions", [])
    return status, user


@explain_with
def refusal(error: Exception) -> str | None:
    """One line for a tracking server's refusal (HTTP 401 or 403, from MLflow's basic-auth app)
    naming the user and the fix, never a password; None for any other error."""
    code = getattr(error, "error_code", None)
    if code not in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return None
    uri, user = tracking_uri(), signed_in_as()
    who = f"user {user!r}" if user else "a request without credentials (no MLFLOW_TRACKING_USERNAME)"
    if code == "UNAUTHENTICATED":
        return (
            f"the MLflow tracking server {uri} did not accept {who} (HTTP 401). Set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials) to the "
            "identity the server's admin gave you (make identity); `make doctor` checks them"
        )
    endpoint = next((word for word in str(error).split() if word.startswith("/api/")), "this request")
    action = REFUSED_ACTIONS.get(endpoint.rsplit("/mlflow/", 1)[-1], f"call {endpoint}")
    return (
        f"the MLflow tracking server {uri} does not let {who} {action} (HTTP 403). That takes an "
        "identity with EDIT on this project's experiment and registered model (make identity "
        "NAME=<you> ROLE=person, run by the admin); `make doctor` shows what this one may do"
    )
