"""Named fail points, for testing what a crash at each step that writes state leaves behind.

Inert unless the environment variable FAIL_POINT names one; then the process kills itself there
with SIGKILL, as a power cut or the kernel's OOM killer would (no cleanup, no `finally`):

    FAIL_POINT=register.version_created dvc repro

The points, in the order each command reaches them:
- every atomic write (common/files.py): files.before_rename, the first one a command makes (prepare's
  data/prepared/train.parquet in a full `dvc repro`), its temporary file written, not yet renamed;
- the pipeline: train.model_written (before DVC records the stage), evaluate.metrics_logged (the
  metrics written, not the plots), register.run_started, register.model_logged,
  register.version_created, register.alias_moved (before the decision file is written);
- `make promote`: promote.before_alias, promote.alias_moved;
- `make identity`: identity.user_created (its password printed, no grant yet);
- `make sync`: sync.run_created, sync.metrics_sent, sync.model_sent, sync.run_ended,
  sync.version_created;
- `make adopt`: adopt.table_copied, adopt.previous_removed, adopt.data_added (before the schema);
- `make sweep` and `make tune`: sweep.queue_started (experiments queued, DVC's workers started);
- the template's post-generation hook: hook.store_created, hook.git_initialised, hook.dvc_initialised.
To add one: call `fail_point("<module>.<moment>")` right after the write it follows, list it here,
and give it a case in the crash tests.
"""

from __future__ import annotations

import os
import signal


def fail_point(name: str) -> None:
    """Kill this process with SIGKILL if FAIL_POINT names `name`; otherwise do nothing."""
    if os.environ.get("FAIL_POINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
