"""Drawing tokens from logits: temperature, top-k, and a shared sequence loop.

Temperature T divides the logits: T < 1 sharpens, T > 1 flattens. T must be a
finite number > 0. Below ``GREEDY_TEMPERATURE`` (1e-6) sampling is greedy: the
argmax (first one on ties) is returned exactly, with no random draw.

Draws use inverse-CDF sampling with one ``rng.random()`` per draw, so
``sample_index(l, T, rng)`` and ``sample_indices(l[None], T, rng)[0]`` agree for
the same generator state, and an index of probability 0 (e.g. outside the top
k) is never returned.

The language models' live samples take a faster path with the same results:
``make_stepper`` (a recurrent model one timestep at a time, weights prepared
once) and ``RowSampler`` (the draw of ``sample_indices`` into reused buffers).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

GREEDY_TEMPERATURE = 1e-6


def check_temperature(temperature: Any) -> float:
    """``temperature`` as a float, or ValueError naming the value (0, negative, NaN, inf, non-numbers)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return t


def _check_top_k(top_k: Any) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k <= 0:
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    return int(top_k)


def _check_logits(logits: Any) -> np.ndarray:
    x = np.asarray(logits)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == bool:
        raise ValueError(f"logits must be a real array, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("logits contain NaN or inf values")
    return x.astype(np.float64, copy=False)


def _masked_top_k(x: np.ndarray, top_k: int | None) -> np.ndarray:
    """Logits (..., V) with all but the k largest per row set to -inf (exactly k kept)."""
    V = x.shape[-1]
    if top_k is None or top_k >= V:
        return x
    keep = np.argpartition(x, V - top_k, axis=-1)[..., V - top_k:]  # (..., k)
    out = np.full_like(x, -np.inf)
    np.put_along_axis(out, keep, np.take_along_axis(x, keep, axis=-1), axis=-1)
    return out


def _probs(x: np.ndarray, t: float) -> np.ndarray:
    """softmax(x / t) along the last axis; x float64, may hold -inf from top-k (its max is finite)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = (x - x.max(axis=-1, keepdims=True)) / t
        p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return p


def _greedy(x: np.ndarray) -> np.ndarray:
    p = np.zeros_like(x)
    np.put_along_axis(p, np.argmax(x, axis=-1)[..., None], 1.0, axis=-1)
    return p


def softmax_with_temperature(logits: Any, temperature: float, top_k: int | None = None) -> np.ndarray:
    """logits (..., V) -> probabilities (..., V), float64, summing to 1 along the last axis.

    Below GREEDY_TEMPERATURE the result is one-hot at the argmax. ``top_k``
    keeps only the k largest logits per row (others get probability 0).
    """
    t = check_temperature(temperature)
    x = _masked_top_k(_check_logits(logits), _check_top_k(top_k))
    if t < GREEDY_TEMPERATURE:
        return _greedy(x)
    return _probs(x, t)


def sample_indices(logits: Any, temperature: float, rng: np.random.Generator,
                   top_k: int | None = None) -> np.ndarray:
    """One draw per row: logits (B, V) (or (..., V)) -> indices (B,) (or (...)) int64."""
    t = check_temperature(temperature)
    x = _check_logits(logits)
    k = _check_top_k(top_k)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if t < GREEDY_TEMPERATURE:
        return np.argmax(x, axis=-1)
    p = _probs(_masked_top_k(x, k), t)  # (..., V)
    cdf = np.cumsum(p, axis=-1)  # (..., V)
    u = rng.random(x.shape[:-1])[..., None] * cdf[..., -1:]  # (..., 1) in [0, total)
    idx = np.sum(cdf <= u, axis=-1)  # first index with cdf > u (searchsorted 'right')
    return np.minimum(idx, x.shape[-1] - 1)


def sample_index(logits: Any, temperature: float, rng: np.random.Generator, top_k: int | None = None) -> int:
    """One draw from softmax(logits / temperature); logits (V,). Returns a Python int.

    Same draw as ``sample_indices(logits[None], ...)[0]`` for the same ``rng`` state.
    """
    t = check_temperature(temperature)
    x = _check_logits(logits)
    k = _check_top_k(top_k)
    if x.ndim != 1:
        raise ValueError(f"logits must have shape (V,), got {x.shape} (use sample_indices for batches)")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if t < GREEDY_TEMPERATURE:
        return int(np.argmax(x))
    cdf = np.cumsum(_probs(_masked_top_k(x, k), t))  # (V,)
    u = rng.random() * cdf[-1]
    return min(int(np.searchsorted(cdf, u, side="right")), x.shape[0] - 1)


def sample_sequence(step_fn: Callable[[int, Any], tuple[np.ndarray, Any]], state: Any, first_index: int,
                    length: int, temperature: float, rng: np.random.Generator,
                    top_k: int | None = None) -> list[int]:
    """Feed ``first_index``, sample the next index, feed it back; ``length`` times.

    ``step_fn(index, state) -> (logits (V,), new_state)`` runs the model one step.
    Returns the ``length`` sampled indices (``first_index`` not included).
    """
    check_temperature(temperature)
    _check_top_k(top_k)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    out: list[int] = []
    idx = int(first_index)
    for _ in range(int(length)):
        logits, state = step_fn(idx, state)
        idx = sample_index(logits, temperature, rng, top_k)
        out.append(idx)
    return out


# -- the live samples' fast path: one timestep at a time, weights prepared once ----------------
#
# A language model's samples feed each drawn token back in, so they run the model one timestep
# at a time. The layers' general ``forward`` prepares its weights on every call (the LSTM's
# scaled, permuted, transposed copies: ~40% of a char-LSTM step) and allocates its caches; a
# stepper prepares them once per sample batch and then runs exactly the operations the layer's
# ``forward`` runs for T = 1 (same NumPy calls, same operand shapes and memory layouts), so the
# results are the same to the bit and the same tokens are drawn. The state stays in the layer's
# internal layout between steps (two slots used in turn: no copies). tests/core/test_sampling_fast.py
# checks every cell against the general path; keep the steppers in step with the layers' forward.


class _LSTMStep:
    """core.nn.lstm.LSTM.forward for T = 1 with h0 given (its feature-major layout)."""

    def __init__(self, layer: Any, state: Any, B: int):
        from core.nn.lstm import blocked_dot
        D, H, dt = layer.input_size, layer.hidden_size, layer.dtype
        Wxb, Wh_sT = layer.scaled_weights()  # (D+1, 4H), (4H, H): what forward computes on every call
        self.WxbT, self.D = Wxb.T, D
        h, c = state
        self.A = A = np.empty((2, 5 * H, B), dt)  # slot s: [i, f, o, g, c_prev] of the step reading slot s
        self.hT = hT = np.empty((2, H, B), dt)  # hT[s] = h_prev^T
        A[0, 4 * H:] = c.T
        hT[0] = h.T
        self.xg = np.empty((1, D + 1, B), dt)  # [x^T; 1]
        self.xg[:, D] = 1.0
        self.z = z = np.empty((4 * H, B), dt)
        self.prod = np.empty((2 * H, B), dt)
        self.tc = np.empty((H, B), dt)
        self.Y = np.empty((1, B, H), dt)  # y (1, B, H) C-contiguous, as forward returns it
        self.rec = blocked_dot(Wh_sT, z, B)
        self.half = np.array(0.5, dt)
        self.slots = [(A[s:s + 1, :4 * H], A[s, :4 * H], A[s, :3 * H], A[s, :2 * H], A[s, 3 * H:],
                       A[s, 2 * H:3 * H], A[1 - s, 4 * H:], hT[s], hT[1 - s]) for s in (0, 1)]
        self.s = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (1, B, D) -> y (1, B, H) (a buffer, overwritten by the next call)."""
        a3, a, sig, i_f, g_c, o_t, c_t, h_prev, h_t = self.slots[self.s]
        self.s ^= 1
        H = h_t.shape[0]
        half, prod, tc = self.half, self.prod, self.tc
        self.xg[:, :self.D] = x.transpose(0, 2, 1)
        np.matmul(self.WxbT, self.xg, out=a3)
        self.rec(h_prev)  # z = Wh_s^T @ h_prev
        np.add(a, self.z, a)
        np.tanh(a, a)
        np.multiply(sig, half, sig)
        np.add(sig, half, sig)  # [i, f, o] = sigmoid via tanh
        np.multiply(i_f, g_c, prod)  # [i * g, f * c_prev]
        np.add(prod[:H], prod[H:], c_t)
        np.tanh(c_t, tc)
        np.multiply(o_t, tc, h_t)
        np.copyto(self.Y[0], h_t.T)
        return self.Y


class _RNNStep:
    """core.nn.rnn.RNN.forward for T = 1 with h0 given (tanh, inputs wider than AUGMENT_MAX_INPUT)."""

    def __init__(self, layer: Any, state: Any, B: int):
        H, dt, p = layer.hidden_size, layer.dtype, layer.params
        self.Wx, self.Wh, self.b = p["Wxh"], p["Whh"], p["bh"]
        self.pre = np.empty((1, B, H), dt)
        self.pre2 = self.pre.reshape(B, H)
        self.hs = hs = np.empty((2, B, H), dt)
        hs[0] = state
        self.tmp = np.empty((B, H), dt)
        self.slots = [(hs[s], hs[1 - s], hs[1 - s:2 - s]) for s in (0, 1)]
        self.s = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h_prev, h_t, y = self.slots[self.s]
        self.s ^= 1
        np.matmul(x.reshape(x.shape[1], x.shape[2]), self.Wx, out=self.pre2)
        np.add(self.pre, self.b, out=self.pre)
        np.dot(h_prev, self.Wh, out=self.tmp)
        np.add(self.pre2, self.tmp, out=self.pre2)
        np.tanh(self.pre2, out=h_t)
        return y


class _GRUStep:
    """core.nn.gru.GRU.forward for T = 1 with h0 given."""

    def __init__(self, layer: Any, state: Any, B: int):
        from core.nn.gru import col_blocks
        H, dt, p = layer.hidden_size, layer.dtype, layer.params
        scale = np.ones(3 * H, dt)
        scale[:2 * H] = 0.5  # r, z pre-activations halved: sigmoid(a) = 0.5 tanh(a/2) + 0.5
        self.Wh_s = p["Whh"] * scale
        self.Wx_s = p["Wxh"] * scale
        self.b_s = p["bh"] * scale
        self.bhn = p["bhn"]
        self.xp = np.empty((1, B, 3 * H), dt)
        self.xp2 = self.xp.reshape(B, 3 * H)
        self.xn = np.empty((1, B, H), dt)
        self.hp = np.empty((B, 3 * H), dt)
        self.rz = np.empty((B, 2 * H), dt)
        self.n = np.empty((B, H), dt)
        self.hs = hs = np.empty((2, B, H), dt)
        hs[0] = state
        self.tmp = np.empty((B, H), dt)
        self.cols = col_blocks(self.Wh_s, B)
        self.half = np.array(0.5, dt)
        self.H = H
        self.slots = [(hs[s], hs[1 - s], hs[1 - s:2 - s]) for s in (0, 1)]
        self.s = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h_prev, h_t, y = self.slots[self.s]
        self.s ^= 1
        H, xp, hp, rz, n, tmp, half = self.H, self.xp, self.hp, self.rz, self.n, self.tmp, self.half
        np.matmul(x.reshape(x.shape[1], x.shape[2]), self.Wx_s, out=self.xp2)
        np.add(xp, self.b_s, out=xp)
        np.copyto(self.xn, xp[:, :, 2 * H:])
        xp[:, :, 2 * H:] = self.bhn
        if self.cols is None:
            np.dot(h_prev, self.Wh_s, out=hp)
        else:
            for c, w_c in self.cols:
                np.matmul(h_prev, w_c, out=hp[:, c])
        np.add(hp, self.xp2, out=hp)
        np.tanh(hp[:, :2 * H], out=rz)
        np.multiply(rz, half, out=rz)
        np.add(rz, half, out=rz)  # [r, z]
        np.multiply(rz[:, :H], hp[:, 2 * H:], out=n)
        np.add(n, self.xn[0], out=n)
        np.tanh(n, out=n)
        np.subtract(h_prev, n, out=tmp)
        np.multiply(tmp, rz[:, H:], out=tmp)
        np.add(n, tmp, out=h_t)
        return y


def make_stepper(model: Any, state: Any, batch: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """``f(x (1, B, D)) -> y (1, B, H)``: ``model.forward(x, state)`` one timestep at a time from
    ``state`` (what the model's forward returned as h_last), in evaluation mode, the same values
    to the bit; the returned array is a buffer overwritten by the next call. None for a model it
    does not know (another cell, a Bidirectional or BatchParallel wrapper, an RNN with the sigmoid
    or a narrow input): use the model's forward then."""
    from core.nn.gru import GRU
    from core.nn.lstm import LSTM
    from core.nn.rnn import AUGMENT_MAX_INPUT, RNN
    from core.nn.stack import Stacked

    def one(layer: Any, s: Any):
        if type(layer) is LSTM:
            return _LSTMStep(layer, s, batch)
        if type(layer) is GRU:
            return _GRUStep(layer, s, batch)
        if type(layer) is RNN and layer.activation == "tanh" and layer.input_size > AUGMENT_MAX_INPUT:
            return _RNNStep(layer, s, batch)
        return None

    if type(model) is Stacked:  # evaluation mode: no dropout between the layers
        steps = [one(layer, s) for layer, s in zip(model.layers, state)]
        if any(f is None for f in steps):
            return None

        def stacked(x: np.ndarray) -> np.ndarray:
            for f in steps:
                x = f(x)
            return x
        return stacked
    return one(model, state)


class RowSampler:
    """One draw per row from softmax(logits[r] / temperatures[r]) (a temperature <= 0: the argmax),
    given the row's uniform u[r] in [0, 1): the same index as ``sample_indices(logits / scale, 1.0,
    rng)`` where ``rng.random((R,))`` returned ``u`` (the same operations, into buffers made once,
    without the per-call checks). Since ``Generator.random((L, R))`` yields the same numbers as L
    calls of ``random((R,))``, a sampling loop draws all its uniforms in one call."""

    def __init__(self, temperatures: Any, vocab: int):
        temps = np.asarray(temperatures, dtype=np.float64)
        R = len(temps)
        self.greedy = np.flatnonzero(temps <= 0)
        self.scale = np.where(temps <= 0, 1.0, temps)[:, None]  # (R, 1)
        self.x = np.empty((R, vocab))
        self.cdf = np.empty((R, vocab))
        self.m = np.empty((R, 1))
        self.s = np.empty((R, 1))
        self.w = np.empty((R, 1))
        self.le = np.empty((R, vocab), dtype=bool)
        self.idx = np.empty(R, dtype=np.int64)
        self.top = vocab - 1
        self.total = np.zeros((R, 1))  # the running sum of every row's softmax denominators

    def __call__(self, logits: np.ndarray, u: np.ndarray) -> np.ndarray:
        """logits (R, V), u (R,) -> indices (R,) int64 (a buffer, overwritten by the next call)."""
        x, cdf, s = self.x, self.cdf, self.s
        np.copyto(x, logits)  # to float64
        g = self.greedy
        greedy = x[g].argmax(axis=-1) if len(g) else None
        np.divide(x, self.scale, out=x)
        np.maximum.reduce(x, axis=-1, keepdims=True, out=self.m)
        np.subtract(x, self.m, out=x)  # (sample_indices then divides by its temperature 1.0: exact)
        np.exp(x, out=x)
        np.add.reduce(x, axis=-1, keepdims=True, out=s)
        np.add(self.total, s, out=self.total)  # NaN or inf logits make it NaN or inf for good
        np.divide(x, s, out=x)
        np.add.accumulate(x, axis=-1, out=cdf)  # np.cumsum, without its Python wrapper
        np.multiply(u[:, None], cdf[:, -1:], out=self.w)
        np.less_equal(cdf, self.w, out=self.le)
        np.add.reduce(self.le, axis=-1, out=self.idx)
        np.minimum(self.idx, self.top, out=self.idx)
        if greedy is not None:
            self.idx[g] = greedy
        return self.idx

    def check(self) -> None:
        """ValueError if any call so far saw NaN or +inf logits (sample_indices raises at once; checking
        once at the end costs less; -inf among finite logits, which it also refuses, is not detected)."""
        if not np.isfinite(self.total).all():
            raise ValueError("logits contain NaN or inf values")
