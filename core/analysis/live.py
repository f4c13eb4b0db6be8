"""Live analysis views: the :class:`Analyst` that ``core.run.Run`` asks for views of the watched kinds.

``Run.frame`` calls ``analyst.views(experiment, probe_or_None, watched)`` when views are due and
something is watched (or a result is pending); ``Run._analyze`` calls ``analyst.request(kind, experiment)``.
The kinds are the strings of ``core.analysis.views.KINDS``:

* live, recomputed while watched: "units", "gradients", "spectrum", "saturation";
* "memory" (Madsen connectivity): while watched, recomputed every ``MEMORY_EVERY`` seconds, or on request;
* "fixed_points": only on request (a button): it can take seconds on a large LSTM.

Nothing is computed for a kind nobody watches. The work itself never runs in the training thread:
``views`` only copies the model (``copy.deepcopy`` of the recurrent stack and readout, ~0.1-1 ms) and the
inputs, and hands them to a short-lived background thread (one per job, at most one job per kind family). That thread shares the GIL with training, so the
Analyst paces itself: a new live job starts only when the last one ended at least ``DUTY`` times its
own duration ago (and at least ``LIVE_INTERVAL`` s), so analysis takes at most ~1/(DUTY+1) of the time.
Results come back in the next ``views`` call after they are ready. ``Analyst(background=False)`` runs
every job inline instead (tests, the ``rnnlab analyze`` command).

The long probe: the unit finder, the gradient flow, the saturation and the fixed points all read the
model's states on a fixed set of *lanes* (independent sequences from a zero state), built once per
experiment from its own held-out data (:func:`lanes_for`): 8 passages x 128 characters of validation
text (char-lm), 8 x 64 words (word-lm), 64 random pairs (binary addition), 100 test windows (sine),
128 test digits (digits-rnn). Reading the experiment's data uses a few of its attributes
(``val_ids``, ``_inputs``, ``test_x`` ...); an experiment without them falls back on its probe.
"""
from __future__ import annotations

import copy
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.analysis.cells import model_weights
from core.analysis.fixed_points import find_fixed_points, starts_from_trace
from core.analysis.gradient_flow import gradient_flow, itemized_bptt
from core.analysis.memory import connectivity
from core.analysis.saturation import gate_saturation
from core.analysis.spectrum import recurrent_spectrum
from core.analysis.units import (features_binary_addition, features_digits, features_sine, features_text,
                                 features_words, find_units)
from core.analysis.views import (KINDS, VIEW_OF_KIND, FixedPointsView, GradientsView, MemoryView, SaturationView,
                                 SpectrumView, UnitsView)
from core.nn.cells import state_range
from core.probe import frozen_array
from core.views import View

LIVE_KINDS = ("units", "gradients", "spectrum", "saturation")
LIVE_INTERVAL = 0.75  # s: live analyses at most this often (and only when the step changed)
DUTY = 6.0  # a new job waits DUTY x the last job's duration: analysis <= ~1/7 of the time
MEMORY_EVERY = 5.0  # s: connectivity recomputed this often while watched (or on request)
HISTORY_MAX = 1000  # spectrum history points kept (halved by decimation when full)
MAX_LAG = 64  # gradient flow: lags shown
TEXT_LANES, TEXT_LEN, WORD_LEN = 8, 128, 64


# -- the long probe -----------------------------------------------------------------------------
@dataclass
class Lanes:
    """Fixed inputs of one experiment: B independent sequences of T steps.

    ids:      (T, B) token ids (language models) or None; x: (T, B, D) input vectors (None when they
              depend on the parameters: an embedding; then ``inputs(ids)`` builds them).
    features: name -> (T, B) for the unit finder. tokens: per lane the T display strings (text).
    loss:     how the per-step error signal for itemized BPTT is formed: "softmax" (targets (T, B) ids),
              "sigmoid" (targets (T, B, K) 0/1), "mse_last" (targets (B,)), "softmax_last" (targets (B,)), "".
    x_star:   the constant input for fixed points (D,) and what it is.
    """

    x: np.ndarray | None
    ids: np.ndarray | None
    features: Mapping[str, np.ndarray]
    source: str
    tokens: list[list[str]] = field(default_factory=list)
    loss: str = ""
    targets: np.ndarray | None = None
    x_star: np.ndarray | None = None
    x_star_note: str = "zero input"
    text: bool = False


