"""`python -m <package>.tracking`: create the local store and the experiment ahead of time."""

from __future__ import annotations

from ..common.project import project_root
from .store import LOCAL_STORE, connect, is_server, local_tracking_uri, server_problem, tracking_uri


def main() -> None:
    """Create the project's local tracking store and experiment unless the store exists (the
    generation hook makes it, and the first run adds the experiment); for a server, only say whether
    it answers (the stages create the experiment there on first use)."""
    uri = tracking_uri()
    if is_server(uri):
        problem = server_problem(uri)
        print(
            f"MLflow tracking server: {uri}"
            + (f" {problem}: start it before `make repro`" if problem else "")
        )
        return
    if uri == local_tracking_uri() and (project_root() / LOCAL_STORE).exists():
        print(f"MLflow tracking store: {uri}")  # without importing MLflow: seconds saved
        return
    experiment_id = connect()
    print(f"MLflow tracking store: {uri} (experiment {experiment_id})")


if __name__ == "__main__":
    main()
