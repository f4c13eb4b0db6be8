"""Containers of recurrent layers: ``Stacked`` (layers on top of each other,
dropout between them) and ``Bidirectional`` (one layer forward in time, one backward).

Both follow the recurrent contract of ``core.nn``: ``forward(x, h0)`` ->
``(y, h_last, cache)``, ``backward(dy, cache, dh_last)`` ->
``(dx, dh0, grads, dh_norms)``, ``trace(cache)``; parameter names are the
children's names with a prefix (``"0.Wxh"``, ``"fwd.Whh"``).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from core.nn import module
from core.nn.module import ParamLayer


def _check_list_state(name: str, state: Any, n: int) -> list:
    if state is None:
        return [None] * n
    if not isinstance(state, (list, tuple)) or len(state) != n:
        raise ValueError(f"{name} must be a list with one state per layer ({n} entries) or None, "
                         f"got {type(state).__name__} of length {len(state) if hasattr(state, '__len__') else '?'}")
    return list(state)


class Bidirectional(ParamLayer):
    """Runs ``fwd`` over x and ``bwd`` over x reversed in time; y = [y_fwd, y_bwd] (T, B, 2H).

    ``fwd`` and ``bwd`` are two single layers of the same kind and sizes (build
    them with two different draws of the rng). State: a tuple (fwd state, bwd state);
    ``h_last`` of ``bwd`` is its state after reading x[0]. ``dh_norms`` is (2, T)
    and ``trace`` two entries, both in real time order.
    """

    def __init__(self, fwd: Any, bwd: Any):
        if type(fwd) is not type(bwd) or fwd.input_size != bwd.input_size or fwd.hidden_size != bwd.hidden_size:
            raise ValueError(f"Bidirectional needs two layers of the same kind and sizes, got {fwd!r} and {bwd!r}")
        if getattr(fwd, "num_layers", 1) != 1:
            raise ValueError(f"Bidirectional wraps single layers (num_layers=1), got {fwd!r}")
        self.fwd, self.bwd = fwd, bwd
        self.cell, self.activation, self.dtype = fwd.cell, fwd.activation, fwd.dtype
        self.input_size, self.hidden_size = fwd.input_size, fwd.hidden_size
        self.output_size = 2 * fwd.hidden_size
        self.num_layers = 1
        self.params = {**module.prefixed("fwd", fwd.params), **module.prefixed("bwd", bwd.params)}

    def __repr__(self) -> str:
        return f"Bidirectional({self.fwd!r})"

    def zero_state(self, batch: int) -> tuple:
        return (self.fwd.zero_state(batch), self.bwd.zero_state(batch))

    def _split(self, name: str, state: Any) -> tuple:
        if state is None:
            return None, None
        if not isinstance(state, (list, tuple)) or len(state) != 2:
            raise ValueError(f"{name} must be a tuple (fwd state, bwd state) for a Bidirectional layer, "
                             f"got {type(state).__name__}")
        return state[0], state[1]

    def forward(self, x: np.ndarray, h0: Any = None, rng: Any = None, train: bool = True) -> tuple:
        """x (T, B, D) -> (y (T, B, 2H), (h_fwd, h_bwd), cache)."""
        hf0, hb0 = self._split("h0", h0)
        yf, hf, cf = self.fwd.forward(x, hf0)  # (T, B, H)
        yb, hb, cb = self.bwd.forward(x[::-1], hb0)  # (T, B, H) in reversed time
        y = np.concatenate([yf, yb[::-1]], axis=-1)  # (T, B, 2H)
        return y, (hf, hb), {"fwd": cf, "bwd": cb}

    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: Any = None, need_dx: bool = True) -> tuple:
        """dy (T, B, 2H) or None -> (dx (T, B, D), (dh0_fwd, dh0_bwd), grads, dh_norms (2, T))."""
        H = self.hidden_size
        dlf, dlb = self._split("dh_last", dh_last)
        if dy is not None:
            T, B = cache["fwd"]["x"].shape[:2]
            if not isinstance(dy, np.ndarray) or dy.shape != (T, B, 2 * H):
                raise ValueError(f"dy must have shape ({T}, {B}, {2 * H}) for this Bidirectional layer, "
                                 f"got {getattr(dy, 'shape', type(dy).__name__)}")
        dxf, dhf, gf, nf = self.fwd.backward(None if dy is None else dy[:, :, :H], cache["fwd"], dlf, need_dx)
        dxb, dhb, gb, nb = self.bwd.backward(None if dy is None else dy[::-1, :, H:], cache["bwd"], dlb, need_dx)
        dx = None if dxf is None else dxf + dxb[::-1]
        grads = {**module.prefixed("fwd", gf), **module.prefixed("bwd", gb)}
        return dx, (dhf, dhb), grads, np.concatenate([nf, nb[:, ::-1]], axis=0)

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[fwd dict, bwd dict], arrays (T, B, H) in real time order."""
        fwd = self.fwd.trace(cache["fwd"])
        bwd = [{k: v[::-1] for k, v in d.items()} for d in self.bwd.trace(cache["bwd"])]
        return fwd + bwd

    def to_torch(self) -> dict[str, np.ndarray]:
        """torch names: the fwd layer's ``*_l0`` and the bwd layer's ``*_l0_reverse``."""
        out = dict(self.fwd.to_torch())
        out.update({k + "_reverse": v for k, v in self.bwd.to_torch().items()})
        return out

    def from_torch(self, d: Mapping[str, Any], suffix: str = "_l0") -> None:
        rev = {k: v for k, v in d.items() if k.endswith("_reverse")}
        self.fwd.from_torch({k: v for k, v in d.items() if k not in rev}, suffix)
        self.bwd.from_torch({k[:-len("_reverse")]: v for k, v in rev.items()}, suffix)


