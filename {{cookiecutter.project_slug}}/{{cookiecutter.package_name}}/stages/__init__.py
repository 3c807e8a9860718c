"""One module per `dvc.yaml` stage; each has a core function and a thin `main()`.

DVC runs each stage as a short process that imports large libraries (pandas, scikit-learn,
MLflow: up to ~370,000 objects) and exits seconds later. At Python's default threshold the cyclic
garbage collector walks those objects about a thousand times while they load, and all of them
again at exit: about a fifth of `register`'s time. So a stage collects less often and, at exit,
freezes its objects instead of walking them. Memory is still freed as soon as it is released
(reference counting); only the search for unreachable cycles runs less.
"""

import atexit
import gc

gc.set_threshold(50_000)  # objects allocated between young collections (Python's default: 700)
atexit.register(gc.freeze)  # registered first, so it runs last, after every library's own exit handler
