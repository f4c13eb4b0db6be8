"""``BatchParallel``: run a recurrent layer's forward/backward on slices of the batch in threads.

The sequences of a batch are independent in the forward and backward pass; only
the parameter gradients are summed over them. ``BatchParallel(layer, workers=2)``
splits the batch axis into ``workers`` contiguous chunks, runs ``layer.forward``
/ ``layer.backward`` on every chunk concurrently (chunk 0 in the calling thread,
the others in a ``ThreadPoolExecutor`` of ``workers - 1`` threads created on first
use) and joins the results::

    y       = concat(y_k, axis=1)            (T, B, H)
    h_last  = concat(h_k, axis=0)            per array of the state structure
    grads   = sum_k grads_k                  per name
    dx      = concat(dx_k, axis=1),  dh0 = concat(dh0_k, axis=0)
    dh_norms = sqrt(sum_k dh_norms_k ** 2)   (L, T): the norm over the whole batch

NumPy releases the GIL inside matmuls and ufunc loops, so on two free cores the
chunks run at the same time, except for the Python between NumPy calls and the
hand-over of the GIL after each call (a few µs on this VM: calls of ~20 µs, the
matmuls, overlap well; elementwise calls of 2-5 µs hardly do). Measured on the
2-core machine (tests/benchmarks/bench_engine.py, case (a): char LSTM H=128, B=32,
T=50): LSTM forward + backward 13.0 -> 9.2 ms with 2 chunks (one chunk of 16 alone:
7.4 ms), about what 2 BLAS threads give. Use one BLAS thread per chunk
(``core.runtime.limit_blas_threads(1)``). Small models lose (case (d), H=30: 0.5x).
Not for the GUI: its worker thread and the GUI thread already share the two cores.

The wrapper follows the recurrent-layer contract of ``core.nn``: ``params`` is the
wrapped layer's own dict (the same array objects), ``forward(x, h0=None, rng=None,
train=True)``, ``backward(dy, cache, dh_last=None, need_dx=True)``, ``trace(cache)``,
state dicts and torch interchange are delegated. Batches smaller than
``2 * workers`` (and ``workers == 1``) run in one call in the calling thread.

Thread safety: the layers of ``core.nn`` (RNN, LSTM, GRU, Stacked,
Bidirectional) keep nothing about a call on the object (the LSTM's fused block
``_W`` holds the parameters themselves and is only read during a call), so
concurrent calls on different chunks are safe. Dropout inside a ``Stacked``
layer (train mode with an ``rng``) draws from one child generator per chunk,
seeded from ``rng`` in the calling thread: reproducible from the seed, but not the
same masks as the unwrapped layer would draw.

The pool's threads are ordinary (non-daemon) idle threads; ``close()`` (or
``with BatchParallel(...) as layer:``, or dropping the wrapper) shuts them down,
and Python's exit joins them anyway, so nothing hangs.

Building blocks, also for a whole training step split by batch (an experiment can
run embedding + recurrent layer + output layer + loss per chunk in one dispatch,
which overlaps more work than wrapping the recurrent layer alone):
``ChunkRunner(workers).map(fn, B)`` -> ``[fn(k, slice_k)]`` run concurrently;
``split_state`` / ``join_state`` for state structures; ``sum_grads`` for gradient
dicts; ``chunk_rngs`` for reproducible per-chunk generators.
"""
from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.nn.validate import check_positive_int


# -- state structures (ndarray, None, or nested tuples / lists of them) ------------------------


def split_state(state: Any, slices: Sequence[slice]) -> list:
    """One state structure per chunk, arrays sliced along their batch axis (axis 0)."""
    if state is None:
        return [None] * len(slices)
    if isinstance(state, np.ndarray):
        return [state[s] for s in slices]
    if isinstance(state, (list, tuple)):
        parts = [split_state(s, slices) for s in state]  # [entry][chunk]
        return [type(state)(p[k] for p in parts) for k in range(len(slices))]
    return [state] * len(slices)  # anything else: passed unchanged (the layer validates it)


