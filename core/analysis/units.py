"""Unit finder: which hidden units track which interpretable quantity.

``features_*`` turn the raw probe inputs of each experiment into named per-timestep
features (float arrays, same leading shape as the input: (T,) or (T, B)); :func:`find_units`
correlates every unit of every state (h, c, gates) of every layer with every feature
(Pearson r, vectorised); :func:`text_activation` gives the data for Karpathy's red/blue text
(one unit's activation per character, and the model's surprise -log p(next char)).

Features describe the situation *after reading* input t (what the state at t can know):
an opening quote is inside the quotes, the closing quote is not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

# -- features --------------------------------------------------------------------------


def features_binary_addition(a_bits: Any, b_bits: Any) -> dict[str, np.ndarray]:
    """Binary addition, least significant bit first.

    a_bits, b_bits: (T,) or (T, B) 0/1 (a Probe's ``extras["a_bits"]``, ``extras["b_bits"]``).
    Returns (T,)/(T, B) float arrays: "a", "b" (the input bits), "carry_in" (carry into step t),
    "carry_out" (carry out of step t, what the network must remember), "sum" (the output bit).
    """
    a = np.asarray(a_bits).astype(np.int64)
    b = np.asarray(b_bits).astype(np.int64)
    cin = np.zeros_like(a)
    cout = np.zeros_like(a)
    carry = np.zeros(a.shape[1:], np.int64)
    for t in range(a.shape[0]):
        cin[t] = carry
        s = a[t] + b[t] + carry
        carry = s >> 1
        cout[t] = carry
    total = a + b + cin
    return {"a": a.astype(float), "b": b.astype(float), "carry_in": cin.astype(float),
            "carry_out": cout.astype(float), "sum": (total & 1).astype(float)}


def features_sine(values: Any, t: Any = None, period: float | None = None) -> dict[str, np.ndarray]:
    """A sampled sine wave x_t (T,).

    Returns (T,) arrays: "value" x_t, "slope" (central difference, one-sided at the ends),
    "phase_sin", "phase_cos": sin and cos of the phase theta_t of x_t = A sin(theta_t).
    With ``t`` (T,) and ``period`` given, theta_t = 2 pi t / period (plus the offset that
    fits the values best). Otherwise theta is read off the samples: for a pure sine
    x_{t+1} + x_{t-1} = 2 cos(w) x_t, so cos(w) is fitted by least squares, the sequence is
    extended one step at each end with that recurrence, and theta_t = atan2(x_t, s_t / sin w)
    with s_t the central difference -- exact for a noiseless sine of any phase and amplitude.
    """
    x = np.asarray(values, np.float64).reshape(-1)
    T = x.shape[0]
    slope = np.gradient(x) if T > 1 else np.zeros(1)
    if t is not None and period is not None:
        th = 2.0 * np.pi * np.asarray(t, np.float64).reshape(-1) / float(period)
        # offset: x ~ A sin(th + phi) = A cos(phi) sin(th) + A sin(phi) cos(th)
        M = np.stack([np.sin(th), np.cos(th)], axis=1)
        coef, *_ = np.linalg.lstsq(M, x, rcond=None)
        th = th + np.arctan2(coef[1], coef[0])
    elif T >= 3:
        mid = x[1:-1]
        den = 2.0 * float(mid @ mid)
        cw = float(mid @ (x[2:] + x[:-2])) / den if den > 0 else 1.0
        cw = min(max(cw, -1.0), 1.0)
        sw = np.sqrt(1.0 - cw * cw)
        ext = np.concatenate([[2 * cw * x[0] - x[1]], x, [2 * cw * x[-1] - x[-2]]])
        s = 0.5 * (ext[2:] - ext[:-2])  # A sin(w) cos(theta_t)
        th = np.arctan2(x * sw, s) if sw > 1e-12 else np.zeros(T)
    else:
        th = np.zeros(T)
    return {"value": x, "slope": slope, "phase_sin": np.sin(th), "phase_cos": np.cos(th)}


_OPEN, _CLOSE = "([{", ")]}"


def features_text(text: str, quotes: str = '"') -> dict[str, np.ndarray]:
    """Characters of a text (char-lm: a Probe's ``extras["text"]``), one row per character.

    Returns (T,) float arrays, T = len(text):
    "in_quotes"     1 after an odd number of quote characters (``quotes``, default '"') so far,
    "bracket_depth" open (, [, { minus closed ones so far (never below 0),
    "line_position" column of the character (0 = first of its line),
    "indentation"   leading spaces/tabs of the current line read so far,
    "after_newline" 1 if the previous character is a newline (the first of a line),
    "newline"       1 for a newline,
    "is_letter", "is_digit", "is_space", "is_punct" (not letter, digit or space),
    "word_position" 1-based position in the current word (letters, digits, "_"), 0 outside words.
    One Python pass over the characters: T=400 0.4 ms.
    """
    T = len(text)
    f = {k: np.zeros(T) for k in ("in_quotes", "bracket_depth", "line_position", "indentation", "after_newline",
                                   "newline", "is_letter", "is_digit", "is_space", "is_punct", "word_position")}
    inq, depth, col, indent, leading, wpos, prev = False, 0, 0, 0, True, 0, ""
    for t, ch in enumerate(text):
        if prev == "\n":
            col, indent, leading = 0, 0, True
        if ch in quotes:
            inq = not inq
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        if leading and ch in " \t":
            indent += 1
        elif ch != "\n":
            leading = False
        wpos = wpos + 1 if (ch.isalnum() or ch == "_") else 0
        f["in_quotes"][t] = inq
        f["bracket_depth"][t] = depth
        f["line_position"][t] = col
        f["indentation"][t] = indent
        f["after_newline"][t] = prev == "\n"
        f["newline"][t] = ch == "\n"
        f["is_letter"][t] = ch.isalpha()
        f["is_digit"][t] = ch.isdigit()
        f["is_space"][t] = ch.isspace()
        f["is_punct"][t] = not (ch.isalnum() or ch.isspace())
        f["word_position"][t] = wpos
        col += 1
        prev = ch
    return f


def features_words(tokens: Sequence[str], eos: str = "<eos>", unk: str = "<unk>") -> dict[str, np.ndarray]:
    """Word tokens (word-lm: a Probe's ``input_labels``), one row per token.

    Returns (T,) float arrays: "sentence_position" (tokens since the last ``eos``, 0 = first),
    "is_eos", "is_unk", "is_punct" (no letter or digit), "is_number" (digits, or PTB's "N"),
    "word_length" (characters; 0 for eos/unk), "bracket_depth" (as in :func:`features_text`,
    counting bracket tokens), "in_quotes" (after an odd number of '"', "``" or "''" tokens).
    """
    T = len(tokens)
    f = {k: np.zeros(T) for k in ("sentence_position", "is_eos", "is_unk", "is_punct", "is_number", "word_length",
                                   "bracket_depth", "in_quotes")}
    pos, depth, inq = 0, 0, False
    for t, w in enumerate(tokens):
        special = w in (eos, unk)
        if w in ('"', "``", "''"):
            inq = not inq
        if w in _OPEN:
            depth += 1
        elif w in _CLOSE:
            depth = max(depth - 1, 0)
        f["sentence_position"][t] = pos
        f["is_eos"][t] = w == eos
        f["is_unk"][t] = w == unk
        f["is_punct"][t] = not special and not any(c.isalnum() for c in w)
        f["is_number"][t] = w == "N" or (not special and w.replace(".", "").replace(",", "").isdigit())
        f["word_length"][t] = 0 if special else len(w)
        f["bracket_depth"][t] = depth
        f["in_quotes"][t] = inq
        pos = 0 if w == eos else pos + 1
    return f


def features_digits(rows: Any) -> dict[str, np.ndarray]:
    """An image read row by row (digits-rnn: a Probe's ``inputs``, (T, C), or (T, B, C)).

    Returns (T,)/(T, B) arrays: "row" (index t), "ink" (sum of the row), "ink_so_far"
    (cumulative ink up to and including the row), "ink_centre" (ink-weighted mean column,
    the middle column for an empty row).
    """
    x = np.asarray(rows, np.float64)
    T, C = x.shape[0], x.shape[-1]
    ink = x.sum(axis=-1)
    cols = np.arange(C)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(ink > 0, (x @ cols) / np.where(ink > 0, ink, 1.0), (C - 1) / 2.0)
    row = np.broadcast_to(np.arange(T, dtype=np.float64).reshape((T,) + (1,) * (x.ndim - 2)), ink.shape)
    return {"row": np.array(row), "ink": ink, "ink_so_far": np.cumsum(ink, axis=0), "ink_centre": centre}


def _probe_field(probe: Any, name: str) -> Any:
    """``name`` from a probe's ``extras`` dict or from one of its typed ``views`` (None if absent)."""
    extras = getattr(probe, "extras", None)
    if isinstance(extras, Mapping) and name in extras:
        return extras[name]
    for view in getattr(probe, "views", ()) or ():
        if hasattr(view, name):
            return getattr(view, name)
    return None


def features_for_probe(probe: Any) -> dict[str, np.ndarray]:
    """The features of a ``core.probe.Probe`` by its experiment id ({} when there are none).

    Reads the bits (binary-addition) and the text (char-lm) from the probe's extras or views,
    the rows (digits-rnn) and values (sine, one value per step) from ``inputs``, the words
    (word-lm) from ``input_labels``.
    """
    e = probe.experiment
    if e == "binary-addition":
        a, b = _probe_field(probe, "a_bits"), _probe_field(probe, "b_bits")
        return {} if a is None or b is None else features_binary_addition(a, b)
    if e == "sine":
        x = np.asarray(probe.inputs)
        return features_sine(x[:, 0]) if x.shape[0] > 1 and x.shape[1] == 1 else {}
    if e == "char-lm":
        text = _probe_field(probe, "text")
        return features_text(text) if isinstance(text, str) and len(text) == len(probe.input_labels) else {}
    if e == "word-lm":
        return features_words(probe.input_labels)
    if e == "digits-rnn":
        return features_digits(probe.inputs)
    return {}


# -- correlation ------------------------------------------------------------------------


def pearson(X: Any, F: Any, eps: float = 1e-12) -> np.ndarray:
    """Pearson r between every column of F (N, K) and every column of X (N, H) -> (K, H).

    A constant column (std < eps times its scale) gives r = 0, never NaN.
    """
    X = np.asarray(X, np.float64)
    F = np.asarray(F, np.float64)
    Xc = X - X.mean(axis=0)
    Fc = F - F.mean(axis=0)
    sx = np.sqrt(np.einsum("nh,nh->h", Xc, Xc))
    sf = np.sqrt(np.einsum("nk,nk->k", Fc, Fc))
    ok_x = sx > eps * (1.0 + np.abs(X).max(axis=0, initial=0.0)) * np.sqrt(len(X))
    ok_f = sf > eps * (1.0 + np.abs(F).max(axis=0, initial=0.0)) * np.sqrt(len(F))
    r = (Fc.T @ Xc) / (np.where(ok_f, sf, 1.0)[:, None] * np.where(ok_x, sx, 1.0)[None, :])
    r[~ok_f, :] = 0.0
    r[:, ~ok_x] = 0.0
    return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class UnitMatch:
    """One row of the unit table: ``unit`` of ``state`` in ``layer`` tracks ``feature`` with Pearson ``r``."""

    feature: str
    layer: int
    state: str
    unit: int
    r: float


@dataclass(frozen=True)
class UnitTable:
    """The unit finder's result.

    rows:         tuple of :class:`UnitMatch`, sorted by |r| descending (the best ``per_feature``
                  units of each feature).
    features:     feature names, in the order of the correlation rows.
    correlations: (layer, state) -> (F, H) Pearson r of every feature with every unit.
    samples:      number of samples correlated (T, or T * B).
    """

    rows: tuple[UnitMatch, ...]
    features: tuple[str, ...]
    correlations: Mapping[tuple[int, str], np.ndarray]
    samples: int

    def best(self, feature: str) -> UnitMatch | None:
        """The unit with the largest |r| for ``feature`` (None if the feature is unknown)."""
        return next((row for row in self.rows if row.feature == feature), None)


def _layers_of(states: Any) -> list[Mapping[str, np.ndarray]]:
    if hasattr(states, "layers"):  # a Probe
        states = states.layers
    if hasattr(states, "states"):  # one LayerTrace
        return [states.states]
    if isinstance(states, Mapping):
        return [states]
    return [getattr(s, "states", s) for s in states]


def find_units(states: Any, features: Mapping[str, Any], per_feature: int = 5,
               state_keys: Sequence[str] | None = None) -> UnitTable:
    """Rank hidden units by how well they track each feature (|Pearson r|).

    states:   one layer's states, name -> (T, H) (or (T, B, H): every leading axis is a sample),
              or a sequence of such (one per layer, a LayerTrace works), or a Probe.
    features: name -> (T,) (or the same leading shape as the states), e.g. from ``features_*``.
    per_feature: units kept in ``rows`` per feature (all correlations stay in ``correlations``).
    state_keys: which states to search (default all: "h", "c", gates, "pre").
    Cost: one (F, N) @ (N, H) product per state: T=400, H=256, 2 LSTM layers x 6 states,
    11 text features: 10 ms (measured, 2 cores).
    """
    names = tuple(features)
    if not names:
        return UnitTable((), (), {}, 0)
    F = np.stack([np.asarray(features[k], np.float64).reshape(-1) for k in names], axis=1)  # (N, F)
    N = F.shape[0]
    corr: dict[tuple[int, str], np.ndarray] = {}
    cand: list[tuple[float, UnitMatch]] = []
    for li, layer in enumerate(_layers_of(states)):
        for key, arr in layer.items():
            if state_keys is not None and key not in state_keys:
                continue
            a = np.asarray(arr)
            X = a.reshape(-1, a.shape[-1])
            if X.shape[0] != N:
                raise ValueError(f"layer {li} state {key!r} has {X.shape[0]} samples, the features have {N}")
            r = pearson(X, F)  # (F, H)
            corr[(li, key)] = r
            k = min(per_feature, r.shape[1])
            top = np.argsort(-np.abs(r), axis=1, kind="stable")[:, :k]  # (F, k)
            for fi, name in enumerate(names):
                for u in top[fi]:
                    cand.append((abs(r[fi, u]), UnitMatch(name, li, key, int(u), float(r[fi, u]))))
    rows = []
    for name in names:  # the best per_feature over all layers and states
        mine = sorted((c for c in cand if c[1].feature == name), key=lambda c: -c[0])[:per_feature]
        rows.extend(mine)
    rows.sort(key=lambda c: -c[0])
    return UnitTable(tuple(m for _, m in rows), names, corr, N)


# -- Karpathy's red/blue text ------------------------------------------------------------


@dataclass(frozen=True)
class TextActivation:
    """Per-character data for the red/blue text view of one unit.

    chars:       T display strings (one per input character).
    activation:  (T,) the unit's value after reading each character.
    value_range: (lo, hi) the fixed colour scale (tanh -1..1, gates 0..1).
    surprise:    (T,) -log p(actual next character) in nats from the model's output at t,
                 NaN where the next character is unknown; None without outputs.
    """

    chars: tuple[str, ...]
    activation: np.ndarray
    value_range: tuple[float, float]
    surprise: np.ndarray | None


def surprise(probs: Any, next_ids: Any) -> np.ndarray:
    """-log p_t(next_ids[t]) for probs (T, V) (rows sum to 1) and next_ids (T,) int; -1 -> NaN."""
    p = np.asarray(probs, np.float64)
    ids = np.asarray(next_ids)
    ok = (ids >= 0) & (ids < p.shape[1])
    out = np.full(len(ids), np.nan)
    pk = p[np.nonzero(ok)[0], ids[ok]]
    out[ok] = -np.log(np.maximum(pk, 1e-300))
    return out


def text_activation(chars: Sequence[str], activation: Any, value_range: tuple[float, float] = (-1.0, 1.0),
                    probs: Any = None, next_ids: Any = None) -> TextActivation:
    """The red/blue text data from arrays: chars (T), activation (T,), probs (T, V), next_ids (T,)."""
    act = np.asarray(activation, np.float64).reshape(-1)
    if len(chars) != len(act):
        raise ValueError(f"{len(chars)} characters but {len(act)} activations")
    s = None if probs is None or next_ids is None else surprise(probs, next_ids)
    return TextActivation(tuple(chars), act, (float(value_range[0]), float(value_range[1])), s)


def probe_text_activation(probe: Any, layer: int, state: str, unit: int) -> TextActivation:
    """:func:`text_activation` for unit ``unit`` of ``probe.layers[layer].states[state]``
    (a char-lm or word-lm Probe: surprise from ``outputs`` and ``target_labels``). ~0.1 ms."""
    tr = probe.layers[layer]
    act = np.asarray(tr.states[state])[:, unit]
    index = {lab: k for k, lab in enumerate(probe.output_labels)}
    ids = np.array([index.get(lab, -1) for lab in probe.target_labels]) if probe.target_labels else None
    probs = probe.outputs if ids is not None and len(ids) == len(act) else None
    return text_activation(probe.input_labels, act, tr.value_range(state), probs, ids)
