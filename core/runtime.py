"""Process-wide runtime settings for small-model training."""
from __future__ import annotations

import os

_BLAS_THREADS = 1  # what limit_blas_threads last set (layers read it through blas_threads())


def limit_blas_threads(n: int = 1) -> None:
    """Use ``n`` BLAS threads.

    Our matrices are small (tens to hundreds of units): thread start-up and
    synchronisation in a multi-threaded BLAS cost more than they save, and on a
    busy 2-core machine they make training 7-30x slower (measured: sine 22 -> 151
    steps/s, digits-rnn 6 -> 167 steps/s; the char LSTM of bench_engine (a), H=128,
    5.5 steps/s at 2 threads vs 58 at 1 while another process held one core). Only
    large models on an otherwise idle machine gain from 2 threads (the same char
    LSTM: 58 -> ~75-95 steps/s). Call this at start-up of the CLI, the GUI worker,
    the tests and the benchmarks; it may be called again later to change the count.
    Set ``RNNLAB_BLAS_THREADS`` to override.
    """
    global _BLAS_THREADS
    n = int(os.environ.get("RNNLAB_BLAS_THREADS", n))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    _BLAS_THREADS = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(n, user_api="blas")


def blas_threads() -> int:
    """The BLAS thread count last set by :func:`limit_blas_threads` (1 if never called).

    Layers use it to choose between a matmul (which scales with threads) and a
    single-threaded NumPy equivalent (e.g. the LSTM's dWx for integer ids).
    """
    return _BLAS_THREADS
