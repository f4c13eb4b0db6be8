"""The seed's feed-forward network (Nielsen's ``network.py``), batched.

``MLP([64, 30, 10], rng)`` is Dense(64, 30) -> sigmoid -> Dense(30, 10) -> sigmoid.
Parameters are dotted: ``"0.W"`` (64, 30), ``"0.b"`` (30,), ``"1.W"``, ``"1.b"``.
Weights are stored (in, out) — the transpose of the seed's (out, in).

Initialization (``init``): ``"seed"`` (default) draws weights and biases from
N(0, 1) like network.py; ``"scaled"`` uses N(0, 1/fan_in) weights (network2.py's
better default, which keeps sigmoids out of saturation); any scheme of
:func:`core.nn.dense.init_weights` is accepted.

With the seed's quadratic cost, ``loss, da = core.losses.quadratic_cost(a, y)``
and ``backward(da, cache)`` gives exactly the seed's ``backprop`` gradients,
averaged over the batch (the seed divides by the mini-batch size in its update).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from core.nn import module
from core.nn.dense import ACTIVATIONS, Dense, activation_backward
from core.nn.module import ParamLayer
from core.nn.validate import check_dtype, check_rng
from core.nn.validate import check_choice, check_float_array, check_positive_int


class MLP(ParamLayer):
    """sizes[0] inputs -> hidden layers with ``activation`` -> sizes[-1] outputs with ``output``.

    ``output``: "sigmoid" (the seed), "linear" (logits, for softmax_cross_entropy /
    bce_with_sigmoid) or "softmax".
    forward(x (B, in)) -> (a_out (B, out), cache)
    backward(d_out (B, out), cache) -> (dx (B, in), grads)   where d_out = dL/da_out.
    The cache is a dict: ``"a"``: [x, a1, ..., a_out] (activations per layer, the
    probe's trace), ``"z"``: pre-activations per layer, ``"dense"``: Dense caches.
    """

    def __init__(self, sizes: Sequence[int] = (64, 30, 10), rng: np.random.Generator | None = None,
                 activation: str = "sigmoid", dtype: Any = np.float32, init: str = "seed",
                 output: str = "sigmoid"):
        sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else sizes
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer sizes (inputs, outputs), got {sizes!r}")
        self.sizes = [check_positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        self.activation = check_choice("activation", activation, ("sigmoid", "tanh", "relu", "linear"))
        self.output = check_choice("output", output, ("sigmoid", "linear", "softmax"))
        self.dtype = check_dtype(dtype)
        check_rng(rng)
        self.layers = [Dense(i, o, rng, self.dtype, init=init) for i, o in zip(self.sizes[:-1], self.sizes[1:])]
        self.params: dict[str, np.ndarray] = {}
        for n, layer in enumerate(self.layers):
            self.params.update(module.prefixed(str(n), layer.params))

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, activation={self.activation!r}, output={self.output!r})"

    def _act(self, n: int) -> str:
        return self.output if n == len(self.layers) - 1 else self.activation

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, dict[str, list]]:
        """x (B, in) -> (a_out (B, out), cache)."""
        check_float_array("x", x, ndim=2, shape=(None, self.sizes[0]))
        a, zs, dcaches = [x], [], []
        for n, layer in enumerate(self.layers):
            z, dc = layer.forward(a[-1])  # (B, out_n)
            a.append(ACTIVATIONS[self._act(n)][0](z))
            zs.append(z)
            dcaches.append(dc)
        return a[-1], {"a": a, "z": zs, "dense": dcaches}

    def backward(self, d_out: np.ndarray, cache: dict[str, list]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """d_out = dL/da_out (B, out) -> (dx (B, in), grads with the keys of params)."""
        a, zs = cache["a"], cache["z"]
        check_float_array("d_out", d_out, shape=a[-1].shape)
        grads: dict[str, np.ndarray] = {}
        d = d_out
        for n in range(len(self.layers) - 1, -1, -1):
            dz = activation_backward(self._act(n), d, zs[n], a[n + 1])  # (B, out_n)
            d, g = self.layers[n].backward(dz, cache["dense"][n])
            grads.update(module.prefixed(str(n), g))
        return d, {k: grads[k] for k in self.params}

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Index of the largest output per row (B,)."""
        return np.argmax(self.forward(x)[0], axis=-1)
