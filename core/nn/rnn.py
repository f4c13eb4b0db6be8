"""Vanilla (Elman) recurrent layer, and the plumbing shared by RNN, LSTM and GRU.

    pre_t = x_t @ Wxh + h_{t-1} @ Whh + bh        # (B, H)   row-vector convention
    h_t   = act(pre_t)                             # act in {"tanh", "sigmoid"}

The row-vector convention (``h @ Whh``, not ``Whh @ h``) is the one that
reproduces the seed's worked example (tests/core/test_worked_example.py).
``to_torch()`` transposes into ``torch.nn.RNN`` names (``weight_hh_l0 = Whh.T``).

Speed (see tests/benchmarks/bench_engine.py): the input projection of all
timesteps is one matmul; the Python loop only does ``h @ Whh``, one add and one
``tanh`` per step, written into preallocated buffers. The sigmoid cell runs the
same three calls in "u-space": with u = 2h - 1 = tanh(pre / 2) the recurrence is
``pre/2 = x @ (Wxh/2) + u @ (Whh/4) + (bh/2 + colsum(Whh)/4)``; h and pre are
recovered with one vectorised affine map after the loop. Backward keeps only
``dpre_t = dh_t * act'`` and ``dpre_t @ Whh.T`` in the loop; dWxh, dWhh and dbh
are one matmul / sum each over all T * B rows.

Shared by RNN, LSTM and GRU (extensions of the ``core.nn`` contract):

* ``x`` may also be integer ids (T, B) in [0, input_size): the same as one-hot
  input, computed as a row gather (no (T*B, V) @ (V, G*H) product); dx is then None.
* ``backward(..., need_dx=False)`` skips dx (returns None) for a bottom layer.
* ``forward(x, h0, rng=None, train=True)``: rng/train accepted (and ignored) so a
  single layer and ``Stacked`` are called the same way.
* Importing this module calls :func:`tune_malloc` (glibc: keep freed buffers in the
  heap instead of unmapping them after every step).
"""
from __future__ import annotations

import ctypes
import sys
import weakref
from typing import Any, Mapping

import numpy as np

from core.nn.cells import CellSpec, StateSpec, register_cell
from core.nn.module import ParamLayer
from core.nn.validate import (check_choice, check_dtype, check_float_array, check_int_array,
                               check_positive_int, check_rng)

ACTIVATIONS = ("tanh", "sigmoid")
AUGMENT_MAX_INPUT = 8  # dense inputs this narrow take the augmented path (RNN._forward_augmented)
AUGMENT_WIDE_BATCH = 128  # from this batch size on, the augmented loop keeps the tanh output contiguous
_WORKSPACES: "weakref.WeakKeyDictionary[RNN, dict]" = weakref.WeakKeyDictionary()  # RNN.forward(reuse=True)


