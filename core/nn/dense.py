"""Fully connected layer and the element-wise activations.

Activations live here (one place for every layer): each forward function has a
``*_backward`` helper taking the upstream gradient and what the forward saw.

    y = sigmoid(x)   dx = sigmoid_backward(dy, y)     (uses the output)
    y = tanh(x)      dx = tanh_backward(dy, y)        (uses the output)
    y = relu(x)      dx = relu_backward(dy, x)        (uses the input)
    y = softmax(x)   dx = softmax_backward(dy, y)     (last axis, uses the output)

``ACTIVATIONS`` maps a name to ``(forward, backward, backward_uses)`` where
``backward_uses`` is ``"y"`` or ``"x"``; use :func:`activation_backward` to
dispatch without caring which.

``Dense(in_features, out_features, rng)`` computes ``y = x @ W + b`` with
``W`` (in, out) and ``b`` (out,), for any leading shape ``(..., in)``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from core.nn.module import ParamLayer
from core.nn.validate import check_choice, check_dtype, check_float_array, check_positive_int, check_rng

# -- activations ---------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp only ever sees -|x|
    (x >= 0: 1 / (1 + e), else e / (1 + e), with e = exp(-|x|)); in place on temporaries."""
    if not (isinstance(x, np.ndarray) and x.ndim and x.dtype.kind == "f"):  # scalars, ints: the plain form
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.asarray(x).dtype, copy=False)
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1.0
    p = np.divide(1.0, d)
    np.divide(e, d, out=p, where=x < 0)
    return p.astype(x.dtype, copy=False)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dx given dL/dy and y = sigmoid(x)."""
    return dy * y * (1.0 - y)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dx given dL/dy and y = tanh(x)."""
    return dy * (1.0 - y * y)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dL/dx given dL/dy and the *input* x (subgradient 0 at x == 0)."""
    return dy * (x > 0)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis`` (the max is subtracted first)."""
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    z /= np.sum(z, axis=axis, keepdims=True)
    return z


def softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """dL/dx given dL/dy and y = softmax(x) (Jacobian-vector product, no (V, V) matrix)."""
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def identity(x: np.ndarray) -> np.ndarray:
    return x


def identity_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return dy


ACTIVATIONS: dict[str, tuple[Callable, Callable, str]] = {
    "sigmoid": (sigmoid, sigmoid_backward, "y"),
    "tanh": (tanh, tanh_backward, "y"),
    "relu": (relu, relu_backward, "x"),
    "softmax": (softmax, softmax_backward, "y"),
    "linear": (identity, identity_backward, "y"),
}


def activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The forward function for ``name`` (one of ACTIVATIONS)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)][0]


def activation_backward(name: str, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dx for activation ``name`` given dL/dy, its input ``x`` and output ``y``."""
    _, bwd, uses = ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]
    return bwd(dy, x if uses == "x" else y)


# -- shared layer plumbing -------------------------------------------------------


# -- Dense -------------------------------------------------------------------------

DENSE_INITS = ("uniform", "xavier", "he", "seed", "scaled", "zeros")


def init_weights(init: str, shape: tuple[int, int], rng: np.random.Generator,
                 dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(W (in, out), b (out,)) for a named scheme:

    uniform  W, b ~ U(-1/sqrt(in), 1/sqrt(in))         (PyTorch nn.Linear)
    xavier   W ~ U(+-sqrt(6/(in+out))), b = 0           (Glorot, tanh/sigmoid)
    he       W ~ N(0, 2/in), b = 0                      (ReLU)
    seed     W, b ~ N(0, 1)                             (Nielsen's network.py)
    scaled   W ~ N(0, 1/in), b ~ N(0, 1)                (Nielsen's network2.py)
    zeros    W = b = 0
    """
    check_choice("init", init, DENSE_INITS)
    fan_in, fan_out = shape
    if init == "uniform":
        k = 1.0 / np.sqrt(fan_in)
        W = rng.uniform(-k, k, size=shape)
        b = rng.uniform(-k, k, size=fan_out)
    elif init == "xavier":
        k = np.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-k, k, size=shape)
        b = np.zeros(fan_out)
    elif init == "he":
        W = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        b = np.zeros(fan_out)
    elif init == "seed":
        W = rng.standard_normal(shape)
        b = rng.standard_normal(fan_out)
    elif init == "scaled":
        W = rng.standard_normal(shape) / np.sqrt(fan_in)
        b = rng.standard_normal(fan_out)
    else:
        W = np.zeros(shape)
        b = np.zeros(fan_out)
    return W.astype(dtype), b.astype(dtype)


class Dense(ParamLayer):
    """y = x @ W + b.

    x: (..., in) -> y: (..., out). Params ``W`` (in, out), ``b`` (out,).
    ``init``: see :func:`init_weights` (default PyTorch's uniform).
    """

    def __init__(self, in_features: int, out_features: int, rng: np.random.Generator,
                 dtype: Any = np.float32, init: str = "uniform"):
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.dtype = check_dtype(dtype)
        W, b = init_weights(init, (self.in_features, self.out_features), check_rng(rng), self.dtype)
        self.init = init
        self.params = {"W": W, "b": b}

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features}, dtype={self.dtype.name})"

    def forward(self, x: np.ndarray, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """x (..., in) -> (y (..., out), cache). The cache is x itself.
        ``check=False`` skips the argument checks (inputs correct by construction, hot loops)."""
        if check:
            check_float_array("x", x)
            if x.ndim < 1 or x.shape[-1] != self.in_features:
                raise ValueError(f"x must have shape (..., {self.in_features}), got {x.shape}")
        W = self.params["W"]
        y = x.reshape(-1, self.in_features) @ W  # (N, out): one matmul (a 3-D @ loops over the leading axis)
        y += self.params["b"]
        return y.reshape(x.shape[:-1] + (self.out_features,)), x

    def backward(self, dy: np.ndarray, cache: np.ndarray, check: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """dy (..., out) -> (dx (..., in), {"W": (in, out), "b": (out,)}). ``check=False``: as forward."""
        x = cache
        if check:
            # shape and dtype only: a NaN gradient is caught by the caller's norm check (as the recurrent layers)
            check_float_array("dy", dy, shape=x.shape[:-1] + (self.out_features,), finite=False)
        W = self.params["W"]
        x2 = x.reshape(-1, self.in_features)  # (N, in)
        dy2 = dy.reshape(-1, self.out_features)  # (N, out)
        dW = (x2.T @ dy2).astype(W.dtype, copy=False)  # (in, out)
        db = dy2.sum(axis=0).astype(W.dtype, copy=False)  # (out,)
        dx = (dy2 @ W.T).reshape(x.shape)  # (..., in)
        return dx, {"W": dW, "b": db}