class Stacked(ParamLayer):
    """Layers applied one after another; inverted dropout on the outputs of every
    layer but the last (train mode only, with the rng passed to ``forward``).

    State: a list with one entry per layer. ``dh_norms`` stacks the layers' rows
    bottom first (a Bidirectional layer contributes two rows); ``trace`` likewise.
    """

    def __init__(self, layers: Sequence[Any], dropout: float = 0.0):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must contain at least one recurrent layer, got an empty list")
        for k in range(1, len(layers)):
            if layers[k].input_size != layers[k - 1].output_size:
                raise ValueError(f"layer {k} has input_size {layers[k].input_size} but layer {k - 1} outputs "
                                 f"{layers[k - 1].output_size} features")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.layers = layers
        self.dropout = float(dropout)
        first = layers[0]
        self.cell, self.activation, self.dtype = first.cell, first.activation, first.dtype
        self.input_size, self.hidden_size = first.input_size, first.hidden_size
        self.output_size = layers[-1].output_size
        self.num_layers = len(layers)
        self.params = {}
        for k, layer in enumerate(layers):
            self.params.update(module.prefixed(str(k), layer.params))

    def __repr__(self) -> str:
        return f"Stacked([{', '.join(map(repr, self.layers))}], dropout={self.dropout})"

    def zero_state(self, batch: int) -> list:
        return [layer.zero_state(batch) for layer in self.layers]

    def forward(self, x: np.ndarray, h0: Sequence | None = None, rng: np.random.Generator | None = None,
                train: bool = True) -> tuple:
        """x (T, B, D), h0 list per layer or None -> (y (T, B, H_out), [h_last per layer], cache).

        Dropout between layers is active only when ``train`` and an ``rng`` is given.
        """
        h0 = _check_list_state("h0", h0, len(self.layers))
        use_drop = self.dropout > 0.0 and train and rng is not None
        if use_drop and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a np.random.Generator or None, got {type(rng).__name__}")
        caches, masks, h_last = [], [], []
        inp = x
        for k, layer in enumerate(self.layers):
            y, h, c = layer.forward(inp, h0[k])
            caches.append(c)
            h_last.append(h)
            mask = None
            if use_drop and k < len(self.layers) - 1:
                keep = 1.0 - self.dropout
                mask = (rng.random(y.shape) < keep).astype(y.dtype)  # (T, B, H)
                mask *= 1.0 / keep
                y = y * mask
            masks.append(mask)
            inp = y
        return inp, h_last, {"layers": caches, "masks": masks}

    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: Sequence | None = None,
                 need_dx: bool = True) -> tuple:
        """-> (dx (T, B, D) or None, [dh0 per layer], grads ("k.name"), dh_norms (rows, T))."""
        n = len(self.layers)
        dh_last = _check_list_state("dh_last", dh_last, n)
        grads: dict[str, np.ndarray] = {}
        dh0 = [None] * n
        norms = [None] * n
        d = dy
        for k in range(n - 1, -1, -1):
            d, dh0[k], g, norms[k] = self.layers[k].backward(d, cache["layers"][k], dh_last[k],
                                                             need_dx or k > 0)
            grads.update(module.prefixed(str(k), g))
            if k > 0 and cache["masks"][k - 1] is not None and d is not None:
                d = d * cache["masks"][k - 1]
        grads = {key: grads[key] for key in self.params}  # same order as params
        return d, dh0, grads, np.concatenate(norms, axis=0)

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        out = []
        for layer, c in zip(self.layers, cache["layers"]):
            out.extend(layer.trace(c))
        return out

    def to_torch(self) -> dict[str, np.ndarray]:
        """torch.nn.LSTM/GRU/RNN(num_layers=L) names: ``weight_ih_l{k}`` (``_reverse`` for bidirectional)."""
        out = {}
        for k, layer in enumerate(self.layers):
            for name, v in layer.to_torch().items():
                out[name.replace("_l0", f"_l{k}")] = v
        return out

    def from_torch(self, d: Mapping[str, Any]) -> None:
        known = set()
        for k, layer in enumerate(self.layers):
            sub = {key.replace(f"_l{k}", "_l0"): v for key, v in d.items()
                   if key.rsplit("_l", 1)[-1].split("_")[0] == str(k)}
            known.update(key for key in d if key.rsplit("_l", 1)[-1].split("_")[0] == str(k))
            layer.from_torch(sub)
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"torch state dict has unexpected entries {extra} for {self.num_layers} layers")
