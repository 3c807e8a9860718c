"""The one error type users act on, and how a command reports it."""

from __future__ import annotations

import sys
from collections.abc import Callable

ERROR_PREFIX = "error: "  # starts the one line a command prints for a PipelineError

# Functions that turn another library's exception into one line for the user, or None; a module
# that knows such an exception adds its function (tracking.auth: a tracking server's refusal).
EXPLAINERS: list[Callable[[Exception], str | None]] = []


class PipelineError(Exception):
    """A problem the user can fix (bad params, bad data, missing file): said in one line."""


def first_line(error: Exception) -> str:
    """The first line of an exception's message (its type's name when it has none): another
    library's error, quoted in one line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def explain_with(explainer: Callable[[Exception], str | None]) -> Callable[[Exception], str | None]:
    """Have run_main report the exceptions `explainer` recognises in the line it returns."""
    EXPLAINERS.append(explainer)
    return explainer


def run_main(main: Callable[[], None]) -> None:
    """Run a command's `main`; report a PipelineError, a system error (disk full, permission
    denied) or an exception an explainer recognises (a tracking server's refusal) as one
    `error: ...` line and exit with status 1. Outputs are written atomically, so none is left
    half-written."""
    try:
        main()
    except (PipelineError, OSError) as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:
        message = next(filter(None, (explain(error) for explain in EXPLAINERS)), None)
        if message is None:
            raise
        print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
        sys.exit(1)
