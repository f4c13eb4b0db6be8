"""Binary addition: a sigmoid RNN learns to add two numbers bit by bit, LSB first.

Model: ``h_t = sigmoid(x_t Wxh + h_{t-1} Whh + bh)`` with 2 inputs (a_t, b_t) and
16 hidden units; ``p_t = sigmoid(h_t W + b)`` is the predicted sum bit. The only
thing the network has to remember between steps is the carry, so a well-trained
hidden state holds a unit that tracks it (see :func:`carry_correlation`).

Presets
    default  batches of 64 random pairs, Adam lr 0.1, binary cross-entropy:
             100% exact sums on all 128 x 128 pairs after ~150-200 steps
             (about 0.1-0.3 s of training).
    trask    the iamtrask tutorial ("Anyone Can Learn To Code an LSTM-RNN in
             Python", 2015), reproduced: one pair per step (a, b < 2^(bits-1), so
             no overflow), weights U(-1, 1), no biases, error = y - p with the
             sigmoid derivative (i.e. gradient of 0.5 * sum_t (p_t - y_t)^2 w.r.t.
             the output pre-activation), updates summed over the 8 timesteps,
             plain SGD with alpha = 0.1, 10,000 iterations (reaches 100% around
             iteration 7,000 with seed 0). The tutorial's
             np.random stream differs from ours, so the trajectory is the same
             algorithm, not the same numbers.

Metrics: ``accuracy`` = fraction of exactly right sums over ALL pairs
a, b < 2^(bits-1); ``bit_accuracy`` per bit; ``val_loss`` the training loss
over them; ``carry_corr`` = |correlation| of the most carry-like hidden unit.

How the pairs are evaluated: the network reads the bits LSB first from a zero
state, so pairs that share their low k bits share their first k hidden states,
outputs, targets and carries. Evaluations run over the pairs' prefix tree
(core.data.binary.prefix_tree): each shared prefix's state is computed once and
counted once per pair under it (38,228 states instead of 8 x 16,384 = 131,072
for 8 bits; the recurrent product once per parent). The metrics are the ones
of the plain batch of all pairs (``_evaluate_on``, the reference in the tests):
the same counts of right sums and bits (an output would have to lie within
float32 rounding of 1/2 to flip), the loss and correlation up to float rounding
(summed in float64; the plain batch's float32 sums are the less exact ones).

Evaluation schedule: the full check of all 16,384 pairs costs about 10 training
steps of the default preset (30 of trask), so the training schedule
(``evaluate_scheduled``, see core.trainer) measures the same metrics on a fixed
sample of :data:`SCHEDULED_EVAL_PAIRS` pairs (1/16 for 8 bits, a tree of 3,964
states; chosen by its own seeded generator, never the run's), and runs the full check instead whenever the sample
is all right for the first time (or the first time since it last was not). So
the first ``accuracy`` 1.0 of a stretch (the target, time to target) always
means every pair; while the sample stays all right after a full check that
passed, the sample's figures are reported. The last evaluation of a run
(``rnnlab train``'s final row, run.json) is the full check.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core import losses
from core.config import ConfigError, Param, batch_size, clip, hidden_size, learning_rate, momentum, optimizer
from core.data import binary as data
from core.experiments.base import Preset, Target
from core.experiments.common import NeuralExperiment, build_optimizer, layer_traces
from core.nn.dense import Dense, sigmoid
from core.nn.module import prefixed
from core.nn.rnn import RNN
from core.probe import Probe, frozen_array
from core import views as V

PAIRS_PER_DRAW = 1024  # training pairs drawn from the run's generator at a time (rounded to whole batches)
SCHEDULED_EVAL_PAIRS = 1024  # pairs in the scheduled evaluation's fixed sample (all of them when fewer)
EVAL_CHUNK = 2048  # pairs per forward pass of the plain check; prefix-tree nodes per chunk of the correlation sums


class BinaryAddition(NeuralExperiment):
    id = "binary-addition"
    title = "Binary addition"
    description = ("A sigmoid RNN adds two numbers bit by bit, least significant bit first; "
                   "watch the carry appear in the hidden state.")
    hyperparams = (
        Param("bits", "int", 8, "Bits per number (= timesteps). Operands are below 2^(bits-1), so the sum fits.",
              2, 16),
        hidden_size(16, high=256),
        batch_size(64),
        optimizer("adam"),
        learning_rate(0.1),
        momentum(0.9),
        clip(0.0),
        Param("loss", "str", "bce", "Per-bit loss: 'bce' = cross-entropy (mean over bits and batch); 'mse' = "
              "the tutorial's 0.5 * sum over bits of (p - y)^2 (mean over batch).", choices=("bce", "mse")),
        Param("init", "str", "default", "Weight init: 'default' (PyTorch-style uniform ±1/sqrt(fan)) or "
              "'uniform' (the tutorial's U(-1, 1)).", choices=("default", "uniform")),
        Param("bias", "bool", True, "Learn biases (the tutorial has none: off keeps them at zero)."),
    )
    presets = {
        "default": Preset("default", "Batched and fast: 64 pairs per step, Adam lr 0.1, cross-entropy.",
                          {}, steps=1000),
        "trask": Preset("trask", "The iamtrask tutorial: one pair per step, SGD alpha 0.1, squared error, "
                        "U(-1, 1) weights, no biases, 10,000 iterations.",
                        {"batch_size": 1, "optimizer": "sgd", "learning_rate": 0.1, "loss": "mse",
                         "init": "uniform", "bias": False}, steps=10_000),
    }
    view_types = (V.MetricCurves, V.LayerStates, V.MarkedUnit, V.BitSum, V.Outputs)
    metrics = (V.loss("loss"), V.loss("val_loss"), V.accuracy("accuracy"), V.accuracy("bit_accuracy"),
               V.accuracy("train_accuracy"), V.accuracy("train_bit_accuracy"),
               V.diagnostic("carry_corr", "higher"))
    eval_every = 25
    target = Target("accuracy", 1.0, "max")

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        c = self.config
        self.bits = c["bits"]
        H = c["hidden_size"]
        self.rnn = RNN(2, H, self.rng, activation="sigmoid")  # what make_recurrent("rnn", ...) builds
        self.out = Dense(H, 1, self.rng)
        layers = {"rnn": self.rnn.params, "out": self.out.params}
        if c["init"] == "uniform":  # the tutorial: 2 * np.random.random(shape) - 1
            for p in layers.values():
                for arr in p.values():
                    arr[...] = self.rng.uniform(-1.0, 1.0, size=arr.shape)
        self.params = {}
        for name, p in layers.items():
            if not c["bias"]:
                for k, arr in p.items():
                    if _is_bias(k, arr):
                        arr[...] = 0.0  # never handed to the optimizer: stays zero
                p = {k: v for k, v in p.items() if not _is_bias(k, v)}
            self.params.update(prefixed(name, p))
        self.optimizer = build_optimizer(c)
        self.eval_a, self.eval_b = data.eval_pairs(self.bits)
        self.eval_x, self.eval_y = data.make_batch(self.eval_a, self.eval_b, self.bits)  # (T, N, 2), (T, N, 1)
        self._eval_carry = data.carries(self.eval_a, self.eval_b, self.bits)  # (T, N)
        self._eval_tree = data.prefix_tree(self.eval_a, self.eval_b, self.bits)  # what evaluate() runs on
        n = len(self.eval_a)
        pick = np.sort(np.random.default_rng(2015).permutation(n)[:SCHEDULED_EVAL_PAIRS])  # not self.rng
        self._sample_pick = pick if len(pick) < n else None  # indices of the sample in eval_a / eval_b
        self._sample = data.prefix_tree(self.eval_a[pick], self.eval_b[pick], self.bits) \
            if len(pick) < n else None
        self._full_passed: int | None = None  # step of the full check that confirmed the perfect sample
        self._probe_rng = np.random.default_rng(self.seed + 1)  # for set_probe_example(random=True)
        hi = data.max_operand(self.bits)
        self.probe_a, self.probe_b = (89 * hi) // 128, (57 * hi) // 128  # 89 + 57 for 8 bits: many carries
        self._views_cache: tuple[int, tuple[V.View, ...]] | None = None
        # training pairs: drawn PAIRS_PER_DRAW at a time from self.rng, turned into per-step batches
        B = c["batch_size"]
        self._draw_size = B * max(1, PAIRS_PER_DRAW // B)  # pairs per draw: whole batches
        self._pairs = np.zeros((2, self._draw_size), np.int64)  # (a row, b row) of the current draw
        self._next = self._draw_size // B  # the next step's batch in the draw (all used: draw anew)
        self._bx = self._by = self._byb = np.zeros((0,))  # the draw's batches (S, T, B, ...)
        self._grad_map = [(k, k.startswith("rnn."), k.split(".", 1)[1]) for k in self.params]

    # -- training data ----------------------------------------------------------------
    def _next_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next step's inputs (T, B, 2), targets (T, B, 1) and targets as bools. Pairs are drawn
        from the run's generator ``_draw_size`` at a time (the same stream for a given seed)."""
        k = self._next
        if k >= len(self._bx):
            self._use_pairs(self.rng.integers(0, data.max_operand(self.bits), size=(2, self._draw_size)), 0)
            k = 0
        self._next = k + 1
        return self._bx[k], self._by[k], self._byb[k]

    def _use_pairs(self, ab: np.ndarray, used: int) -> None:
        """Train on the draw ``ab`` (2, _draw_size), its first ``used`` batches already used."""
        B = self.config["batch_size"]
        self._pairs = ab
        self._next = used
        if used * B >= ab.shape[1]:  # nothing left: the next step draws
            self._bx = self._by = self._byb = np.zeros((0,))
            return
        self._bx, self._by = data.step_batches(ab[0], ab[1], self.bits, B)  # (S, T, B, 2), (S, T, B, 1)
        self._byb = self._by > 0.5

    def upcoming_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of the pairs the following training steps will use, in order (batch_size per step):
        what is left of the current draw (empty: the next step draws afresh from ``self.rng``)."""
        rest = self._pairs[:, self._next * self.config["batch_size"]:]
        return rest[0].copy(), rest[1].copy()

    # -- model --------------------------------------------------------------------
    def _forward(self, x: np.ndarray, reuse: bool = False):
        """x (T, B, 2) -> probabilities (T, B, 1), logits, caches (``reuse``: the training step's,
        in the RNN's workspace, see RNN.forward)."""
        h, _, rcache = self.rnn.forward(x, check=False, reuse=reuse)  # (T, B, H); our own batches: no checks
        logits, ocache = self.out.forward(h, check=False)  # (T, B, 1)
        return sigmoid(logits), logits, h, (rcache, ocache)

    def _loss(self, p: np.ndarray, logits: np.ndarray, y: np.ndarray, grad: bool = True) -> tuple[float, np.ndarray | None]:
        """Loss and dL/dlogits (T, B, 1) (None if not ``grad``)."""
        if self.config["loss"] == "bce":
            return losses.bce_with_sigmoid(logits, y, grad=grad, prob=p)
        B = y.shape[1]
        err = p - y  # (T, B, 1)
        loss = 0.5 * float(np.vdot(err, err)) / B
        if not grad:
            return loss, None
        d = np.subtract(1.0, p)  # the tutorial's delta (sign flipped): err * p * (1 - p) / B
        d *= p
        d *= err
        if B != 1:
            d /= B
        return loss, d

    def _backward(self, dlogits: np.ndarray, caches, need_norms: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        rcache, ocache = caches
        dh, ograds = self.out.backward(dlogits, ocache, check=False)
        _, _, rgrads, dh_norms = self.rnn.backward(dh, rcache, need_dx=False, check=False, overwrite_dy=True,
                                                   need_norms=need_norms)
        return {k: (rgrads if in_rnn else ograds)[key] for k, in_rnn, key in self._grad_map}, dh_norms

    def train_step(self) -> dict[str, float]:
        x, y, yb = self._next_batch()  # (T, B, 2), (T, B, 1), (T, B, 1) bool
        p, logits, _, caches = self._forward(x, reuse=True)
        loss, dlogits = self._loss(p, logits, y)
        grads, _ = self._backward(dlogits, caches, need_norms=False)
        self.update(loss, grads)
        wrong = (p > 0.5) != yb  # (T, B, 1)
        n_wrong = np.count_nonzero(wrong)
        B = wrong.shape[1]
        pairs_wrong = np.count_nonzero(wrong.any(axis=0)) if n_wrong else 0
        return {"loss": loss, "train_accuracy": (B - pairs_wrong) / B,
                "train_bit_accuracy": (wrong.size - n_wrong) / wrong.size}

    def evaluate(self) -> dict[str, float]:
        """The full check: every evaluation pair (computed over their prefix tree, module doc)."""
        return self._evaluate_tree(self._eval_tree)

    def evaluate_scheduled(self) -> dict[str, float]:
        """The fixed sample of pairs; the full check when the sample is all right (module doc)."""
        if self._sample is None:
            return self.evaluate()
        ev = self._evaluate_tree(self._sample)
        if ev["accuracy"] < 1.0:
            self._full_passed = None
        elif self._full_passed is None:
            ev = self.evaluate()
            self._full_passed = self.step if ev["accuracy"] >= 1.0 else None
        return ev

    def _tree_states(self, tree: data.PrefixTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward pass over a prefix tree: h (n, H), p (n,), logits (n,) for all n nodes, level t in
        rows tree.offsets[t]:offsets[t+1]. The same recurrence as the RNN layer (from a zero state;
        a sigmoid cell in u-space, u = 2h - 1, see core.nn.rnn), but level by level: the recurrent
        product runs once per parent node and is handed to its children, whose inputs differ only
        in the four possible (a_t, b_t) rows. The readout runs once over all nodes."""
        p = self.rnn.params
        Wx, Wh, bh = p["Wxh"], p["Whh"], p["bh"]
        dt = Wh.dtype
        sig = self.rnn.activation == "sigmoid"
        ab = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dt)  # code a_t + 2 b_t -> the input row (a_t, b_t)
        if sig:  # pre/2 = u @ Whh/4 + x @ Wxh/2 + (bh/2 + colsum(Whh)/4)
            Wr = Wh * dt.type(0.25)
            rows = ab @ (Wx * dt.type(0.5)) + (Wr.sum(axis=0) + dt.type(0.5) * bh)  # (4, H)
            state = np.full((1, Wh.shape[0]), -1.0, dt)  # u_0 = 2 * 0 - 1
        else:
            Wr, rows = Wh, ab @ Wx + bh
            state = np.zeros((1, Wh.shape[0]), dt)
        off = tree.offsets
        u = np.empty((int(off[-1]), Wh.shape[0]), dt)  # every node's state, level after level
        for t, (parent, code) in enumerate(zip(tree.parent, tree.code)):
            pre = u[off[t]:off[t + 1]]
            np.take(state @ Wr, parent, axis=0, out=pre)  # each parent's product, once per child
            pre += np.take(rows, code, axis=0)
            state = np.tanh(pre, out=pre)
        if sig:
            u *= dt.type(0.5)
            u += dt.type(0.5)
        logits = (u @ self.out.params["W"])[:, 0]
        logits += self.out.params["b"][0]
        return u, sigmoid(logits), logits

    def _evaluate_tree(self, tree: data.PrefixTree) -> dict[str, float]:
        """Metrics over the pairs of ``tree``, each node's figures counted once per pair sharing its
        prefix: the same numbers as :meth:`_evaluate_on` over the plain batch of those pairs (up to
        float rounding of the sums), with ~3.4x fewer recurrent states for all 8-bit pairs."""
        N, T = tree.n_pairs, len(tree.code)
        h, p, logits = self._tree_states(tree)
        w, y = tree.all_weight, tree.all_target
        right = (p > 0.5) == (y > 0.5)  # (n,)
        ok = np.ones(1, bool)  # the root: no bit wrong yet
        off = tree.offsets
        for t, parent in enumerate(tree.parent):
            ok = np.take(ok, parent) & right[off[t]:off[t + 1]]  # every bit so far right
        if self.config["loss"] == "mse":  # 0.5 * sum over bits of (p - y)^2, mean over pairs
            err = p - y
            loss = 0.5 * float(w @ (err * err)) / N
        else:  # binary cross-entropy, mean over bits and pairs (losses.bce_with_sigmoid's form)
            el = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
            loss = float(w @ el) / (N * T)
        _, r = _corr_from_sums(_tree_corr_sums(h, tree))
        return {"accuracy": float(tree.weight[-1] @ ok) / N if T else 0.0,
                "bit_accuracy": float(w @ right) / (N * T), "val_loss": loss, "carry_corr": r}

    def _evaluate_on(self, x: np.ndarray, y: np.ndarray, carry: np.ndarray) -> dict[str, float]:
        """The plain check (the reference :meth:`_evaluate_tree` is tested against): metrics over
        the pairs x (T, N, 2), y (T, N, 1), carry (T, N), in chunks of EVAL_CHUNK pairs."""
        T, N = x.shape[:2]
        exact = bits = 0
        loss = 0.0
        sums = None
        for i in range(0, N, EVAL_CHUNK):
            xc, yc = x[:, i:i + EVAL_CHUNK], y[:, i:i + EVAL_CHUNK]
            p, logits, h, _ = self._forward(xc)
            lc, _ = self._loss(p, logits, yc, grad=False)  # a mean over the chunk's pairs
            loss += lc * xc.shape[1]
            right = (p > 0.5) == (yc > 0.5)  # (T, n, 1)
            exact += int(np.count_nonzero(right.all(axis=0)))
            bits += int(np.count_nonzero(right))
            cs = _corr_sums(h, carry[:, i:i + EVAL_CHUNK])
            sums = cs if sums is None else sums + cs
        _, r = _corr_from_sums(sums)
        return {"accuracy": exact / N, "bit_accuracy": bits / (N * T * y.shape[2]),
                "val_loss": loss / N, "carry_corr": r}

    # -- probe ------------------------------------------------------------------------
    def set_probe_example(self, a: int | None = None, b: int | None = None, random: bool = False,
                          **kwargs: Any) -> None:
        """Probe ``a + b`` (0 <= a, b < 2^(bits-1)), or a random pair with ``random=True``."""
        if kwargs:
            raise ConfigError(f"binary-addition probe accepts a=, b= or random=True, got {', '.join(kwargs)}")
        hi = data.max_operand(self.bits)
        if random:
            a, b = (int(v) for v in self._probe_rng.integers(0, hi, size=2))
        a = self.probe_a if a is None else a
        b = self.probe_b if b is None else b
        for name, v in (("a", a), ("b", b)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < hi:
                raise ConfigError(f"probe {name}: {v!r} is not an integer in [0, {hi - 1}] "
                                  f"(operands are below 2^(bits-1) = {hi})")
        self.probe_a, self.probe_b = int(a), int(b)

    def probe(self) -> Probe:
        a, b, T = self.probe_a, self.probe_b, self.bits
        x, y = data.make_batch(np.array([a]), np.array([b]), T)  # (T, 1, 2), (T, 1, 1)
        p, logits, _, caches = self._forward(x)
        _, dlogits = self._loss(p, logits, y)
        _, dh_norms = self._backward(dlogits, caches)
        ab = x[:, 0, :].astype(int)  # (T, 2)
        truth = y[:, 0, 0].astype(int)  # (T,)
        pred = (p[:, 0, 0] > 0.5).astype(int)
        pred_sum = int(data.from_bits(pred[:, None])[0])
        return Probe(
            experiment=self.id, step=self.step,
            input_labels=tuple(f"{i}+{j}" for i, j in ab),
            inputs=frozen_array(x[:, 0, :]),
            layers=layer_traces(self.rnn, caches[0], "rnn", "sigmoid", dh_norms),
            outputs=frozen_array(p[:, 0, :]),
            output_labels=("sum bit",),
            target_labels=tuple(str(v) for v in truth),
            prediction_labels=tuple(str(v) for v in pred),
            correct=frozen_array(pred == truth),
            views=(V.BitSum(a, b, a + b, pred_sum,
                            carry=frozen_array(data.carries(np.array([a]), np.array([b]), T)[:, 0]),
                            a_bits=frozen_array(ab[:, 0]), b_bits=frozen_array(ab[:, 1]),
                            sum_bits=frozen_array(truth), pred_bits=frozen_array(pred)),),
        )

    def views(self) -> tuple[V.View, ...]:
        """The most carry-like hidden unit over all evaluation pairs (cached per training step)."""
        if self._views_cache is None or self._views_cache[0] != self.step:
            unit, r = carry_correlation(self)
            self._views_cache = (self.step, (V.MarkedUnit(0, unit, r, "tracks the carry"),))
        return self._views_cache[1]

    def extra_state(self) -> dict[str, np.ndarray]:
        """The evaluation schedule's memory (step of the last full check that passed; -1: none), the
        current draw of training pairs (2, _draw_size) and how many of its batches were used, so a
        resumed run trains and evaluates exactly as the uninterrupted one."""
        return {"full_check_passed": np.array(-1 if self._full_passed is None else self._full_passed, np.int64),
                "pairs": self._pairs.astype(np.int32), "pairs_used": np.array(self._next, np.int64)}

    def load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        state = dict(state)
        passed = state.pop("full_check_passed", None)  # absent in checkpoints written before it existed
        pairs, used = state.pop("pairs", None), state.pop("pairs_used", None)  # absent before pairs were
        super().load_extra_state(state)  # drawn ahead: the next step draws
        if pairs is not None:
            pairs = np.asarray(pairs)
            B, hi = self.config["batch_size"], data.max_operand(self.bits)
            used = -1 if used is None else int(np.asarray(used))
            if pairs.shape != self._pairs.shape or pairs.dtype.kind not in "iu" or pairs.min() < 0 or \
                    pairs.max() >= hi or not 0 <= used <= pairs.shape[1] // B:
                raise ValueError(f"checkpoint: extra.pairs must be {self._pairs.shape} integers in [0, {hi}) and "
                                 f"extra.pairs_used a count of batches of {B}, got {pairs.dtype} {pairs.shape}, "
                                 f"{used}")
        v = -1 if passed is None else int(np.asarray(passed))
        self._full_passed = None if v < 0 else v
        if pairs is None:
            self._use_pairs(np.zeros_like(self._pairs), self._draw_size)
        else:
            self._use_pairs(pairs.astype(np.int64), used)
        self._views_cache = None


def _is_bias(name: str, arr: np.ndarray) -> bool:
    return arr.ndim == 1 and name.lstrip(".").split(".")[-1].startswith("b")


def _corr_sums(h: np.ndarray, carry: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """(5, H) float64 sums over the (step, pair) samples of h (T, N, H) and carry (T, N):
    count, sum of carry, sum of (h - 1/2), sum of carry * (h - 1/2), sum of (h - 1/2)^2 (rows 0-1
    broadcast). Shifting by 1/2 (the middle of a sigmoid unit's range) keeps the variance
    well conditioned; chunks' sums add up (the full check runs in chunks). ``weight`` (N,) (h
    then (N, H), carry (N,): prefix-tree nodes): each sample counted ``weight`` times."""
    H = h.shape[-1]
    out = np.empty((5, H), np.float64)
    if weight is not None:
        hs = h.astype(np.float64)
        hs -= 0.5
        wc = np.empty((2, len(weight)), np.float64)  # rows: weight, weight * carry
        wc[0] = weight
        np.multiply(weight, carry, out=wc[1])
        out[0] = weight.sum()
        out[1] = wc[1].sum()
        out[2:4] = wc @ hs
        out[4] = weight @ (hs * hs)
        return out
    hs = h.reshape(-1, H) - h.dtype.type(0.5)  # (T*N, H)
    n = hs.shape[0]
    ones_c = np.empty((2, n), hs.dtype)  # rows: 1, carry
    ones_c[0] = 1.0
    ones_c[1] = carry.reshape(-1)
    out[0] = n
    out[1] = float(np.count_nonzero(ones_c[1]))
    out[2:4] = ones_c @ hs  # sum h, sum carry * h
    out[4] = np.einsum("ij,ij->j", hs, hs)
    return out


def _tree_corr_sums(h: np.ndarray, tree: data.PrefixTree) -> np.ndarray:
    """:func:`_corr_sums` over the nodes of ``tree`` (h (n, H)), in chunks of EVAL_CHUNK nodes (the
    float64 copies stay in cache)."""
    sums = np.zeros((5, h.shape[1]), np.float64)
    for i in range(0, h.shape[0], EVAL_CHUNK):
        sums += _corr_sums(h[i:i + EVAL_CHUNK], tree.all_carry[i:i + EVAL_CHUNK], tree.all_weight[i:i + EVAL_CHUNK])
    return sums


def _corr_from_sums(sums: np.ndarray) -> tuple[int, float]:
    n, nc = float(sums[0, 0]), float(sums[1, 0])
    mh = sums[2] / n
    mc = nc / n  # carry is 0/1: the mean of its squares too
    cov = sums[3] / n - mh * mc  # (H,)
    var_h = sums[4] / n - mh * mh
    var_c = mc - mc * mc
    denom = np.sqrt(np.maximum(var_h, 0.0) * max(var_c, 0.0))
    r = np.abs(cov) / np.where(denom > 1e-12, denom, np.inf)  # (H,)
    j = int(np.argmax(r))
    return j, float(r[j])


def _carry_corr(h: np.ndarray, carry: np.ndarray) -> tuple[int, float]:
    """The hidden unit whose activation correlates best with the carry.

    h (T, N, H) hidden states, carry (T, N) true carry out of each step.
    Returns (unit index, |Pearson r|) over all T * N (step, pair) samples.
    """
    return _corr_from_sums(_corr_sums(h, carry))


def carry_correlation(source: BinaryAddition | Probe) -> tuple[int, float]:
    """(unit, |r|): the most carry-like hidden unit and its correlation with the true carry.

    Given an experiment: measured over every evaluation pair (16,384 for 8 bits).
    Given a Probe: over the probe's T timesteps only (a rough single-example view).
    """
    if isinstance(source, Probe):
        h = np.asarray(source.layers[0].states["h"])[:, None, :]  # (T, 1, H)
        return _carry_corr(h, np.asarray(source.view(V.BitSum).carry)[:, None])
    tree = source._eval_tree
    h, _, _ = source._tree_states(tree)  # (n, H): every node of the pairs' prefix tree
    return _corr_from_sums(_tree_corr_sums(h, tree))


EXPERIMENT = BinaryAddition