def recurrent_model(exp: Any) -> Any:
    """The experiment's recurrent stack (``exp.rnn``) or None."""
    return getattr(exp, "rnn", None)


def lanes_for(exp: Any, probe: Any = None) -> Lanes:
    """The long probe of ``exp`` (see the module docstring); the experiment's probe as a last resort."""
    eid = getattr(exp, "id", "")
    if hasattr(exp, "val_ids") and hasattr(exp, "_inputs") and hasattr(exp, "_label"):  # char-lm, word-lm
        words = eid == "word-lm"
        T = WORD_LEN if words else TEXT_LEN
        val = np.asarray(exp.val_ids)
        B = max(1, min(TEXT_LANES, (len(val) - 1) // T))
        T = min(T, len(val) - 1)
        starts = np.linspace(0, len(val) - T - 1, B).astype(np.int64)
        idx = starts[None, :] + np.arange(T)[:, None]
        ids, nxt = val[idx], val[idx + 1]
        tokens = [[exp._label(int(i)) for i in ids[:, b]] for b in range(B)]
        feats: dict[str, list] = {}
        for b in range(B):
            if words:
                f = features_words(tokens[b])
            else:
                text = "".join(exp._decode([int(i)]) for i in ids[:, b])
                if len(text) == T:
                    tokens[b] = list(text)  # the raw characters (newlines, spaces) for the coloured text
                f = features_text(text) if len(text) == T else features_text("".join(t[:1] for t in tokens[b]))
            for k, v in f.items():
                feats.setdefault(k, []).append(v)
        features = {k: np.stack(v, axis=1) for k, v in feats.items()}
        star = " " if not words else "<eos>"
        try:
            sid = int(exp._encode_prime(star)[0]) if not words else int(exp.vocab.encode([star])[0])
        except Exception:  # noqa: BLE001 — no such token: zero input
            sid = None
        what = f"{B} passages x {T} {'words' if words else 'characters'} of held-out text"
        return Lanes(None, ids, features, what, tokens, "softmax", nxt, None if sid is None else np.array([sid]),
                     f"the input '{star}' held constant" if sid is not None else "zero input", True)
    if eid == "binary-addition" and hasattr(exp, "bits"):
        from core.data import binary as data

        a, b = data.random_pairs(np.random.default_rng(7), 64, exp.bits)
        x, y = data.make_batch(a, b, exp.bits)  # (T, B, 2), (T, B, 1)
        return Lanes(np.asarray(x, np.float64), None, features_binary_addition(x[..., 0], x[..., 1]),
                     "64 random pairs (8 bits each, LSB first)", [], "sigmoid", y, np.array([0.0, 1.0]),
                     "input a=0, b=1 held constant (the carry should persist: two attractors)")
    if eid == "sine" and hasattr(exp, "test_x") and hasattr(exp, "_seq"):
        n = len(exp.test_x)
        idx = np.linspace(0, n - 1, min(100, n)).astype(np.int64)
        windows = np.asarray(exp.test_x[idx])
        x = np.asarray(exp._seq(windows), np.float64)  # (T, B, D)
        data = exp.data
        W = windows.shape[1]
        full = features_sine(np.asarray(data.clean, np.float64), t=np.asarray(data.t, np.float64), period=2 * np.pi)
        pos = data.n_train + idx[None, :] - W + np.arange(W)[:, None]  # (W, B) series index of each input
        if x.shape[0] == 1:  # the window as features: one step, described by its newest value
            pos = pos[-1:]
        features = {k: v[pos] for k, v in full.items()}
        features["value"] = np.asarray(data.observed, np.float64)[pos]
        return Lanes(x, None, features, f"{len(idx)} test windows of {W} values", [], "mse_last",
                     np.asarray(exp.test_y[idx], np.float64), np.zeros(x.shape[-1]), "zero input held constant")
    if eid == "digits-rnn" and hasattr(exp, "test_seq"):
        x = np.asarray(exp.test_seq[:, :128], np.float64)  # (R, B, C)
        labels = np.asarray(exp.data.y_test[:128])
        return Lanes(x, None, features_digits(x), f"{x.shape[1]} test images read row by row", [], "softmax_last",
                     labels, np.zeros(x.shape[-1]), "a blank row held constant")
    if probe is not None and getattr(probe, "inputs", None) is not None:
        x = np.asarray(probe.inputs, np.float64)[:, None, :]
        return Lanes(x, None, {}, "the probe example", [], "", None, np.zeros(x.shape[-1]), "zero input held constant")
    x = getattr(exp, "x", None)  # worked-example keeps its inputs (T, 1, D)
    if x is not None:
        x = np.asarray(x, np.float64)
        return Lanes(x, None, {}, "the example sequence", [], "", None, np.zeros(x.shape[-1]),
                     "zero input held constant")
    raise ValueError(f"{eid}: no input sequences to analyse")


@dataclass
class ModelCopy:
    """What a background job needs: copies of the recurrent stack and the readout, the inputs."""

    step: int
    rnn: Any
    out: Any
    x: np.ndarray  # (T, B, D) in the model's dtype
    x_star: np.ndarray | None
    cell: str
    activation: str
    lanes: Lanes


def copy_model(exp: Any, lanes: Lanes) -> ModelCopy:
    """Deep copies of ``exp.rnn`` and ``exp.out`` and the input vectors (the embedding applied now)."""
    rnn = recurrent_model(exp)
    if lanes.x is not None:
        x = lanes.x
    else:
        x = np.asarray(exp._inputs(lanes.ids))
    dtype = getattr(rnn, "dtype", np.float32)
    x_star = lanes.x_star
    if x_star is not None and lanes.ids is not None:  # a token id: its input vector
        x_star = np.asarray(exp._inputs(np.asarray(x_star, np.int64).reshape(1, 1)))[0, 0]
    W = model_weights(rnn)
    return ModelCopy(int(exp.step), copy.deepcopy(rnn), copy.deepcopy(getattr(exp, "out", None)),
                     np.asarray(x, dtype), None if x_star is None else np.asarray(x_star, np.float64),
                     W[0].cell, W[0].activation, lanes)


# -- the analyses on a copy ------------------------------------------------------------------------
@dataclass
class Trace:
    states: list[dict[str, np.ndarray]]  # per layer name -> (T, B, H) float64
    logits: np.ndarray | None  # (T, B, K) readout applied at every step, or None
    names: list[str]
    cells: list[str]
    activations: list[str]


def run_trace(m: ModelCopy) -> Trace:
    y, _, cache = m.rnn.forward(m.x, None, train=False)
    states = [{k: np.asarray(v, np.float64) for k, v in s.items()} for s in m.rnn.trace(cache)]
    logits = None
    if m.out is not None and hasattr(m.out, "forward"):
        logits = np.asarray(m.out.forward(y)[0], np.float64)
    Ws = model_weights(m.rnn)
    return Trace(states, logits, [f"layer {i + 1} ({w.cell})" for i, w in enumerate(Ws)], [w.cell for w in Ws],
                 [w.activation for w in Ws])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def display_lanes(T: int, B: int, text: bool) -> int:
    """How many lanes the unit view shows (about 384 characters of text, 128 steps otherwise)."""
    return max(1, min(B, (3 * TEXT_LEN if text else 128) // max(T, 1)))


def units_view(m: ModelCopy, tr: Trace, per_feature: int = 3) -> UnitsView:
    lanes = m.lanes
    if not lanes.features:
        return UnitsView(m.step, "unavailable", "This experiment has no named features to correlate with.")
    table = find_units(tr.states, lanes.features, per_feature=per_feature)
    rows = tuple((r.feature, r.layer, r.state, r.unit, r.r) for r in table.rows)
    T, B = next(iter(lanes.features.values())).shape[:2]
    k = display_lanes(T, B, lanes.text)
    units: list[tuple[int, str, int]] = []
    for _, layer, state, unit, _ in rows:
        if (layer, state, unit) not in units:
            units.append((layer, state, unit))
    act = np.stack([tr.states[l][s][:, :k, u].T.reshape(-1) for l, s, u in units]) if units else np.zeros((0, T * k))
    ranges = tuple(state_range(tr.cells[l], tr.activations[l], s, tr.states[l][s]) for l, s, _ in units)
    chars: tuple[str, ...] = ()
    sur = None
    if lanes.text:
        chars = tuple(t for b in range(k) for t in lanes.tokens[b])
        if tr.logits is not None and lanes.targets is not None:
            p = _softmax(tr.logits[:, :k])  # (T, k, V)
            tgt = lanes.targets[:, :k]
            pk = np.take_along_axis(p, tgt[..., None], axis=-1)[..., 0]  # (T, k)
            sur = frozen_array(-np.log(np.maximum(pk.T.reshape(-1), 1e-300)))
    feats = tuple((name, frozen_array(np.asarray(v)[:, :k].T.reshape(-1))) for name, v in lanes.features.items())
    return UnitsView(m.step, "ok", "", rows, table.samples, lanes.source, tuple(tr.names), chars, tuple(units),
                     frozen_array(act), ranges, sur, feats, tuple(range(T, T * k, T)))


def error_signal(m: ModelCopy, tr: Trace, lane: int = 0) -> tuple[np.ndarray | None, str]:
    """dL/dh_t of the top layer (T, H) on one lane from the readout, and what the loss is."""
    lanes, out = m.lanes, m.out
    if tr.logits is None or lanes.targets is None or out is None or "W" not in getattr(out, "params", {}):
        return None, ""
    z = tr.logits[:, lane]  # (T, K)
    T = z.shape[0]
    d = np.zeros_like(z)
    if lanes.loss == "softmax":
        d = _softmax(z)
        d[np.arange(T), lanes.targets[:, lane]] -= 1.0
        note = "cross-entropy of every next token"
    elif lanes.loss == "sigmoid":
        d = 1.0 / (1.0 + np.exp(-z)) - np.asarray(lanes.targets[:, lane], np.float64)
        note = "cross-entropy of every sum bit"
    elif lanes.loss == "mse_last":
        d[-1] = 2.0 * (z[-1] - lanes.targets[lane])
        note = "squared error of the prediction after the last step"
    elif lanes.loss == "softmax_last":
        d[-1] = _softmax(z[-1])
        d[-1, int(lanes.targets[lane])] -= 1.0
        note = "cross-entropy of the class after the last row"
    else:
        return None, ""
    return d @ np.asarray(out.params["W"], np.float64).T, note


def lane_states(tr: Trace, layer: int, lane: int) -> dict[str, np.ndarray]:
    return {k: v[:, lane] for k, v in tr.states[layer].items()}


def gradients_view(m: ModelCopy, tr: Trace, max_lag: int = MAX_LAG, n_lanes: int = 4) -> GradientsView:
    Ws = model_weights(m.rnn)
    B = m.x.shape[1]
    T = m.x.shape[0]
    big = max(W.Wh.size for W in Ws) >= 128 * 128  # e.g. an LSTM 64 or an RNN 128: ~1-5 ms per lag
    lanes = list(range(min(B, 1 if big else n_lanes)))
    max_lag = min(max_lag, 48) if big else max_lag
    layers, cells = [], []
    for li, W in enumerate(Ws):
        norms, cnorms = [], []
        for b in lanes:
            g = gradient_flow(W, lane_states(tr, li, b), max_lag=max_lag)
            norms.append(g.norm)
            if g.norm_cell is not None:
                cnorms.append(g.norm_cell)
        lags = np.arange(1, len(norms[0]) + 1)
        layers.append((tr.names[li], W.cell, frozen_array(lags), frozen_array(_geomean(norms))))
        cells.append(frozen_array(_geomean(cnorms)) if cnorms else None)
    item, note = None, ""
    dy, what = error_signal(m, tr)
    if dy is not None and T > 1:
        top = len(Ws) - 1
        it = itemized_bptt(Ws[top], lane_states(tr, top, 0), dy, max_lag=max_lag)
        item = (frozen_array(it.lags), frozen_array(it.norm), frozen_array(it.cosine))
        note = f"{tr.names[top]}, one sequence, loss: {what}"
    lag_note = f"from the last of {T} steps, mean over {len(lanes)} sequences" if T > 1 else \
        "one step per sequence: no lags to follow"
    return GradientsView(m.step, "ok", lag_note, tuple(layers), tuple(cells), item, note)


def _geomean(rows: Sequence[np.ndarray]) -> np.ndarray:
    a = np.stack(rows)
    return np.exp(np.mean(np.log(np.maximum(a, 1e-300)), axis=0))


def spectrum_now(rnn: Any) -> tuple[list[str], list[str], np.ndarray, np.ndarray, list, list]:
    """(names, cells, sigma_max (L,), spectral_radius (L,), bounds, eigenvalues per layer) of a model."""
    names, cells, sig, rad, bounds, eigs = [], [], [], [], [], []
    for i, W in enumerate(model_weights(rnn)):
        s = recurrent_spectrum(W)
        names.append(f"layer {i + 1} ({W.cell})")
        cells.append(W.cell)
        if W.cell == "rnn":
            b = s.block("hh")
            sig.append(b.sigma_max)
            rad.append(b.spectral_radius)
        else:
            sig.append(s.block("all").sigma_max)
            rad.append(max(b.spectral_radius for b in s.blocks if b.eigenvalues is not None))
        bounds.append(s.vanishing_bound)
        eigs.append(tuple((b.name, frozen_array(b.eigenvalues)) for b in s.blocks if b.eigenvalues is not None))
    return names, cells, np.array(sig), np.array(rad), bounds, eigs


def saturation_view(m: ModelCopy, tr: Trace) -> SaturationView:
    layers = []
    for li, st in enumerate(tr.states):
        gates = tuple(g for g in ("i", "f", "o", "r", "z") if g in st)
        if not gates:
            continue
        s = gate_saturation(st, gates)
        layers.append((tr.names[li], gates, tuple(frozen_array(s.left[g]) for g in gates),
                       tuple(frozen_array(s.right[g]) for g in gates)))
    if not layers:
        return SaturationView(m.step, "unavailable", f"A plain {m.cell.upper()} has no gates: gate saturation "
                                                     "applies to LSTM and GRU layers.")
    T, B = m.x.shape[:2]
    return SaturationView(m.step, "ok", "", tuple(layers), T * B)


def memory_profile(M: np.ndarray, t_out: np.ndarray, threshold: float = 0.1) -> tuple[np.ndarray, int | None]:
    """Mean influence at lag k relative to lag 0 over the rows, and the first lag where it is < threshold."""
    K = int(t_out.max()) + 1
    prof = np.zeros(K)
    for k in range(K):
        rows = np.flatnonzero(t_out >= k)
        base = M[rows, t_out[rows]]
        ok = base > 0
        prof[k] = float(np.mean(M[rows[ok], t_out[rows[ok]] - k] / base[ok])) if ok.any() else 0.0
    below = np.flatnonzero(prof[1:] < threshold)
    return prof, (int(below[0]) + 1 if below.size else None)


def memory_view(m: ModelCopy, lane: int = 0) -> MemoryView:
    t0 = time.perf_counter()
    x = m.x[:, lane]
    T = x.shape[0]
    if T < 2:
        return MemoryView(m.step, "unavailable", "Each sequence is one step long: there is no memory to measure.")
    readout = m.out if m.out is not None and "W" in getattr(m.out, "params", {}) else None
    c = connectivity(m.rnn, x, readout=readout, t_out=np.arange(T), unit=None if readout is not None else 0)
    prof, horizon = memory_profile(c.matrix, c.t_out)
    labels = tuple(m.lanes.tokens[lane]) if m.lanes.tokens else tuple(str(t) for t in range(T))
    return MemoryView(m.step, "ok", "", frozen_array(c.matrix), frozen_array(c.t_out), labels, frozen_array(prof),
                      horizon, time.perf_counter() - t0)


def fixed_points_view(m: ModelCopy, tr: Trace, n_lanes: int = 8, per_lane: int = 4, k_eig: int = 4) -> FixedPointsView:
    t0 = time.perf_counter()
    W = model_weights(m.rnn)[0]
    st = tr.states[0]
    B = m.x.shape[1]
    lanes = list(range(min(B, n_lanes)))
    h = st["h"][:, lanes]  # (T, b, H)
    H = W.hidden_size
    if m.x.shape[0] < 2:  # one step per sequence (sine with the window as features): starts across lanes
        starts = starts_from_trace({k: v[0] for k, v in st.items()}, n=n_lanes * per_lane)
    else:
        starts = np.concatenate([starts_from_trace({k: v[:, b] for k, v in st.items()}, n=per_lane) for b in lanes])
    n = 2 * H if W.cell == "lstm" else H
    if n > 128:  # large: fewer starts (each iteration solves n x n systems per start), fewer iterations
        starts = starts[np.linspace(0, len(starts) - 1, 8).astype(int)]
    fp = find_fixed_points(W, starts, x=m.x_star, max_iter=200 if n <= 128 else 40)
    flat = h.reshape(-1, H)
    mean = flat.mean(axis=0)
    U, S, Vt = np.linalg.svd(flat - mean, full_matrices=False)
    P = Vt[:2].T if Vt.shape[0] >= 2 else np.eye(H)[:, :2]
    var = S ** 2
    explained = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    trajs = tuple(frozen_array((h[:, j] - mean) @ P) for j in range(h.shape[1]))
    pts = np.array([p.state[:H] for p in fp.points]).reshape(-1, H)
    proj = (pts - mean) @ P if len(pts) else np.zeros((0, 2))
    eig = np.zeros((len(fp.points), k_eig), complex)
    for i, p in enumerate(fp.points):
        ev = p.eigenvalues[:k_eig]
        eig[i, :len(ev)] = ev
    note = f"{len(fp.points)} fixed/slow points from {len(starts)} starts"
    return FixedPointsView(m.step, "ok", note, tr.names[0], trajs, frozen_array(proj),
                           frozen_array([p.q for p in fp.points]), frozen_array([p.stable for p in fp.points], bool),
                           frozen_array([p.unstable_dims for p in fp.points], np.int64), frozen_array(eig),
                           frozen_array(explained), m.lanes.x_star_note,
                           time.perf_counter() - t0)


# -- the engine ----------------------------------------------------------------------------------------
class Analyst:
    """Computes the watched analysis views of a training run off the training thread (see the module doc).

    ``views(experiment, probe, watched)`` -> the views that are new since the last call;
    ``request(kind, experiment)`` starts an on-demand computation; ``pending()`` is True while one is
    under way or a result waits to be handed out. ``seconds``: kind -> the last job's compute time.
    """

    def __init__(self, background: bool = True, clock: Callable[[], float] = time.perf_counter):
        self.background = background
        self.clock = clock
        self._lock = threading.Lock()
        self._reset(None)

    def _reset(self, exp: Any) -> None:
        self._exp = exp
        self._gen = getattr(self, "_gen", 0) + 1
        self._lanes: Lanes | None = None
        self._lanes_error = ""
        self._jobs: dict[str, Future] = {}  # "live" | "memory" | "fixed_points" -> running job
        self._ready: dict[str, View] = {}  # results not yet handed out
        self._have: dict[str, int] = {}  # kind -> step of the last result handed out
        self._requested: set[str] = set()
        self._watched: tuple[str, ...] = ()
        self._next_live = 0.0
        self._next_memory = 0.0
        self._hist_steps: list[int] = []
        self._hist_sigma: list[np.ndarray] = []
        self._hist_radius: list[np.ndarray] = []
        self.seconds: dict[str, float] = {}

    # -- the Run's interface ----------------------------------------------------------------------
    def pending(self) -> bool:
        with self._lock:
            return bool(self._jobs or self._ready or self._requested)

    def ready(self) -> bool:
        """True when a result waits to be handed out (a finished job, a "computing" notice), or when the
        watched live views are behind the model and due (the run asks for views then, e.g. after a pause)."""
        with self._lock:
            if self._ready:
                return True
        if any(f.done() for f in list(self._jobs.values())):
            return True
        exp, live = self._exp, [k for k in self._watched if k in LIVE_KINDS]
        return bool(live and exp is not None and "live" not in self._jobs and self.clock() >= self._next_live
                    and any(self._have.get(k) != int(exp.step) for k in live))

    def request(self, kind: str, experiment: Any) -> None:
        """Start ``kind`` now (raises ValueError for an unknown kind or a model without a recurrent layer)."""
        if kind not in KINDS:
            raise ValueError(f"unknown analysis {kind!r}: one of {', '.join(KINDS)}")
        if recurrent_model(experiment) is None:
            raise ValueError(f"{getattr(experiment, 'title', 'this experiment')} has no recurrent layer to analyse")
        if experiment is not self._exp:
            self._reset(experiment)
        with self._lock:
            self._requested.add(kind)
        if not self.background:
            self._schedule(experiment, None, (), self.clock())

    def views(self, experiment: Any, probe: Any, watched: Sequence[str]) -> tuple[View, ...]:
        if experiment is not self._exp:
            self._reset(experiment)
        watched = tuple(k for k in watched if k in KINDS)
        self._watched = watched
        if recurrent_model(experiment) is None:
            out = tuple(VIEW_OF_KIND[k](int(getattr(experiment, "step", 0)), "unavailable",
                                        "This model has no recurrent layer.") for k in watched
                        if self._have.get(k) != -1)
            self._have.update((k, -1) for k in watched)
            return out
        now = self.clock()
        self._schedule(experiment, probe, watched, now)
        with self._lock:
            ready, self._ready = self._ready, {}
        for k, v in ready.items():
            self._have[k] = getattr(v, "step", 0)
        return tuple(ready.values())

    # -- scheduling ---------------------------------------------------------------------------------
    def _schedule(self, exp: Any, probe: Any, watched: tuple[str, ...], now: float) -> None:
        self._collect()
        step = int(exp.step)
        with self._lock:
            if not watched and not self._requested:
                return
        if self._lanes is None and not self._lanes_error:
            try:
                self._lanes = lanes_for(exp, probe)
            except Exception as exc:  # noqa: BLE001 — shown in the panels
                self._lanes_error = f"{type(exc).__name__}: {exc}"
        if self._lanes is None:
            with self._lock:
                for k in set(watched) | self._requested:
                    if self._have.get(k) != -2:
                        self._ready[k] = VIEW_OF_KIND[k](step, "error", self._lanes_error)
                        self._have[k] = -2
                self._requested.clear()
            return
        with self._lock:
            requested = set(self._requested)
        live = [k for k in LIVE_KINDS if k in watched or k in requested]
        missing = [k for k in live if k not in self._have and k not in self._ready]
        due = now >= self._next_live and any(self._have.get(k) != step for k in live)
        if live and "live" not in self._jobs and (missing or requested & set(LIVE_KINDS) or due):
            kinds = live if due else sorted(set(missing) | (requested & set(LIVE_KINDS)), key=live.index)
            self._submit("live", exp, kinds, now)
            self._discard(kinds)
        mem = "memory" in requested or ("memory" in watched and (now >= self._next_memory and
                                                                 self._have.get("memory") != step
                                                                 or "memory" not in self._have))
        if mem and "memory" not in self._jobs:
            self._submit("memory", exp, ["memory"], now)
            self._discard(["memory"])
        if "fixed_points" in requested and "fixed_points" not in self._jobs:
            self._submit("fixed_points", exp, ["fixed_points"], now)
            self._discard(["fixed_points"])
        if not self.background:
            self._collect()

    def _discard(self, kinds: Sequence[str]) -> None:
        with self._lock:
            self._requested.difference_update(kinds)

    def _submit(self, job: str, exp: Any, kinds: list[str], now: float) -> None:
        m = copy_model(exp, self._lanes)
        gen = self._gen
        if job != "live":  # tell the panel it has started (the live kinds arrive fast enough)
            with self._lock:
                self._ready[job] = VIEW_OF_KIND[job](m.step, "computing", f"computing (started at step {m.step:,})…")
        f: Future = Future()
        self._jobs[job] = f
        if not self.background:
            f.set_result(self._run_job(job, m, kinds, gen))
            return

        def work() -> None:  # one short-lived daemon thread per job: nothing lingers once it is done
            try:
                f.set_result(self._run_job(job, m, kinds, gen))
            except BaseException as exc:  # noqa: BLE001 — handed to _collect
                f.set_exception(exc)

        threading.Thread(target=work, name=f"rnnlab-analysis-{job}", daemon=True).start()

    def _run_job(self, job: str, m: ModelCopy, kinds: list[str], gen: int) -> tuple[int, float, dict[str, View]]:
        t0 = time.perf_counter()
        out: dict[str, View] = {}
        with np.errstate(all="ignore"):
            tr = None
            for k in kinds:
                try:
                    if k in ("units", "gradients", "saturation", "fixed_points") and tr is None:
                        tr = run_trace(m)
                    out[k] = self._compute(k, m, tr)
                except Exception as exc:  # noqa: BLE001 — a failed analysis is a message, not a crash
                    out[k] = VIEW_OF_KIND[k](m.step, "error", f"{type(exc).__name__}: {exc}")
        return gen, time.perf_counter() - t0, out

    def _compute(self, kind: str, m: ModelCopy, tr: Trace | None) -> View:
        if kind == "units":
            return units_view(m, tr)
        if kind == "gradients":
            return gradients_view(m, tr)
        if kind == "saturation":
            return saturation_view(m, tr)
        if kind == "memory":
            return memory_view(m)
        if kind == "fixed_points":
            return fixed_points_view(m, tr)
        names, cells, sig, rad, bounds, eigs = spectrum_now(m.rnn)
        with self._lock:
            if not self._hist_steps or self._hist_steps[-1] != m.step:
                self._hist_steps.append(m.step)
                self._hist_sigma.append(sig)
                self._hist_radius.append(rad)
                if len(self._hist_steps) > HISTORY_MAX:  # keep every other point: bounded, spans all of training
                    for h in (self._hist_steps, self._hist_sigma, self._hist_radius):
                        h[:] = h[::2]
            hs, hsig, hrad = list(self._hist_steps), list(self._hist_sigma), list(self._hist_radius)
        return SpectrumView(m.step, "ok", "", tuple(names), tuple(cells), frozen_array(sig), frozen_array(rad),
                            tuple(bounds), tuple(eigs), frozen_array(hs, np.int64), frozen_array(hsig),
                            frozen_array(hrad))

    def _collect(self) -> None:
        """Move finished jobs' results to ``_ready`` and set when the next ones may start."""
        for job, fut in list(self._jobs.items()):
            if not fut.done():
                continue
            del self._jobs[job]
            try:
                gen, seconds, views = fut.result()
            except Exception as exc:  # noqa: BLE001
                gen, seconds, views = self._gen, 0.0, {job: VIEW_OF_KIND.get(job, UnitsView)(
                    0, "error", f"{type(exc).__name__}: {exc}")}
            if gen != self._gen:
                continue  # a previous model's result
            now = self.clock()
            self.seconds[job] = seconds
            if job == "live":
                self._next_live = now + max(LIVE_INTERVAL, DUTY * seconds)
            elif job == "memory":
                self._next_memory = now + max(MEMORY_EVERY, DUTY * seconds)
            with self._lock:
                self._ready.update(views)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until no job runs (tests); True if none is left."""
        end = time.perf_counter() + timeout
        for f in list(self._jobs.values()):
            try:
                f.exception(timeout=max(0.0, end - time.perf_counter()))
            except Exception:  # noqa: BLE001 — a timeout
                return False
        return True


def wait_for(analyst: Analyst, experiment: Any, watched: Sequence[str], kinds: Sequence[str],
             timeout: float = 30.0, probe: Any = None) -> dict[str, View]:
    """Call ``views`` until a finished ("ok"/"unavailable"/"error") view of each of ``kinds`` arrived (tests, CLI)."""
    got: dict[str, View] = {}
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        for v in analyst.views(experiment, probe, watched):
            kind = next(k for k, t in VIEW_OF_KIND.items() if isinstance(v, t))
            if getattr(v, "status", "") != "computing":
                got[kind] = v
        if all(k in got for k in kinds):
            return got
        time.sleep(0.01)
    raise TimeoutError(f"no result for {[k for k in kinds if k not in got]} within {timeout} s")