def join_state(parts: Sequence[Any]) -> Any:
    """Inverse of :func:`split_state`: arrays concatenated along axis 0."""
    first = parts[0]
    if first is None or len(parts) == 1:
        return first
    if isinstance(first, np.ndarray):
        return np.concatenate(parts, axis=0)
    if isinstance(first, (list, tuple)):
        return type(first)(join_state([p[i] for p in parts]) for i in range(len(first)))
    return first


def sum_grads(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-name sum of the chunks' gradient dicts (new arrays, the key order of the first)."""
    if len(parts) == 1:
        return dict(parts[0])
    out = {}
    for name, g in parts[0].items():
        total = g + parts[1][name]
        for p in parts[2:]:
            total += p[name]
        out[name] = total
    return out


class ChunkRunner:
    """Runs a function on ``workers`` contiguous slices of a batch concurrently.

    ``runner.map(fn, B)`` -> ``[fn(k, slice_k) for each chunk k]``: chunk 0 runs in the
    calling thread, the others in a ``ThreadPoolExecutor`` of ``workers - 1`` threads
    created on first use. Batches smaller than ``2 * workers`` (and ``workers == 1``) are
    one chunk, run in the calling thread (no pool). ``close()`` ends the threads (also on
    ``with`` exit and when the runner is garbage-collected).
    """

    def __init__(self, workers: int = 2):
        self.workers = check_positive_int("workers", workers)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ChunkRunner(workers={self.workers})"

    def slices(self, batch: int) -> list[slice]:
        """The contiguous chunks of ``range(batch)`` (sizes differ by at most one)."""
        n = 1 if batch < 2 * self.workers else self.workers
        edges = [batch * k // n for k in range(n + 1)]
        return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]

    def map(self, fn: Callable[[int, slice], Any], batch: int | Sequence[slice]) -> list:
        """[fn(k, s_k)] over the chunks of ``batch`` (an int, or the slices themselves)."""
        slices = self.slices(batch) if isinstance(batch, (int, np.integer)) else list(batch)
        if len(slices) == 1:
            return [fn(0, slices[0])]
        pool = self._executor()
        futures = [pool.submit(fn, k, s) for k, s in enumerate(slices) if k > 0]
        try:
            first = fn(0, slices[0])
        finally:
            wait(futures)  # never return (or raise) while a chunk still runs
        return [first] + [f.result() for f in futures]

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="rnnlab-batch")
                weakref.finalize(self, pool.shutdown, wait=False)  # dropping the runner ends the threads
                self._pool = pool
            return self._pool

    def close(self) -> None:
        """Shut the worker threads down (waits for them). The runner still works afterwards
        (a new pool is created on the next parallel call)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> "ChunkRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getstate__(self) -> dict:  # copy / pickle without the thread pool and the lock
        return {"workers": self.workers}

    def __setstate__(self, d: dict) -> None:
        self.__init__(d["workers"])


def chunk_rngs(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` independent generators seeded from ``rng`` (drawn in the calling thread, so a run
    is reproduced from its seed; one Generator shared by threads would be drawn in any order)."""
    return [np.random.default_rng(int(s)) for s in rng.integers(0, 2 ** 63 - 1, size=n)]


