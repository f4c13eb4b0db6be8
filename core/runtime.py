"""Process-wide runtime settings for small-model training."""
from __future__ import annotations

import os


def limit_blas_threads(n: int = 1) -> None:
    """Use ``n`` BLAS threads.

    Our matrices are small (tens to hundreds of units): thread start-up and
    synchronisation in a multi-threaded BLAS cost more than they save, and on a
    busy 2-core machine they make training 7-30x slower (measured: sine 22 -> 151
    steps/s, digits-rnn 6 -> 167 steps/s). Call this at start-up of the CLI, the
    GUI worker, the tests and the benchmarks. Set ``RNNLAB_BLAS_THREADS`` to
    override.
    """
    n = int(os.environ.get("RNNLAB_BLAS_THREADS", n))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(n, user_api="blas")
