"""Every MLflow call of the pipeline, by concern: store (where runs go, retries), auth (who we are
to a tracking server), runs (runs and logged models), lineage (back to code, data and DVC) and
registry (versions and aliases). Only these modules import MLflow for the pipeline, and each
imports it inside the function that needs it, so a command that never reaches MLflow does not
pay for loading it.
"""

from . import auth  # noqa: F401  (run_main reports a tracking server's refusal in one line)
