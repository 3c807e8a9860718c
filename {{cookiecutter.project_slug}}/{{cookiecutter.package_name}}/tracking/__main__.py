"""`python -m <package>.tracking`: create the local store and the experiment ahead of time."""

from __future__ import annotations

from .store import connect, is_server, server_problem, tracking_uri


def main() -> None:
    """Create the local tracking store and the project's experiment; for a server, only say
    whether it answers (the stages create the experiment there on first use)."""
    uri = tracking_uri()
    if is_server(uri):
        problem = server_problem(uri)
        print(
            f"MLflow tracking server: {uri}"
            + (f" {problem}: start it before `make repro`" if problem else "")
        )
        return
    experiment_id = connect()
    print(f"MLflow tracking store: {uri} (experiment {experiment_id})")


if __name__ == "__main__":
    main()
