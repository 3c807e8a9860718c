"""The one error type users act on, and how a command reports it."""

from __future__ import annotations

import sys
from collections.abc import Callable

ERROR_PREFIX = "error: "  # starts the one line a command prints for a PipelineError


class PipelineError(Exception):
    """A problem the user can fix (bad params, bad data, missing file): said in one line."""


def run_main(main: Callable[[], None]) -> None:
    """Run a command's `main`; report a PipelineError, a system error (disk full, permission
    denied) or a tracking server's refusal (HTTP 401 or 403) as one `error: ...` line and exit
    with status 1. Outputs are written atomically, so none is left half-written."""
    try:
        main()
    except (PipelineError, OSError) as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        from .tracking import refusal  # a tracking server's 401 or 403, said in one line

        message = refusal(error)
        if message is None:
            raise
        print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
        sys.exit(1)
