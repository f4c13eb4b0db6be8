"""Optimizers over named parameters, and gradient clipping.

    opt = make_optimizer("adam", lr=1e-3)        # or Adam(lr=1e-3, beta1=0.9)
    opt.step(params, grads)                       # updates params IN PLACE
    opt.set(lr=1e-4)                              # or opt.lr = 1e-4 (validated)
    state = opt.state_dict(); opt2.load_state_dict(state)   # exact resume

Update rules (g = gradient, p = parameter; all per element):

    SGD       p -= lr * g
    Momentum  v = momentum * v + g;  p -= lr * v               (PyTorch's form)
              nesterov: p -= lr * (g + momentum * v)
    Adagrad   mem += g * g;  p += -lr * g / sqrt(mem + eps)    (min-char-rnn, bit for bit)
    RMSprop   v = rho * v + (1 - rho) * g * g;  p -= lr * g / (sqrt(v) + eps)
    Adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g*g;  t += 1
              p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   (PyTorch's form)

Per-parameter state is created lazily on the first step that sees a name, with
the parameter's shape and dtype. ``state_dict()`` is flat: ``"<slot>.<param>"``
arrays (``"v.Whh"``, ``"m.Wxh"``, ``"mem.bh"``), 0-d scalars (``"t"``) and the
settings as 0-d arrays (``"lr"``, ``"momentum"``, ...); ``load_state_dict``
restores all of it, so a resumed run makes bit-identical updates.

Speed: every update is a handful of in-place ufuncs (``out=``) on scratch arrays
preallocated per parameter — no temporaries in the step.
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

# -- setting validators -------------------------------------------------------------


def _number(name: str, value: Any) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _non_negative(name: str, value: Any) -> float:
    v = _number(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _positive(name: str, value: Any) -> float:
    v = _number(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _unit(name: str, value: Any) -> float:
    v = _number(name, value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class Optimizer:
    """Base class. Subclasses declare:

    ``name``: the make_optimizer name; ``slots``: per-parameter state arrays;
    ``n_scratch``: scratch arrays per parameter; ``settings``: name -> (default,
    validator) (``lr`` always); and implement ``_update(p, g, slots, scratch)``.
    """

    name: ClassVar[str] = "sgd"
    slots: ClassVar[tuple[str, ...]] = ()
    n_scratch: ClassVar[int] = 1
    settings: ClassVar[dict[str, tuple[Any, Callable[[str, Any], Any]]]] = {"lr": (None, _non_negative)}

    def __init__(self, lr: float, **settings: Any):
        object.__setattr__(self, "_t", 0)
        values = {k: d for k, (d, _) in self.settings.items()}
        values["lr"] = lr
        values.update(settings)
        self.set(**values)
        self.reset()

    # -- settings -----------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.settings:
            value = self._validate(key, value)
        object.__setattr__(self, key, value)

    def _validate(self, key: str, value: Any) -> Any:
        if key not in self.settings:
            raise ValueError(f"{type(self).__name__} has no setting {key!r}; accepted: {', '.join(self.settings)}")
        return self.settings[key][1](key, value)

    def set(self, **settings: Any) -> None:
        """Change settings between steps, e.g. ``set(lr=0.01, momentum=0.5)``.

        All values are validated before any is applied (unknown names raise).
        """
        checked = {k: self._validate(k, v) for k, v in settings.items()}
        for k, v in checked.items():
            object.__setattr__(self, k, v)

    def get_settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.settings}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_settings().items())})"

    # -- state --------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all per-parameter state (the step counter too)."""
        object.__setattr__(self, "_t", 0)
        object.__setattr__(self, "_state", {})  # name -> ((slot arrays), (scratch arrays))

    @property
    def t(self) -> int:
        """Number of steps taken."""
        return self._t

    def _new_state(self, k: str, p: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        slots = tuple(np.zeros_like(p) for _ in self.slots)
        scratch = tuple(np.zeros_like(p) for _ in range(self.n_scratch))
        self._state[k] = (slots, scratch)
        return slots, scratch

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes)."""
        if params.keys() != grads.keys():
            missing = sorted(set(params) - set(grads))
            extra = sorted(set(grads) - set(params))
            raise ValueError(f"grads must have the keys of params: missing {missing}, unexpected {extra}")
        state = self._state
        work = []
        for k, p in params.items():  # check everything before changing anything
            g = grads[k]
            if g.shape != p.shape:
                raise ValueError(f"grads[{k!r}] has shape {g.shape}, params[{k!r}] has {p.shape}")
            st = state.get(k) or self._new_state(k, p)
            if st[1][0].shape != p.shape:
                raise ValueError(f"parameter {k!r} has shape {p.shape} but the optimizer state has "
                                 f"{st[1][0].shape}; reset the optimizer after changing the model")
            work.append((p, g, st[0], st[1]))
        object.__setattr__(self, "_t", self._t + 1)
        self._begin_step()
        self._update_all(work)

    def _update_all(self, work: list) -> None:
        """Apply ``_update`` to every (param, grad, slots, scratch) of ``work``."""
        update = self._update
        for p, g, slots, scratch in work:
            update(p, g, slots, scratch)

    def _begin_step(self) -> None:
        """Per-step scalars (bias corrections) computed once, not per parameter."""

    def _update(self, p: np.ndarray, g: np.ndarray, slots: tuple, scratch: tuple) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat copies: ``"<slot>.<param>"`` arrays, ``"t"`` and the settings as 0-d arrays."""
        out: dict[str, np.ndarray] = {}
        for k, (slots, _) in self._state.items():
            for slot, a in zip(self.slots, slots):
                out[f"{slot}.{k}"] = a.copy()
        out["t"] = np.array(self._t, dtype=np.int64)
        for k, v in self.get_settings().items():
            out[k] = np.array(v)
        return out

    def load_state_dict(self, state: Mapping[str, Any], params: Mapping[str, np.ndarray] | None = None) -> None:
        """Restore ``state_dict()`` output exactly; everything is checked before anything changes.

        Raises ValueError for missing settings/"t", unexpected keys, a parameter
        missing one of its slots, slots of different shapes, or (when ``params``
        is given) state for unknown parameters or of the wrong shape.
        """
        what = f"{type(self).__name__} state dict"
        scalars = ("t",) + tuple(self.settings)
        missing = [k for k in scalars if k not in state]
        unexpected: list[str] = []
        per_param: dict[str, dict[str, np.ndarray]] = {}
        for key, v in state.items():
            if key in scalars:
                continue
            slot, dot, name = key.partition(".")
            if not dot or slot not in self.slots or not name:
                unexpected.append(key)
                continue
            per_param.setdefault(name, {})[slot] = v
        for name, slots in per_param.items():
            missing += [f"{s}.{name}" for s in self.slots if s not in slots]
        if missing or unexpected:
            parts = ([f"missing {', '.join(sorted(missing))}"] if missing else []) + \
                    ([f"unexpected {', '.join(sorted(unexpected))}"] if unexpected else [])
            raise ValueError(f"{what} does not match (accepted slots: {', '.join(self.slots) or 'none'}; "
                             f"scalars: {', '.join(scalars)}): {'; '.join(parts)}")
        settings = {k: self._validate(k, state[k]) for k in self.settings}
        t = np.asarray(state["t"])
        if t.ndim != 0 or not np.issubdtype(t.dtype, np.integer) or int(t) < 0:
            raise ValueError(f"{what}: t must be a non-negative integer scalar, got {state['t']!r}")
        new_state: dict[str, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]] = {}
        for name, slots in per_param.items():
            arrs = [np.asarray(slots[s]) for s in self.slots]
            for s, a in zip(self.slots, arrs):
                if not np.issubdtype(a.dtype, np.floating):
                    raise ValueError(f"{what}: {s}.{name} must be a floating array, got dtype {a.dtype}")
                if a.shape != arrs[0].shape:
                    raise ValueError(f"{what}: {s}.{name} has shape {a.shape}, "
                                     f"{self.slots[0]}.{name} has {arrs[0].shape}")
            if params is not None:
                if name not in params:
                    raise ValueError(f"{what} has state for {name!r}, which is not a parameter of the model")
                if params[name].shape != arrs[0].shape:
                    raise ValueError(f"{what}: state for {name!r} has shape {arrs[0].shape}, "
                                     f"the parameter has {params[name].shape}")
            dtype = params[name].dtype if params is not None else arrs[0].dtype
            slot_arrays = tuple(np.array(a, dtype=dtype, copy=True) for a in arrs)
            new_state[name] = (slot_arrays, tuple(np.zeros_like(slot_arrays[0]) for _ in range(self.n_scratch)))
        self.set(**settings)
        object.__setattr__(self, "_t", int(t))
        object.__setattr__(self, "_state", new_state)


