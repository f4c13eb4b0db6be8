"""``make_recurrent``: one entry point that builds any recurrent layer of ``core.nn``
(any cell of the registry in ``core.nn.cells``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from core.nn import gru as _gru, lstm as _lstm  # noqa: F401  (register "lstm", "gru")
from core.nn.cells import cell_names, cell_spec
from core.nn.parallel import BatchParallel
from core.nn.rnn import ACTIVATIONS
from core.nn.stack import Bidirectional, Stacked
from core.nn.validate import check_choice, check_positive_int, check_rng

CELLS = ("rnn", "lstm", "gru")  # the built-in cells; every registered one: core.nn.cells.cell_names()


def make_recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                   rng: np.random.Generator | None = None, activation: str = "tanh", dropout: float = 0.0,
                   bidirectional: bool = False, dtype: Any = np.float32, workers: int = 1):
    """Build a recurrent model.

    cell: any registered cell (``core.nn.cells.cell_names()``): "rnn" (uses ``activation``,
    "tanh" or "sigmoid"), "lstm", "gru", or one added with ``register_cell``.
    Returns a single ``RNN``/``LSTM``/``GRU`` when ``num_layers == 1`` (wrapped in
    ``Bidirectional`` if asked), else ``Stacked`` with ``dropout`` between layers
    (dropout has no effect on a single layer, as in torch). Every returned object
    accepts ``forward(x, h0=None, rng=None, train=True)``.
    Layer k > 0 reads H features (2H when bidirectional).
    ``workers > 1`` wraps the result in :class:`core.nn.parallel.BatchParallel`: forward and
    backward run on ``workers`` slices of the batch in as many threads (same results; pays
    only for large models on free cores, with one BLAS thread).
    """
    check_choice("cell", cell, cell_names())
    spec = cell_spec(cell)
    check_choice("activation", activation, spec.activations or ACTIVATIONS)
    num_layers = check_positive_int("num_layers", num_layers)
    input_size = check_positive_int("input_size", input_size)
    hidden_size = check_positive_int("hidden_size", hidden_size)
    rng = check_rng(rng)
    workers = check_positive_int("workers", workers)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")

    def one(d_in: int):
        return spec.build(d_in, hidden_size, rng, activation=activation, dtype=dtype)

    layers = []
    d_in = input_size
    for _ in range(num_layers):
        layers.append(Bidirectional(one(d_in), one(d_in)) if bidirectional else one(d_in))
        d_in = layers[-1].output_size
    model = layers[0] if num_layers == 1 else Stacked(layers, dropout=dropout)
    return BatchParallel(model, workers) if workers > 1 else model
