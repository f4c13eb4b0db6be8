"""Layers with explicit forward/backward — the engine's contract.

Conventions (every helper and experiment relies on these):

Arrays and dtypes
    Sequences are time-major ``(T, B, D)``; hidden states ``(T, B, H)``.
    Layers are built with ``dtype=np.float32`` by default; ``np.float64`` works
    end to end (gradient checks use it). Inputs must be floating arrays of the
    layer's dtype family (ints only where documented, e.g. Embedding ids);
    bad shapes, non-float arrays and NaN/inf raise ``ValueError`` naming the
    argument, the value and what is accepted (see ``core.nn.validate``).

Parameters
    ``layer.params``: dict name -> ndarray, the *live* arrays. Optimizers update
    them in place, so never rebind them (use ``arr[...] = value``).
    Names are the maths names (``Wxh``, ``Whh``, ``bh``); containers prefix
    children with dotted names (``"0.Wxh"``, ``"fwd.Whh"``).
    ``layer.state_dict()`` returns copies; ``layer.load_state_dict(d)`` checks
    missing / extra / mis-shaped arrays (``core.nn.module``).

Feed-forward layers (Dense, Embedding, Dropout, MLP)
    ``y, cache = layer.forward(x)``  (Dense maps any leading shape ``(..., D)`` to ``(..., K)``)
    ``dx, grads = layer.backward(dy, cache)`` — ``grads`` has exactly the keys of ``params``.
    Embedding: ``forward(ids)`` with an integer array of any shape; ``dx`` is None.
    Dropout: ``forward(x, rng, train=True)``; no params.

Recurrent layers (RNN, LSTM, GRU, Stacked, Bidirectional)
    ``y, h_last, cache = layer.forward(x, h0=None)``
        x: (T, B, D) -> y: (T, B, H) (Bidirectional: (T, B, 2H), [fwd, bwd]).
        State structure: RNN and GRU an ndarray (B, H); LSTM a tuple (h, c);
        Stacked a list with one entry per layer; Bidirectional a tuple (fwd, bwd).
        ``h0=None`` means zeros. Pass ``h_last`` back as ``h0`` for truncated BPTT.
    ``dx, dh0, grads, dh_norms = layer.backward(dy, cache, dh_last=None)``
        dy: (T, B, H) or None (no loss on the outputs, e.g. only via dh_last);
        for a loss on the last step only, pass dy with zeros except dy[-1]
        (or use ``dy=None`` and ``dh_last``).
        dh_last: same structure as the state, or None.
        ``dx`` and the gradients may be non-contiguous views (e.g. Fortran-order
        transposes handed to BLAS): valid arrays of the documented shapes.
        dh_norms: (L, T) float array, the L2 norm of dL/dh_t (whole batch)
        per layer L (a single layer has L=1; Bidirectional stacks fwd, bwd).
    ``layer.trace(cache)`` -> list (one per layer) of dict name -> (T, B, H):
        "h" always; LSTM "c", "i", "f", "g", "o"; GRU "r", "z", "n".
    Gate layout is PyTorch's (LSTM i, f, g, o; GRU r, z, n with
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
    ``to_torch()`` / ``from_torch(dict)`` convert to/from ``torch.nn.LSTM``-style
    names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``) as NumPy.

    Extras: ``backward(..., need_dx=False)`` skips dx (returns None) when the
    input needs no gradient; ``x`` may be integer ids (T, B) — exactly a one-hot
    input, done as a row gather (dx is then None); every layer accepts ``rng=``
    and ``train=`` in ``forward`` (used by Stacked's dropout, ignored by single
    layers), so single and stacked layers are called the same way.

Factory
    ``core.nn.recurrent.make_recurrent(cell, input_size, hidden_size, num_layers=1,
    rng=..., activation="tanh", dropout=0.0, bidirectional=False, dtype=np.float32)``
    builds any of the above (cell: any registered name, built-ins "rnn", "lstm", "gru"): a
    single layer when ``num_layers == 1`` (wrapped in Bidirectional if asked), else Stacked.

Cells (``core.nn.cells``)
    Each cell module declares its cell once: ``register_cell(CellSpec(name, title, layer_class,
    (StateSpec(key, title, low, high), ...), activations))``. ``make_recurrent``,
    ``core.config.cell()`` (``cell_names()``) and the probe's colour scales
    (``state_range(cell, activation, key, values) -> (lo, hi)``, ``state_title``) read it.

Memory
    Importing ``core.nn.rnn`` calls ``tune_malloc()``: glibc would otherwise
    unmap and re-fault the step buffers on every step (a small LSTM's backward
    went from 620 to 400 µs with it).
"""