class SGD(Optimizer):
    """p -= lr * g"""

    name = "sgd"

    def _update(self, p, g, slots, scratch):
        (s,) = scratch
        np.multiply(g, self.lr, out=s)
        p -= s


class Momentum(Optimizer):
    """v = momentum * v + g; p -= lr * v   (nesterov: p -= lr * (g + momentum * v))"""

    name = "momentum"
    slots = ("v",)
    settings = {"lr": (None, _non_negative), "momentum": (0.9, _unit), "nesterov": (False, _flag)}

    def _update(self, p, g, slots, scratch):
        (v,), (s,) = slots, scratch
        v *= self.momentum
        v += g
        if self.nesterov:
            np.multiply(v, self.momentum, out=s)
            s += g
            s *= self.lr
        else:
            np.multiply(v, self.lr, out=s)
        p -= s


class Adagrad(Optimizer):
    """mem += g * g; p += -lr * g / sqrt(mem + eps)  — min-char-rnn's update, same rounding.

    Speed: when every parameter has the same dtype, the update runs on one flat array
    (the ``mem`` slots are views into it): the gradients are copied in, six ufuncs do the
    maths, and each parameter adds its slice — 2n + 6 NumPy calls instead of 7n (a 2-layer
    LSTM has 8 small parameters, where the per-call overhead is the cost). Same arithmetic,
    element for element, so the results are bit-identical to the per-parameter update.
    """

    name = "adagrad"
    slots = ("mem",)
    n_scratch = 2
    settings = {"lr": (None, _non_negative), "eps": (1e-8, _positive)}

    def _update_all(self, work: list) -> None:
        flat = self._flat_plan(work)
        if flat is None:
            super()._update_all(work)
            return
        mem, G, S, U, g_views, u_views = flat
        copyto = np.copyto
        for (p, g, _, _), gv in zip(work, g_views):
            copyto(gv, g)
        np.multiply(G, G, out=S)
        mem += S
        np.add(mem, self.eps, out=S)
        np.sqrt(S, out=S)
        np.multiply(G, -self.lr, out=U)
        U /= S
        for (p, _, _, _), uv in zip(work, u_views):
            p += uv

    def _flat_plan(self, work: list):
        """(mem, G, S, U, grad views, update views) for ``work``, built once and reused while
        the parameters and the ``mem`` slots are the same arrays; None if dtypes differ."""
        plan = getattr(self, "_plan", None)
        if plan is not None and len(plan[0]) == len(work) and all(
                p is p0 and slots[0] is m0 for (p, _, slots, _), p0, m0 in zip(work, plan[0], plan[1])):
            return plan[2]
        dtypes = {p.dtype for p, _, _, _ in work}
        if len(dtypes) != 1 or not work:
            return None
        dtype = dtypes.pop()
        sizes = [p.size for p, _, _, _ in work]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        mem, G, S, U = (np.empty(int(offsets[-1]), dtype) for _ in range(4))
        views = lambda a: [a[o:o + n].reshape(p.shape) for o, n, (p, _, _, _) in zip(offsets, sizes, work)]  # noqa: E731
        m_views, g_views, u_views = views(mem), views(G), views(U)
        names = {id(st[1][0]): k for k, st in self._state.items()}  # scratch identifies the parameter
        for (p, g, slots, scratch), mv in zip(work, m_views):
            mv[...] = slots[0]
            self._state[names[id(scratch[0])]] = ((mv,), scratch)
        flat = (mem, G, S, U, g_views, u_views)
        object.__setattr__(self, "_plan", ([p for p, _, _, _ in work], m_views, flat))
        return flat

    def _update(self, p, g, slots, scratch):
        (mem,), (s, u) = slots, scratch
        np.multiply(g, g, out=s)
        mem += s
        np.add(mem, self.eps, out=s)
        np.sqrt(s, out=s)
        np.multiply(g, -self.lr, out=u)
        u /= s
        p += u