def tune_malloc(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Keep freed memory in the process (glibc only; a no-op elsewhere). Returns True if applied.

    A training step allocates and frees buffers of 0.1-10 MB. With glibc's defaults,
    blocks above ~128 KB are mmap'ed and unmapped on every call, so each step pays
    fresh page faults (measured: LSTM T=10, B=32, H=30 backward 620 -> 400 us,
    forward 245 -> 190 us). Raising the mmap and trim thresholds lets the heap reuse
    the memory instead. Called once when this module is imported.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


_MALLOC_TUNED = tune_malloc()


# -- shared plumbing ---------------------------------------------------------------


def as_numpy(a: Any) -> np.ndarray:
    """A NumPy array from an ndarray, list or (CPU) torch tensor, without importing torch."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


class RecurrentLayer(ParamLayer):
    """Base for one recurrent layer: validation, state dicts, torch-name helpers.

    Subclasses set ``cell``, ``gates`` (number of gate blocks in ``Wx``) and
    implement ``forward``, ``backward``, ``trace``.
    """

    cell = "?"
    activation = "tanh"
    state_is_tuple = False  # LSTM: (h, c)

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator, dtype: Any):
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.output_size = self.hidden_size
        self.num_layers = 1
        self.dtype = check_dtype(dtype)
        check_rng(rng)  # used only by the subclass to draw the initial weights (not kept)
        self.params: dict[str, np.ndarray] = {}

    def _uniform(self, rng: np.random.Generator, *shape: int) -> np.ndarray:
        k = 1.0 / np.sqrt(self.hidden_size)  # PyTorch: U(-1/sqrt(H), 1/sqrt(H))
        return rng.uniform(-k, k, size=shape).astype(self.dtype)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}"
                f"{', ' + repr(self.activation) if self.cell == 'rnn' else ''}, dtype={self.dtype.name})")

    def zero_state(self, batch: int) -> Any:
        """The all-zero state for ``batch`` sequences ((B, H), or (h, c) for the LSTM)."""
        z = np.zeros((check_positive_int("batch", batch), self.hidden_size), self.dtype)
        return (z, z.copy()) if self.state_is_tuple else z

    # -- validation ---------------------------------------------------------------
    def _check_x(self, x: Any) -> np.ndarray:
        """x: floats (T, B, D), or integer ids (T, B) in [0, D) meaning one-hot inputs."""
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer):
            if x.ndim != 2:
                raise ValueError(f"x must be a floating-point array (T, B, {self.input_size}) or integer ids (T, B) "
                                 f"in [0, {self.input_size}), got dtype {x.dtype} with shape {x.shape}")
            check_int_array("x", x, high=self.input_size)
        else:
            x = check_float_array("x", x, ndim=3, shape=(None, None, self.input_size))
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x must have at least one timestep and one sequence (T, B, {self.input_size}), "
                             f"got shape {x.shape}")
        return x if x.ndim == 2 else x.astype(self.dtype, copy=False)

    # -- input projection: one matmul for all timesteps (a row gather for ids) -----------
    @staticmethod
    def _project(x: np.ndarray, W: np.ndarray) -> np.ndarray:
        """x (T, B, D) or ids (T, B), W (D, K) -> a new (T, B, K) array x @ W."""
        if x.ndim == 2:
            return np.take(W, x, axis=0)  # one_hot(x) @ W without the zeros
        T, B, D = x.shape
        return np.matmul(x.reshape(T * B, D), W).reshape(T, B, W.shape[1])

    def _grad_w_in(self, x: np.ndarray, dg: np.ndarray) -> np.ndarray:
        """dL/dW for the input weights: x (T, B, D) or ids, dg (T*B, K) -> (D, K)."""
        if x.ndim == 2:  # one_hot(x).T @ dg (measured faster than sort + np.add.reduceat)
            n = x.size
            one_hot = np.zeros((n, self.input_size), self.dtype)  # (T*B, D)
            one_hot[np.arange(n), x.ravel()] = 1.0
            return one_hot.T @ dg
        T, B, D = x.shape
        return x.reshape(T * B, D).T @ dg

    @staticmethod
    def _grad_x(x: np.ndarray, dg: np.ndarray, W: np.ndarray, need_dx: bool) -> np.ndarray | None:
        """dL/dx (T, B, D) = dg @ W.T, or None for ids input or when not needed."""
        if not need_dx or x.ndim == 2:
            return None
        return (dg @ W.T).reshape(x.shape)

    def _check_h(self, name: str, h: Any, batch: int) -> np.ndarray | None:
        if h is None:
            return None
        h = check_float_array(name, h, ndim=2, shape=(batch, self.hidden_size))
        return h.astype(self.dtype, copy=False)

    def _check_state(self, name: str, state: Any, batch: int) -> tuple:
        """``state`` -> (h, c) tuple of arrays or Nones (c is always None without an LSTM)."""
        if state is None:
            return None, None
        if self.state_is_tuple:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ValueError(f"{name} must be a tuple (h, c) of (B, {self.hidden_size}) arrays for an LSTM, "
                                 f"got {type(state).__name__}")
            return self._check_h(f"{name}[0] (h)", state[0], batch), self._check_h(f"{name}[1] (c)", state[1], batch)
        return self._check_h(name, state, batch), None

    def _check_dy(self, dy: Any, T: int, B: int) -> np.ndarray | None:
        if dy is None:
            return None
        # shape and dtype only: a NaN gradient is caught by the caller's norm check
        dy = check_float_array("dy", dy, ndim=3, shape=(T, B, self.hidden_size), finite=False)
        return dy.astype(self.dtype, copy=False)

    # -- torch interchange ------------------------------------------------------------
    def _torch_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def to_torch(self) -> dict[str, np.ndarray]:
        """``torch.nn.RNN/LSTM/GRU`` state-dict names and shapes, as NumPy copies:
        ``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H), ``bias_ih_l0``, ``bias_hh_l0`` (G*H,)."""
        w_ih, w_hh, b_ih, b_hh = self._torch_arrays()
        return {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}

    def _torch_in(self, d: Mapping[str, Any], suffix: str = "_l0") -> tuple[np.ndarray, ...]:
        """Validated (w_ih, w_hh, b_ih, b_hh) from a torch-style dict (any extra keys are an error)."""
        G, H, D = self.gates, self.hidden_size, self.input_size
        names = [f"weight_ih{suffix}", f"weight_hh{suffix}", f"bias_ih{suffix}", f"bias_hh{suffix}"]
        shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
        missing = [n for n in names if n not in d]
        extra = sorted(set(d) - set(names))
        if missing or extra:
            raise ValueError(f"torch state dict for {type(self).__name__}: missing {missing}, unexpected {extra} "
                             f"(expected exactly {names})")
        out = []
        for n, s in zip(names, shapes):
            a = as_numpy(d[n])
            if a.shape != s:
                raise ValueError(f"torch state dict: {n} has shape {a.shape}, expected {s}")
            out.append(a.astype(self.dtype))
        return tuple(out)


# -- RNN -------------------------------------------------------------------------------


class RNN(RecurrentLayer):
    """Elman RNN, ``h_t = act(x_t @ Wxh + h_{t-1} @ Whh + bh)``.

    Params: ``Wxh`` (D, H), ``Whh`` (H, H), ``bh`` (H,), initialised like
    ``torch.nn.RNN`` (U(+-1/sqrt(H)); bh is the sum of torch's two biases).
    State: an ndarray (B, H). ``activation``: "tanh" (min-char-rnn) or
    "sigmoid" (binary-addition tutorial).
    """

    cell = "rnn"
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator,
                 activation: str = "tanh", dtype: Any = np.float32):
        super().__init__(input_size, hidden_size, rng, dtype)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        D, H = self.input_size, self.hidden_size
        self.params = {"Wxh": self._uniform(rng, D, H), "Whh": self._uniform(rng, H, H),
                       "bh": self._uniform(rng, H) + self._uniform(rng, H)}

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: np.ndarray | None = None, rng: Any = None,
                train: bool = True, check: bool = True, reuse: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
        """x (T, B, D) (or int ids (T, B): one-hot input), h0 (B, H) or None -> (y (T, B, H), h_last (B, H), cache).

        ``rng``/``train`` are accepted for interface symmetry with Stacked and ignored.
        ``y`` is a view into the cache: do not modify it in place.
        For a training loop: ``check=False`` skips the argument checks (inputs correct by
        construction: an experiment's own batches, x of the layer's dtype). ``reuse=True`` (narrow
        dense inputs) computes in buffers this layer keeps for the shape: the outputs and the cache
        stay valid only until the next ``reuse=True`` call (one training loop per layer; not for
        anything kept or drawn). What ``backward`` returns is always fresh.
        """
        if check:
            x = self._check_x(x)
            h0, _ = self._check_state("h0", h0, x.shape[1])
        if x.ndim == 3 and x.shape[2] <= AUGMENT_MAX_INPUT:
            return self._forward_augmented(x, h0, reuse)
        T, B = x.shape[:2]
        H = self.hidden_size
        p = self.params
        Wx, Wh, b = p["Wxh"], p["Whh"], p["bh"]
        sig = self.activation == "sigmoid"

        pre = self._project(x, Wx)  # (T, B, H) input projection, all timesteps at once
        hs = np.empty((T + 1, B, H), self.dtype)  # (T+1, B, H); hs[0] = h0
        if sig:  # u-space: u = 2h - 1 = tanh(pre / 2)
            pre *= 0.5
            pre += 0.5 * b + 0.25 * Wh.sum(axis=0)
            Wr = Wh * 0.25
            if h0 is None:
                hs[0] = -1.0
            else:
                np.multiply(h0, 2.0, out=hs[0])
                hs[0] -= 1.0
        else:
            pre += b
            Wr = Wh
            if h0 is None:
                hs[0] = 0.0
            else:
                hs[0] = h0
        tmp = np.empty((B, H), self.dtype)
        dot, add, tanh = np.dot, np.add, np.tanh  # np.dot: less call overhead than matmul
        for h_prev, pre_t, h_t in zip(hs[:-1], pre, hs[1:]):
            dot(h_prev, Wr, out=tmp)  # (B, H)
            add(pre_t, tmp, out=pre_t)
            tanh(pre_t, out=h_t)
        if sig:
            pre *= 2.0
            hs *= 0.5
            hs += 0.5
        cache = {"x": x, "h": hs, "pre": pre}
        return hs[1:], hs[-1].copy(), cache

    def _forward_augmented(self, x: np.ndarray, h0: np.ndarray | None,
                           reuse: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
        """Small dense inputs (D <= AUGMENT_MAX_INPUT): each step is ONE product of the row
        ``z_t = [h_{t-1}, x_t, 1]`` (K = H + D + 1 columns) with ``[Whh; Wxh; bh]`` (K, H), then
        the nonlinearity: two NumPy calls per timestep, and the weight gradients are one
        product ``Z^T @ dpre`` in backward. The sigmoid runs in u-space (module doc)."""
        T, B, D = x.shape
        H = self.hidden_size
        K = H + D + 1
        p = self.params
        Wx, Wh, b = p["Wxh"], p["Whh"], p["bh"]
        sig = self.activation == "sigmoid"
        ws = self._workspace(T, B, D) if reuse else None
        if ws is None:
            Z = np.empty((T + 1, B, K), self.dtype)  # rows z_t; Z[T] only holds h_T
            Z[:T, :, K - 1] = 1.0
            Z[T, :, H:] = 0.0
            W = np.empty((K, H), self.dtype)
            pre = np.empty((T, B, H), self.dtype)
            hs = np.empty((T + 1, B, H), self.dtype)  # contiguous h (the layer's output)
            steps = zip(Z[:-1], pre, Z[1:, :, :H])
        else:
            Z, W, pre, hs, steps = ws["z"], ws["w"], ws["pre"], ws["h"], ws["fsteps"]
        Z[:T, :, H:H + D] = x
        if sig:  # pre / 2 = u_{t-1} @ Whh/4 + x_t @ Wxh/2 + (bh/2 + colsum(Whh)/4)
            np.multiply(Wh, 0.25, out=W[:H])
            np.multiply(Wx, 0.5, out=W[H:K - 1])
            np.add(W[:H].sum(axis=0), 0.5 * b, out=W[K - 1])
            if h0 is None:
                Z[0, :, :H] = -1.0
            else:
                np.multiply(h0, 2.0, out=Z[0, :, :H])
                Z[0, :, :H] -= 1.0
        else:
            W[:H] = Wh
            W[H:K - 1] = Wx
            W[K - 1] = b
            Z[0, :, :H] = 0.0 if h0 is None else h0
        dot, tanh = np.dot, np.tanh
        Zh = Z[:, :, :H]
        if B < AUGMENT_WIDE_BATCH:  # small batches: the nonlinearity writes into Z's rows directly
            for z_t, pre_t, h_t in steps:
                dot(z_t, W, out=pre_t)  # (B, H)
                tanh(pre_t, out=h_t)
            if sig:  # back from u-space: h = (u + 1) / 2, pre = 2 (pre / 2), in Z too (backward's Z^T @ dpre)
                pre *= 2.0
                Zh *= 0.5
                Zh += 0.5
            hs[...] = Zh
        else:  # wide batches: the nonlinearity into contiguous memory (vectorised), then a copy into Z
            hs[0] = Z[0, :, :H]
            for t in range(T):
                dot(Z[t], W, out=pre[t])
                tanh(pre[t], out=hs[t + 1])
                Z[t + 1, :, :H] = hs[t + 1]
            if sig:
                pre *= 2.0
                hs *= 0.5
                hs += 0.5
                Zh[...] = hs
        cache = {"x": x, "h": hs, "pre": pre, "z": Z, "ws": ws}
        return hs[1:], (hs[-1] if ws is not None else hs[-1].copy()), cache

    def _workspace(self, T: int, B: int, D: int) -> dict:
        """This layer's buffers for ``reuse=True`` at shape (T, B, D), with the per-timestep views
        of both loops made once (kept in a weak map: a copied layer builds its own)."""
        ws = _WORKSPACES.get(self)
        if ws is not None and ws["key"] == (T, B, D, self.dtype):
            return ws
        H, dt = self.hidden_size, self.dtype
        K = H + D + 1
        Z = np.empty((T + 1, B, K), dt)
        Z[:T, :, K - 1] = 1.0
        Z[T, :, H:] = 0.0
        pre = np.empty((T, B, H), dt)
        dh, dact, dpre = (np.empty((T, B, H), dt) for _ in range(3))
        ws = {"key": (T, B, D, self.dtype), "z": Z, "w": np.empty((K, H), dt), "pre": pre,
              "h": np.empty((T + 1, B, H), dt), "fsteps": list(zip(Z[:-1], pre, Z[1:, :, :H])),
              "dh": dh, "dact": dact, "dpre": dpre, "tmp": np.empty((B, H), dt),
              "bsteps": list(zip(dh[:0:-1], dact[:0:-1], dpre[:0:-1], dh[-2::-1]))}
        _WORKSPACES[self] = ws
        return ws

    # -- backward -------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: np.ndarray | None = None,
                 need_dx: bool = True, check: bool = True, overwrite_dy: bool = False,
                 need_norms: bool = True) -> tuple[np.ndarray | None, np.ndarray, dict, np.ndarray | None]:
        """dy (T, B, H) or None, dh_last (B, H) or None ->
        (dx (T, B, D) (None if ``need_dx`` is False or x was ids), dh0 (B, H), grads, dh_norms (1, T)).

        For a hot loop: ``check=False`` skips the argument checks (dy a (T, B, H) array of the
        layer's dtype); ``overwrite_dy=True`` lets backward use dy's memory (dy is garbage
        afterwards); ``need_norms=False`` returns None for dh_norms (not computed).
        """
        x, hs = cache["x"], cache["h"]
        T, B = x.shape[:2]
        H = self.hidden_size
        if check:
            dy = self._check_dy(dy, T, B)
            dh_last, _ = self._check_state("dh_last", dh_last, B)
        p = self.params
        Wx, Wh = p["Wxh"], p["Whh"]
        WhT = np.ascontiguousarray(Wh.T)  # (H, H)

        h = hs[1:]  # (T, B, H)
        ws = cache.get("ws")
        if ws is None:
            dact = np.empty((T, B, H), self.dtype)  # (T, B, H) d h_t / d pre_t
            if dy is None:
                dh = np.zeros((T, B, H), self.dtype)
            else:
                dh = dy if overwrite_dy and dy.flags.c_contiguous else dy.copy()  # (T, B, H) total dL/dh_t
            dpre = np.empty((T, B, H), self.dtype)  # (T, B, H)
            tmp = np.empty((B, H), self.dtype)
            steps = zip(dh[:0:-1], dact[:0:-1], dpre[:0:-1], dh[-2::-1])  # t = T-1 .. 1, with dh[t-1]
        else:  # the forward's workspace (reuse=True): buffers and loop views made once
            dact, dh, dpre, tmp, steps = ws["dact"], ws["dh"], ws["dpre"], ws["tmp"], ws["bsteps"]
            if dy is None:
                dh.fill(0.0)
            else:
                np.copyto(dh, dy)
        if self.activation == "tanh":
            np.multiply(h, h, out=dact)
            np.subtract(1.0, dact, out=dact)
        else:
            np.subtract(1.0, h, out=dact)
            dact *= h
        if dh_last is not None:
            dh[-1] += dh_last
        dot, add, multiply = np.dot, np.add, np.multiply
        if dy is None:
            for dh_t, da_t, dp_t, dh_prev in steps:
                multiply(dh_t, da_t, out=dp_t)
                dot(dp_t, WhT, out=dh_prev)
        else:
            for dh_t, da_t, dp_t, dh_prev in steps:
                multiply(dh_t, da_t, out=dp_t)
                dot(dp_t, WhT, out=tmp)
                add(dh_prev, tmp, out=dh_prev)
        multiply(dh[0], dact[0], out=dpre[0])
        dh0 = dpre[0] @ WhT  # (B, H)

        dp2 = dpre.reshape(T * B, H)  # (T*B, H)
        Z = cache.get("z")
        if Z is not None:  # one product for all three: Z^T @ dpre = [dWhh; dWxh; dbh]
            D = x.shape[2]
            dW = Z[:-1].reshape(T * B, H + D + 1).T @ dp2  # (K, H)
            grads = {"Wxh": dW[H:H + D], "Whh": dW[:H], "bh": dW[H + D]}
        else:
            grads = {"Wxh": self._grad_w_in(x, dp2),
                     "Whh": hs[:-1].reshape(T * B, H).T @ dp2,
                     "bh": dp2.sum(axis=0)}
        dx = self._grad_x(x, dp2, Wx, need_dx)
        dh_norms = np.sqrt(np.einsum("tbh,tbh->t", dh, dh))[None, :] if need_norms else None  # (1, T)
        return dx, dh0, grads, dh_norms

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[{"h": (T, B, H), "pre": (T, B, H)}] (views into the cache)."""
        return [{"h": cache["h"][1:], "pre": cache["pre"]}]

    # -- torch interchange -------------------------------------------------------------------
    def _torch_arrays(self):
        p = self.params
        return (p["Wxh"].T.copy(), p["Whh"].T.copy(), p["bh"].copy(), np.zeros_like(p["bh"]))

    def from_torch(self, d: Mapping[str, Any], suffix: str = "_l0") -> None:
        """Load ``torch.nn.RNN`` weights (``weight_ih_l0`` (H, D), ...); bh = bias_ih + bias_hh."""
        w_ih, w_hh, b_ih, b_hh = self._torch_in(d, suffix)
        p = self.params
        p["Wxh"][...] = w_ih.T
        p["Whh"][...] = w_hh.T
        p["bh"][...] = b_ih + b_hh


SPEC = register_cell(CellSpec(
    "rnn", "RNN (Elman)", RNN,
    (StateSpec("h", "hidden state h", follows_activation=True),  # tanh -1..1, sigmoid 0..1
     StateSpec("pre", "pre-activation")),
    activations=ACTIVATIONS))
