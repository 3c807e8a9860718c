"""The project's ML pipeline: prepare -> train -> evaluate -> register, run by DVC, tracked in MLflow.

Your ML code is at the top (model, date_features, schema, config, gate, tasks/, stages/); the
machinery is in subpackages: tables/ (reading files), tracking/ (MLflow), experiments/ (DVC's
queue, sweeps, Optuna), serving/, ops/ (adopting data, promoting, checks, identities) and common/.

Its commands (`python -m <package>.stages.train`, `.experiments.compare`, ...) are short processes
that import large libraries (pandas, scikit-learn, MLflow: hundreds of thousands of objects) and
exit seconds later. At Python's default threshold the cyclic garbage collector walks those objects
about a thousand times while they load, and all of them again at exit, a large share of a short
command's time. So the package collects less often and, at exit, freezes its objects instead of
walking them. Memory is still freed as soon as it is released (reference counting); only the
search for unreachable cycles runs less often.
"""

import atexit
import gc

gc.set_threshold(50_000)  # objects allocated between young collections (Python's default: 700)
atexit.register(gc.freeze)  # registered first, so it runs last, after every library's own exit handler