class RMSprop(Optimizer):
    """v = rho * v + (1 - rho) * g * g; p -= lr * g / (sqrt(v) + eps)"""

    name = "rmsprop"
    slots = ("v",)
    settings = {"lr": (None, _non_negative), "rho": (0.9, _unit), "eps": (1e-8, _positive)}

    def _update(self, p, g, slots, scratch):
        (v,), (s,) = slots, scratch
        v *= self.rho
        np.multiply(g, g, out=s)
        s *= 1.0 - self.rho
        v += s
        np.sqrt(v, out=s)
        s += self.eps
        np.divide(g, s, out=s)
        s *= self.lr
        p -= s


class Adam(Optimizer):
    """Adam with PyTorch's bias correction (see the module docstring).

    Speed: with s = sqrt(1 - beta2^t) the step is computed as
    ``(lr s / (1 - beta1^t)) * m / (sqrt(v) + eps s)`` — the same value as
    ``lr / (1 - beta1^t) * m / (sqrt(v) / s + eps)`` up to rounding — 11 in-place ufuncs per
    parameter instead of 13. A gradient that is not C-contiguous (e.g. a transposed view
    from a layer's backward) is first copied into C order once: ufuncs mixing a transposed
    operand with C-order ones run several times slower (measured: an LSTM H=512's Adam step
    2 ms with C-order gradients, 14 ms with two of them transposed). (Blocking the passes
    into cache-sized chunks was measured too: no gain on this machine, so it is not done.)
    """

    name = "adam"
    slots = ("m", "v")
    n_scratch = 2
    settings = {"lr": (None, _non_negative), "beta1": (0.9, _unit), "beta2": (0.999, _unit),
                "eps": (1e-8, _positive)}

    def _begin_step(self) -> None:
        t = self._t
        sbc2 = math.sqrt(1.0 - self.beta2 ** t)
        object.__setattr__(self, "_step", self.lr / (1.0 - self.beta1 ** t) * sbc2)
        object.__setattr__(self, "_eps_t", self.eps * sbc2)

    def _update(self, p, g, slots, scratch):
        (m, v), (s, gc) = slots, scratch
        if not g.flags.c_contiguous and p.flags.c_contiguous:
            np.copyto(gc, g)
            g = gc
        b1, b2 = self.beta1, self.beta2
        m *= b1
        np.multiply(g, 1.0 - b1, out=s)
        m += s
        v *= b2
        np.multiply(g, g, out=s)
        s *= 1.0 - b2
        v += s
        np.sqrt(v, out=s)
        s += self._eps_t
        np.divide(m, s, out=s)
        s *= self._step
        p -= s


OPTIMIZERS: dict[str, type[Optimizer]] = {c.name: c for c in (SGD, Momentum, Adagrad, RMSprop, Adam)}
NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def make_optimizer(name: str, lr: float, **kw: Any) -> Optimizer:
    """An optimizer by name: one of NAMES ("nesterov" is Momentum(nesterov=True))."""
    if name == "nesterov":
        return Momentum(lr, **{"nesterov": True, **kw})
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(NAMES)}, got {name!r}")
    return OPTIMIZERS[name](lr, **kw)


# -- clipping ---------------------------------------------------------------------------


def clip_by_value(grads: Mapping[str, np.ndarray], limit: float) -> None:
    """Clamp every gradient entry to [-limit, limit] in place (min-char-rnn uses 5)."""
    limit = _positive("limit", limit)
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def clip_by_global_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``.

    Returns the norm *before* clipping. A NaN/inf norm leaves the gradients
    untouched (and is returned, for the caller to stop on).
    """
    max_norm = _positive("max_norm", max_norm)
    total = 0.0
    for g in grads.values():
        f = g.reshape(-1)
        total += float(np.dot(f, f))
    norm = math.sqrt(total)
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm
