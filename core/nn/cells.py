"""One descriptor per recurrent cell type, and the registry that ``make_recurrent``,
``config.cell()`` and the probe's colour scales read.

A cell module declares its cell once, next to the layer class::

    SPEC = register_cell(CellSpec(
        "lstm", "LSTM", LSTM,
        (StateSpec("h", "hidden state h", -1.0, 1.0), StateSpec("c", "cell state c"),
         StateSpec("i", "input gate i", 0.0, 1.0), ...)))

and everything else follows: ``make_recurrent("lstm", ...)`` builds it,
``config.cell(...)`` offers it, the heatmap/inspector read its state names, titles and
colour ranges through :func:`state_range` / :func:`state_title`.

States (``StateSpec``): the keys of ``layer.trace(cache)`` entries, each (T, B, H).
``low``/``high`` give a fixed colour range; ``None`` means "symmetric around 0 from
the data" (``c``, pre-activations). ``follows_activation=True`` means the range is the
layer's activation function's (tanh -1..1, sigmoid 0..1): the h of a plain RNN.
:meth:`CellSpec.states` resolves that for one activation.

Layer contract for a registered class: ``layer_class(input_size, hidden_size, rng,
dtype=...)`` (plus ``activation=`` when ``CellSpec.activations`` is non-empty) returns a
layer with the recurrent interface of ``core.nn`` (forward/backward/trace/params/
zero_state, ``input_size``/``hidden_size``/``output_size``/``num_layers``/``cell``/
``activation``/``dtype``), e.g. a subclass of :class:`core.nn.rnn.RecurrentLayer`.

The built-in cells ("rnn", "lstm", "gru") register themselves when their modules are
imported; the lookup functions import them first, so the registry is never seen
without them. This module imports nothing from the cell modules at import time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Output range of each recurrent activation function (the colour scale of an RNN's h).
ACTIVATION_RANGES: dict[str, tuple[float, float]] = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


@dataclass(frozen=True)
class StateSpec:
    """One per-timestep state a cell's ``trace`` reports.

    name: the trace key ("h", "c", "i", ...). title: shown in the GUI ("input gate i").
    low/high: fixed colour range, or both None for a range symmetric about 0 from the data.
    follows_activation: the range is the layer activation's (see ``ACTIVATION_RANGES``).
    """

    name: str
    title: str
    low: float | None = None
    high: float | None = None
    follows_activation: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"StateSpec name must be a non-empty str, got {self.name!r}")
        if (self.low is None) != (self.high is None):
            raise ValueError(f"StateSpec {self.name!r}: give both low and high, or neither")
        if self.low is not None and not self.low < self.high:
            raise ValueError(f"StateSpec {self.name!r}: low must be < high, got {self.low!r}, {self.high!r}")

    @property
    def fixed(self) -> bool:
        """True if the range does not depend on the data."""
        return self.low is not None

    def value_range(self, values: Any = None) -> tuple[float, float]:
        """(lo, hi): the fixed range, else symmetric about 0 from ``max |values|`` (at least 1e-6;
        (-1, 1) without values)."""
        if self.low is not None:
            return (float(self.low), float(self.high))
        return symmetric_range(values)


def symmetric_range(values: Any) -> tuple[float, float]:
    """(-m, m) with m = max |values| (at least 1e-6); (-1, 1) for None or an empty array."""
    if values is None:
        return (-1.0, 1.0)
    a = np.asarray(values)
    if a.size == 0:
        return (-1.0, 1.0)
    finite = np.abs(a[np.isfinite(a)])
    m = max(float(finite.max()) if finite.size else 1.0, 1e-6)
    return (-m, m)


@dataclass(frozen=True)
class CellSpec:
    """Everything the rest of the program needs to know about one cell type.

    name: the ``cell`` value in configs and ``make_recurrent`` ("lstm").
    title: human name ("LSTM"). layer_class: builds one layer (see the module docstring).
    state_specs: the trace keys, "h" first.
    activations: the ``activation=`` values the layer accepts (first = default), or ()
        when the cell has none of its own (the layer class then gets no ``activation``).
    """

    name: str
    title: str
    layer_class: type
    state_specs: tuple[StateSpec, ...]
    activations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"CellSpec name must be a non-empty str, got {self.name!r}")
        specs = tuple(self.state_specs)
        object.__setattr__(self, "state_specs", specs)
        object.__setattr__(self, "activations", tuple(self.activations))
        names = [s.name for s in specs]
        if not names or names[0] != "h" or len(set(names)) != len(names):
            raise ValueError(f"CellSpec {self.name!r}: states must be unique and start with 'h', got {names}")
        bad = [a for a in self.activations if a not in ACTIVATION_RANGES]
        if bad:
            raise ValueError(f"CellSpec {self.name!r}: unknown activations {bad}; "
                             f"known: {', '.join(ACTIVATION_RANGES)}")

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.state_specs)

    def states(self, activation: str = "tanh") -> tuple[StateSpec, ...]:
        """The state specs for a layer with ``activation``, with activation-dependent ranges
        resolved to fixed ones (e.g. an RNN's h: (-1, 1) for tanh, (0, 1) for sigmoid)."""
        out = []
        for s in self.state_specs:
            if s.follows_activation:
                lo, hi = ACTIVATION_RANGES.get(activation, (-1.0, 1.0))
                s = dataclasses.replace(s, low=lo, high=hi, follows_activation=False)
            out.append(s)
        return tuple(out)

    def state(self, key: str, activation: str = "tanh") -> StateSpec | None:
        """The resolved spec of trace key ``key``, or None if this cell has no such state."""
        for s in self.states(activation):
            if s.name == key:
                return s
        return None

    def build(self, input_size: int, hidden_size: int, rng: np.random.Generator,
              activation: str | None = None, dtype: Any = np.float32) -> Any:
        """One layer. ``activation`` (None = the default) must be one of ``activations``;
        it is ignored by cells that declare none."""
        if self.activations:
            act = self.activations[0] if activation is None else activation
            if act not in self.activations:
                raise ValueError(f"activation must be one of {', '.join(map(repr, self.activations))} "
                                 f"for cell {self.name!r}, got {act!r}")
            return self.layer_class(input_size, hidden_size, rng, activation=act, dtype=dtype)
        return self.layer_class(input_size, hidden_size, rng, dtype=dtype)


_REGISTRY: dict[str, CellSpec] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import core.nn.gru  # noqa: F401  (each registers its cell)
        import core.nn.lstm  # noqa: F401
        import core.nn.rnn  # noqa: F401


def register_cell(spec: CellSpec) -> CellSpec:
    """Add ``spec`` to the registry and return it. Registering an equal spec again is a
    no-op (module reloads); a different spec under a taken name raises ValueError."""
    if not isinstance(spec, CellSpec):
        raise ValueError(f"register_cell expects a CellSpec, got {type(spec).__name__}")
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec:
        if old.layer_class.__qualname__ == spec.layer_class.__qualname__ and \
                old.layer_class.__module__ == spec.layer_class.__module__:  # the same module, reloaded
            _REGISTRY[spec.name] = spec
            return spec
        raise ValueError(f"a cell named {spec.name!r} is already registered ({old.layer_class.__name__}); "
                         f"unregister_cell({spec.name!r}) first")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_cell(name: str) -> CellSpec | None:
    """Remove and return the spec named ``name`` (None if absent). For tests and plug-ins."""
    return _REGISTRY.pop(name, None)


def cell_names() -> tuple[str, ...]:
    """Registered cell names, in registration order (built-ins first: "rnn", "lstm", "gru")."""
    _load_builtins()
    builtin = [n for n in ("rnn", "lstm", "gru") if n in _REGISTRY]
    return tuple(builtin + [n for n in _REGISTRY if n not in builtin])


def cell_spec(name: str) -> CellSpec:
    """The spec registered as ``name``; ValueError naming the registered cells otherwise."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"cell must be one of {', '.join(map(repr, cell_names()))}, got {name!r}") from None


def _find_spec(cell: str, key: str, activation: str) -> StateSpec | None:
    _load_builtins()
    spec = _REGISTRY.get(cell) if isinstance(cell, str) else None
    return None if spec is None else spec.state(key, activation)


def state_range(cell: str, activation: str, key: str, values: Any = None) -> tuple[float, float]:
    """The colour range (lo, hi) of trace key ``key`` of a ``cell`` layer with ``activation``.

    A fixed range where the cell declares one (gates 0..1, tanh outputs -1..1, an RNN's h
    by its activation), else symmetric about 0 from ``values`` (c, pre-activations).
    Unknown cells (e.g. "dense") or keys: "h" follows ``activation``; anything else is
    symmetric from ``values``.
    """
    s = _find_spec(cell, key, activation)
    if s is not None:
        return s.value_range(values)
    if key == "h" and activation in ACTIVATION_RANGES:
        return ACTIVATION_RANGES[activation]
    return symmetric_range(values)


def state_title(cell: str, key: str, activation: str = "tanh") -> str:
    """The display title of trace key ``key`` ("input gate i"), or ``key`` if unknown."""
    s = _find_spec(cell, key, activation)
    if s is not None:
        return s.title
    return {"h": "hidden state h", "pre": "pre-activation"}.get(key, key)


def state_names(cell: str) -> tuple[str, ...]:
    """The trace keys of ``cell`` ("h" first), or ("h",) for an unknown cell."""
    _load_builtins()
    spec = _REGISTRY.get(cell) if isinstance(cell, str) else None
    return ("h",) if spec is None else spec.state_names


__all__ = ["ACTIVATION_RANGES", "StateSpec", "CellSpec", "register_cell", "unregister_cell", "cell_names",
           "cell_spec", "state_range", "state_title", "state_names", "symmetric_range"]