class BatchParallel:
    """A recurrent layer whose forward and backward run on ``workers`` batch chunks in parallel.

    layer: any recurrent layer of ``core.nn`` (or ``make_recurrent``'s result).
    workers: number of chunks / threads (1 = plain calls, no threads).
    """

    def __init__(self, layer: Any, workers: int = 2):
        if isinstance(layer, BatchParallel):
            layer = layer.layer
        if not all(hasattr(layer, a) for a in ("forward", "backward", "trace", "params")):
            raise ValueError(f"layer must be a recurrent layer of core.nn (forward/backward/trace/params), "
                             f"got {type(layer).__name__}")
        self.layer = layer
        self.workers = check_positive_int("workers", workers)
        self.params = layer.params  # the SAME dict: optimizers update the wrapped layer's arrays
        for name in ("cell", "activation", "dtype", "input_size", "hidden_size", "output_size", "num_layers"):
            setattr(self, name, getattr(layer, name))
        self.runner = ChunkRunner(self.workers)

    def __repr__(self) -> str:
        return f"BatchParallel({self.layer!r}, workers={self.workers})"

    def close(self) -> None:
        """End the worker threads (the wrapper stays usable: they restart on the next call)."""
        self.runner.close()

    def __enter__(self) -> "BatchParallel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the recurrent contract ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: Any = None, rng: np.random.Generator | None = None,
                train: bool = True) -> tuple[np.ndarray, Any, dict]:
        """x (T, B, D) or ids (T, B), h0 (state structure or None) -> (y (T, B, H), h_last, cache)."""
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            return self.layer.forward(x, h0, rng=rng, train=train)  # the layer raises its own error
        slices = self.runner.slices(x.shape[1])
        if len(slices) == 1:
            y, h, c = self.layer.forward(x, h0, rng=rng, train=train)
            return y, h, {"slices": slices, "caches": [c]}
        h0s = split_state(h0, slices)
        rngs = [rng] * len(slices)
        if train and rng is not None and getattr(self.layer, "dropout", 0.0) > 0.0:
            if not isinstance(rng, np.random.Generator):
                raise ValueError(f"rng must be a np.random.Generator or None, got {type(rng).__name__}")
            rngs = chunk_rngs(rng, len(slices))

        def run(k: int, s: slice):
            return self.layer.forward(x[:, s], h0s[k], rng=rngs[k], train=train)

        out = self.runner.map(run, slices)
        y = np.concatenate([o[0] for o in out], axis=1)  # (T, B, H)
        h_last = join_state([o[1] for o in out])
        return y, h_last, {"slices": slices, "caches": [o[2] for o in out]}

    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: Any = None,
                 need_dx: bool = True) -> tuple[np.ndarray | None, Any, dict, np.ndarray]:
        """dy (T, B, H) or None, dh_last (state structure or None) ->
        (dx (T, B, D) or None, dh0, grads (summed over the chunks), dh_norms (L, T))."""
        slices, caches = cache["slices"], cache["caches"]
        if len(slices) == 1:
            return self.layer.backward(dy, caches[0], dh_last, need_dx=need_dx)
        B = slices[-1].stop
        if dy is not None and (not isinstance(dy, np.ndarray) or dy.ndim != 3 or dy.shape[1] != B):
            raise ValueError(f"dy must be an array (T, {B}, {self.output_size}) or None, "
                             f"got {getattr(dy, 'shape', type(dy).__name__)}")
        dls = split_state(dh_last, slices)

        def run(k: int, s: slice):
            return self.layer.backward(None if dy is None else dy[:, s], caches[k], dls[k], need_dx=need_dx)

        out = self.runner.map(run, slices)
        dxs = [o[0] for o in out]
        dx = None if any(d is None for d in dxs) else np.concatenate(dxs, axis=1)  # (T, B, D)
        dh0 = join_state([o[1] for o in out])
        grads = sum_grads([o[2] for o in out])
        sq = sum(np.square(o[3]) for o in out)  # (L, T) squared norms add over disjoint chunks
        return dx, dh0, grads, np.sqrt(sq)

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """The wrapped layer's trace with every (T, b, H) array joined along the batch axis."""
        traces = [self.layer.trace(c) for c in cache["caches"]]
        if len(traces) == 1:
            return traces[0]
        return [{k: np.concatenate([t[i][k] for t in traces], axis=1) for k in traces[0][i]}
                for i in range(len(traces[0]))]

    # -- delegated -------------------------------------------------------------------------------------
    def zero_state(self, batch: int) -> Any:
        return self.layer.zero_state(batch)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.layer.state_dict()

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.layer.load_state_dict(state)

    @property
    def num_params(self) -> int:
        return self.layer.num_params

    def to_torch(self) -> dict[str, np.ndarray]:
        return self.layer.to_torch()

    def from_torch(self, d: Mapping[str, Any], *args: Any) -> None:
        self.layer.from_torch(d, *args)
