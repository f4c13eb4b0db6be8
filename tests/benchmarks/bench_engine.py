"""Engine benchmark: training steps per second of the NumPy recurrent layers,
side by side with PyTorch CPU on the identical model and with a "seed-style"
per-example loop (how the tutorials wrote it).

Run explicitly (pytest does not collect bench_*.py):

    python tests/benchmarks/bench_engine.py [--seconds 0.6] [--repeats 5] [--threads 1,2] [--only a,b]

A step is forward + backward + optimizer update, including the output Dense
layer and the loss. Each figure is the best of ``--repeats`` runs of at least
``--seconds`` (time.perf_counter); the machine is shared, so figures are noisy:
within a case the systems take turns (ours at 1 and 2 BLAS threads, torch 2
threads, torch 1 thread, seed-style) in every round, so they see the same load.
"ours/torch" divides our best figure by the best torch figure. Many short rounds
(5 x 0.6 s) rather than a few long ones give every system more chances to catch
a quiet moment of the shared machine.

Threads: ours is measured at each BLAS thread count of ``--threads`` (default
"1,2", switched between turns with threadpoolctl; OPENBLAS_NUM_THREADS etc. are
set to the largest *before* NumPy is imported) and PyTorch at each of
``--torch-threads`` (default "2,1"), so both sides get the same choice. The
project default is 1 BLAS thread (core/runtime.py): on a loaded 2-core machine a
second thread that has to wait for a busy core makes every matmul 5-10x slower
(measured here: (a) 5.5 steps/s at 2 threads vs 58 at 1); only the large case (a)
gains from 2 threads, and only when a core is idle. Seed-style baselines run at 1.

Cases:
  (a) char LSTM    1 layer, H=128, one-hot input of 96, T=50, B=32, softmax CE, Adam
      (ours reads the one-hot input as int ids: a row gather instead of a matmul with
      zeros, the same model and maths; (a') feeds ours the float one-hot like torch)
  (b) min-char-rnn tanh RNN, H=100, V=96, T=25, B=1, summed CE, Adagrad, clip 5, state carried
      (ids input as in (a); torch gets the float one-hot)
  (c) binary add   sigmoid RNN, H=16, T=8, B=64, input 2, 1 output/step, sigmoid + BCE, SGD
  (d) sine         2-layer LSTM, H=30, T=10, B=32, input 1, 1 output at the last step, MSE, Adagrad
  lm  the char-lm experiment's "lstm" preset (embedding 32, LSTM 128, B=32, T=32, Adam, clip 5):
      train_step at threads=1 and threads=2 (BLAS at 1 thread)

Batch-parallel rows (core.nn.parallel; ``--no-parallel`` skips them), measured in the same
interleaved rounds as their case, BLAS at 1 thread, the batch split in 2 halves run by 2
Python threads (NumPy releases the GIL inside its calls):
  "2-thread batch-parallel"  the recurrent layer wrapped in BatchParallel (Dense, loss, optimizer serial)
  "+ Dense/CE per thread"    each thread runs LSTM + Dense + softmax-CE forward and backward on its
                             half (one dispatch per step); gradients summed; Adam serial
  "+ Dense/CE + Adam split"  as above, and Adam split into two optimizers over two halves of the
                             parameters, stepped in the two threads
  "2-process (fork)"         as "+ Dense/CE per thread" but the second half runs in a forked child
                             process (no GIL): parameters and gradients cross in shared memory
Their "ours/torch" divides by the best torch figure; "vs ours best" by the best of the ours rows.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=0.6, help="minimum duration of one measurement")
    ap.add_argument("--repeats", type=int, default=5, help="measurements per case (best is reported)")
    ap.add_argument("--threads", default="1,2",
                    help="BLAS thread counts for NumPy to measure (comma-separated); the ratio uses the best")
    ap.add_argument("--torch-threads", default="2,1",
                    help="torch.set_num_threads values to measure (comma-separated); the ratio uses the best")
    ap.add_argument("--only", default="a,a1,b,c,d,lm",
                    help="comma-separated cases to run (a1: (a) with float one-hot; lm: the char-lm experiment "
                         "at threads=1 and 2)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if importable")
    ap.add_argument("--no-parallel", action="store_true",
                    help="skip the batch-parallel rows (core.nn.parallel, 2 Python threads at 1 BLAS thread)")
    return ap.parse_args()


ARGS = _parse() if __name__ == "__main__" else argparse.Namespace(
    seconds=0.6, repeats=5, threads="1,2", torch_threads="2,1", only="a,a1,b,c,d,lm", no_torch=False,
    no_parallel=False)
NTHREADS = [int(v) for v in str(ARGS.threads).split(",") if v.strip()]
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(max(NTHREADS))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402  (after the thread settings)

from core import losses, optim, runtime  # noqa: E402
from core.nn.dense import Dense  # noqa: E402
from core.nn.lstm import LSTM  # noqa: E402
from core.nn.parallel import BatchParallel  # noqa: E402
from core.nn.recurrent import make_recurrent  # noqa: E402
from core.nn.rnn import RNN  # noqa: E402

F32 = np.float32


# -- timing ------------------------------------------------------------------------------------


def _run(step, seconds: float) -> float:
    n = 0
    t0 = time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def measure(steps: dict, seconds: float, repeats: int, setup=None) -> dict:
    """Best steps/s per system over ``repeats`` rounds of at least ``seconds`` each.

    The systems take turns within each round (interleaved), so that all of them see
    the same (shared, noisy) machine; ``setup(name)`` runs before each turn.
    """
    best = {name: 0.0 for name in steps}
    for name, step in steps.items():  # warm-up (allocations, optimizer state)
        if setup:
            setup(name)
        for _ in range(3):
            step()
    for _ in range(repeats):
        for name, step in steps.items():
            if setup:
                setup(name)
            best[name] = max(best[name], _run(step, seconds))
    return best


def _ce(logits, targets, **kw):
    out = losses.softmax_cross_entropy(logits, targets, **kw)
    return out[0], out[1]  # (loss, dlogits); newer versions also return probs


# -- our engine ---------------------------------------------------------------------------------


def ours_char_lstm(rng, ids_input=True):
    """``ids_input``: feed token ids (one-hot input computed as a row gather, identical maths);
    False: feed the float one-hot (T, B, V) array like torch does."""
    T, B, V, H = 50, 32, 96, 128
    lstm, out = LSTM(V, H, rng), Dense(H, V, rng)
    params = {**{f"lstm.{k}": v for k, v in lstm.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.Adam(lr=2e-3)
    ids = rng.integers(0, V, size=(T + 1, B))
    x = ids[:-1] if ids_input else np.eye(V, dtype=F32)[ids[:-1]]  # (T, B) ids or (T, B, V) one-hot
    targets = ids[1:]  # (T, B)

    def step():
        y, _, cache = lstm.forward(x)  # (T, B, H)
        logits, oc = out.forward(y)  # (T, B, V)
        loss, dlogits = _ce(logits, targets)
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_lstm, _ = lstm.backward(dy, cache, need_dx=False)
        grads = {**{f"lstm.{k}": v for k, v in g_lstm.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
        opt.step(params, grads)
        return loss
    return step


def ours_min_char_rnn(rng):
    T, V, H = 25, 96, 100
    rnn, out = RNN(V, H, rng, activation="tanh"), Dense(H, V, rng)
    params = {**{f"rnn.{k}": v for k, v in rnn.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.Adagrad(lr=0.1)
    ids = rng.integers(0, V, size=(T + 1, 1))
    x = ids[:-1]  # (T, 1) ids: one-hot input as a row gather
    targets = ids[1:]
    state = {"h": None}

    def step():
        y, h, cache = rnn.forward(x, state["h"])
        logits, oc = out.forward(y)
        loss, dlogits = _ce(logits, targets, reduction="sum")
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_rnn, _ = rnn.backward(dy, cache, need_dx=False)
        grads = {**{f"rnn.{k}": v for k, v in g_rnn.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
        optim.clip_by_value(grads, 5.0)
        opt.step(params, grads)
        state["h"] = h
        return loss
    return step


def binary_addition_batch(rng, B, T=8):
    """x (T, B, 2) bits of a and b, least significant first; y (T, B, 1) bits of a + b."""
    a = rng.integers(0, 2 ** (T - 1), size=B)
    b = rng.integers(0, 2 ** (T - 1), size=B)
    bits = (np.stack([a, b, a + b])[:, None, :] >> np.arange(T)[None, :, None]) & 1  # (3, T, B)
    return np.stack([bits[0], bits[1]], axis=-1).astype(F32), bits[2][..., None].astype(F32)


def ours_binary_addition(rng):
    T, B, H = 8, 64, 16
    rnn, out = RNN(2, H, rng, activation="sigmoid"), Dense(H, 1, rng)
    params = {**{f"rnn.{k}": v for k, v in rnn.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.SGD(lr=1.0)
    x, target = binary_addition_batch(rng, B, T)

    def step():
        y, _, cache = rnn.forward(x)
        logits, oc = out.forward(y)  # (T, B, 1)
        loss, dlogits = losses.bce_with_sigmoid(logits, target)
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_rnn, _ = rnn.backward(dy, cache, need_dx=False)
        grads = {**{f"rnn.{k}": v for k, v in g_rnn.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
        opt.step(params, grads)
        return loss
    return step


def sine_batch(rng, B, T=10):
    """x (T, B, 1) samples of sin; y (B, 1) the next sample."""
    t0 = rng.uniform(0, 2 * np.pi, size=B)
    t = t0[None, :] + 0.2 * np.arange(T + 1)[:, None]  # (T+1, B)
    s = np.sin(t).astype(F32)
    return s[:-1, :, None], s[-1][:, None]


def ours_sine(rng):
    T, B, H = 10, 32, 30
    lstm, out = make_recurrent("lstm", 1, H, 2, rng=rng), Dense(H, 1, rng)
    params = {**{f"lstm.{k}": v for k, v in lstm.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.Adagrad(lr=0.05)
    x, target = sine_batch(rng, B, T)

    def step():
        y, _, cache = lstm.forward(x)
        pred, oc = out.forward(y[-1])  # (B, 1) last step only
        loss, dpred = losses.mse(pred, target)
        dh, g_out = out.backward(dpred, oc)
        _, _, g_lstm, _ = lstm.backward(None, cache, [None, (dh, None)], need_dx=False)
        grads = {**{f"lstm.{k}": v for k, v in g_lstm.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
        opt.step(params, grads)
        return loss
    return step


# -- batch-parallel variants (core.nn.parallel, 1 BLAS thread, 2 Python threads) ------------------------


def ours_char_lstm_par(rng, mode="layer", workers=2):
    """(a) with the batch split over ``workers`` threads (BLAS at 1 thread).

    mode "layer": only the LSTM is wrapped in ``BatchParallel`` (Dense, loss, Adam serial);
    "fused": each thread runs its half of LSTM + Dense + softmax-CE, forward and backward
    (one dispatch per step), gradients summed, Adam serial;
    "fused+adam": as "fused", and Adam split into two optimizers over two halves of the
    parameters, updated in the two threads.
    """
    T, B, V, H = 50, 32, 96, 128
    lstm, out = LSTM(V, H, rng), Dense(H, V, rng)
    params = {**{f"lstm.{k}": v for k, v in lstm.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    ids = rng.integers(0, V, size=(T + 1, B))
    x, targets = ids[:-1], ids[1:]  # (T, B) ids
    if mode == "layer":
        par = BatchParallel(lstm, workers)
        opt = optim.Adam(lr=2e-3)

        def step():
            y, _, cache = par.forward(x)  # (T, B, H)
            logits, oc = out.forward(y)  # (T, B, V)
            loss, dlogits = _ce(logits, targets)
            dy, g_out = out.backward(dlogits, oc)
            _, _, g_lstm, _ = par.backward(dy, cache, need_dx=False)
            grads = {**{f"lstm.{k}": v for k, v in g_lstm.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
            opt.step(params, grads)
            return loss
        return step

    pool = ThreadPoolExecutor(workers - 1)
    edges = [B * k // workers for k in range(workers + 1)]
    chunks = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    # Adam split: [lstm.Wh] | [lstm.Wx, lstm.b, out.W, out.b] (~65k / ~62k floats)
    groups = [["lstm.Wh"], [k for k in params if k != "lstm.Wh"]] if mode == "fused+adam" else [list(params)]
    opts = [optim.Adam(lr=2e-3) for _ in groups]

    def half(k):
        c = chunks[k]
        y, _, cache = lstm.forward(x[:, c])  # (T, b, H)
        logits, oc = out.forward(y)  # (T, b, V)
        loss, dlogits = _ce(logits, targets[:, c])
        dlogits *= (c.stop - c.start) / B  # the mean over the whole batch
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_lstm, _ = lstm.backward(dy, cache, need_dx=False)
        return loss * (c.stop - c.start) / B, {**{f"lstm.{k}": v for k, v in g_lstm.items()},
                                               **{f"out.{k}": v for k, v in g_out.items()}}

    def run(fn, n):
        fut = [pool.submit(fn, k) for k in range(1, n)]
        return [fn(0)] + [f.result() for f in fut]

    def step():
        res = run(half, workers)
        loss = sum(r[0] for r in res)
        grads = {k: res[0][1][k] + res[1][1][k] for k in params}
        if len(opts) == 1:
            opts[0].step(params, grads)
        else:
            run(lambda j: opts[j].step({k: params[k] for k in groups[j]}, {k: grads[k] for k in groups[j]}),
                len(opts))
        return loss
    return step


def ours_char_lstm_proc(rng):
    """(a) with the batch split over 2 *processes* (no GIL): a forked child owns a copy of the
    model and computes LSTM + Dense + softmax-CE forward/backward on the second half of the batch.
    Per step the parent copies the parameters into a shared (anonymous mmap) buffer, wakes the
    child through a pipe, runs the first half itself, then sums the child's gradients (read from
    a second shared buffer) into its own; Adam runs in the parent. Benchmark only (Linux fork)."""
    import mmap
    import multiprocessing as mp

    T, B, V, H = 50, 32, 96, 128
    lstm, out = LSTM(V, H, rng), Dense(H, V, rng)
    params = {**{f"lstm.{k}": v for k, v in lstm.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.Adam(lr=2e-3)
    ids = rng.integers(0, V, size=(T + 1, B))
    x, targets = ids[:-1], ids[1:]  # (T, B) ids
    sizes = {k: v.size for k, v in params.items()}
    n = sum(sizes.values())

    def views(buf):
        flat, out_, i = np.frombuffer(buf, F32, n), {}, 0
        for k, v in params.items():
            out_[k] = flat[i:i + v.size].reshape(v.shape)
            i += v.size
        return out_
    P, G = views(mmap.mmap(-1, 4 * n)), views(mmap.mmap(-1, 4 * n))  # shared with the forked child

    def half(c):
        y, _, cache = lstm.forward(x[:, c])  # (T, b, H)
        logits, oc = out.forward(y)  # (T, b, V)
        loss, dlogits = _ce(logits, targets[:, c])
        dlogits *= (c.stop - c.start) / B  # the mean over the whole batch
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_lstm, _ = lstm.backward(dy, cache, need_dx=False)
        return loss * (c.stop - c.start) / B, {**{f"lstm.{k}": v for k, v in g_lstm.items()},
                                               **{f"out.{k}": v for k, v in g_out.items()}}

    def child(conn):
        runtime.limit_blas_threads(1)
        while conn.recv_bytes() == b"go":
            for k in params:
                params[k][...] = P[k]
            loss, g = half(slice(B // 2, B))
            for k in params:
                G[k][...] = g[k]
            conn.send(loss)

    ctx = mp.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=child, args=(child_end,), daemon=True)
    proc.start()

    def step():
        for k in params:
            P[k][...] = params[k]
        parent_end.send_bytes(b"go")
        loss, grads = half(slice(0, B // 2))
        loss += parent_end.recv()
        for k in params:
            grads[k] = grads[k] + G[k]
        opt.step(params, grads)
        return loss
    step.proc, step.conn = proc, parent_end
    return step


def ours_sine_par(rng, workers=2):
    """(d) with the 2-layer LSTM wrapped in ``BatchParallel`` (2 chunks of 16)."""
    T, B, H = 10, 32, 30
    lstm, out = BatchParallel(make_recurrent("lstm", 1, H, 2, rng=rng), workers), Dense(H, 1, rng)
    params = {**{f"lstm.{k}": v for k, v in lstm.params.items()}, **{f"out.{k}": v for k, v in out.params.items()}}
    opt = optim.Adagrad(lr=0.05)
    x, target = sine_batch(rng, B, T)

    def step():
        y, _, cache = lstm.forward(x)
        pred, oc = out.forward(y[-1])  # (B, 1) last step only
        loss, dpred = losses.mse(pred, target)
        dh, g_out = out.backward(dpred, oc)
        _, _, g_lstm, _ = lstm.backward(None, cache, [None, (dh, None)], need_dx=False)
        grads = {**{f"lstm.{k}": v for k, v in g_lstm.items()}, **{f"out.{k}": v for k, v in g_out.items()}}
        opt.step(params, grads)
        return loss
    return step


# -- seed-style baselines (per example, per timestep, as the tutorials wrote them) -----------------


def seed_min_char_rnn(rng):
    """Karpathy's min-char-rnn lossFun + Adagrad, verbatim in structure (column vectors, dicts of steps)."""
    T, V, H = 25, 96, 100
    Wxh = rng.standard_normal((H, V)) * 0.01
    Whh = rng.standard_normal((H, H)) * 0.01
    Why = rng.standard_normal((V, H)) * 0.01
    bh, by = np.zeros((H, 1)), np.zeros((V, 1))
    mem = [np.zeros_like(p) for p in (Wxh, Whh, Why, bh, by)]
    ids = rng.integers(0, V, size=T + 1)
    inputs, targets = list(ids[:-1]), list(ids[1:])
    state = {"h": np.zeros((H, 1))}

    def step():
        xs, hs, ys, ps = {}, {}, {}, {}
        hs[-1] = np.copy(state["h"])
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((V, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys[t] = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
            np.clip(dparam, -5, 5, out=dparam)
        for param, dparam, m in zip([Wxh, Whh, Why, bh, by], [dWxh, dWhh, dWhy, dbh, dby], mem):
            m += dparam * dparam
            param += -0.1 * dparam / np.sqrt(m + 1e-8)
        state["h"] = hs[len(inputs) - 1]
        return loss
    return step


def seed_binary_addition(rng):
    """iamtrask's binary-addition RNN: one example at a time, update after each; a "step" is 64 examples."""
    T, H, B = 8, 16, 64
    alpha = 0.1
    s0 = 2 * rng.random((2, H)) - 1
    s1 = 2 * rng.random((H, 1)) - 1
    sh = 2 * rng.random((H, H)) - 1
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    dsig = lambda o: o * (1 - o)  # noqa: E731
    x, y = binary_addition_batch(rng, B, T)
    x, y = x.astype(np.float64), y.astype(np.float64)

    def step():
        nonlocal s0, s1, sh
        err = 0.0
        for j in range(B):
            u0, u1, uh = np.zeros_like(s0), np.zeros_like(s1), np.zeros_like(sh)
            l2_deltas, l1_values = [], [np.zeros(H)]
            for position in range(T):
                X = x[position, j][None, :]  # (1, 2)
                Y = y[position, j][None, :]  # (1, 1)
                layer_1 = sig(np.dot(X, s0) + np.dot(l1_values[-1], sh))
                layer_2 = sig(np.dot(layer_1, s1))
                layer_2_error = Y - layer_2
                l2_deltas.append(layer_2_error * dsig(layer_2))
                err += np.abs(layer_2_error[0])
                l1_values.append(np.copy(layer_1))
            future = np.zeros(H)
            for position in range(T):
                X = x[T - position - 1, j][None, :]
                layer_1 = l1_values[-position - 1]
                prev_layer_1 = l1_values[-position - 2]
                layer_2_delta = l2_deltas[-position - 1]
                layer_1_delta = (future.dot(sh.T) + layer_2_delta.dot(s1.T)) * dsig(layer_1)
                u1 += np.atleast_2d(layer_1).T.dot(layer_2_delta)
                uh += np.atleast_2d(prev_layer_1).T.dot(layer_1_delta)
                u0 += X.T.dot(layer_1_delta)
                future = layer_1_delta
            s0 = s0 + u0 * alpha
            s1 = s1 + u1 * alpha
            sh = sh + uh * alpha
        return err
    return step


# -- PyTorch on the identical models ------------------------------------------------------------------


def torch_cases(torch, rng):
    nn = torch.nn
    torch.manual_seed(0)

    def char_lstm():
        T, B, V, H = 50, 32, 96, 128
        lstm, out = nn.LSTM(V, H), nn.Linear(H, V)
        opt = torch.optim.Adam([*lstm.parameters(), *out.parameters()], lr=2e-3)
        ids = torch.from_numpy(rng.integers(0, V, size=(T + 1, B)))
        x = nn.functional.one_hot(ids[:-1], V).float()
        targets = ids[1:].reshape(-1)
        lossf = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            y, _ = lstm(x)
            loss = lossf(out(y).reshape(-1, V), targets)
            loss.backward()
            opt.step()
            return loss
        return step

    def min_char_rnn():
        T, V, H = 25, 96, 100
        rnn, out = nn.RNN(V, H, nonlinearity="tanh"), nn.Linear(H, V)
        ps = [*rnn.parameters(), *out.parameters()]
        opt = torch.optim.Adagrad(ps, lr=0.1)
        ids = torch.from_numpy(rng.integers(0, V, size=(T + 1, 1)))
        x = nn.functional.one_hot(ids[:-1], V).float()
        targets = ids[1:].reshape(-1)
        lossf = nn.CrossEntropyLoss(reduction="sum")
        state = {"h": torch.zeros(1, 1, H)}

        def step():
            opt.zero_grad()
            y, h = rnn(x, state["h"])
            loss = lossf(out(y).reshape(-1, V), targets)
            loss.backward()
            for p in ps:
                p.grad.clamp_(-5, 5)
            opt.step()
            state["h"] = h.detach()
            return loss
        return step

    def binary_addition():
        # torch.nn.RNN has no sigmoid cell: the identical model is written with torch ops,
        # input projection in one matmul, the recurrence stepped in Python (as ours).
        T, B, H = 8, 64, 16
        k = 1 / np.sqrt(H)
        Wx = nn.Parameter(torch.empty(2, H).uniform_(-k, k))
        Wh = nn.Parameter(torch.empty(H, H).uniform_(-k, k))
        b = nn.Parameter(torch.empty(H).uniform_(-k, k))
        out = nn.Linear(H, 1)
        opt = torch.optim.SGD([Wx, Wh, b, *out.parameters()], lr=1.0)
        xn, yn = binary_addition_batch(rng, B, T)
        x, target = torch.from_numpy(xn), torch.from_numpy(yn)
        lossf = nn.BCEWithLogitsLoss()

        def step():
            opt.zero_grad()
            xp = (x.reshape(T * B, 2) @ Wx + b).reshape(T, B, H)
            h = torch.zeros(B, H)
            hs = []
            for t in range(T):
                h = torch.sigmoid(xp[t] + h @ Wh)
                hs.append(h)
            loss = lossf(out(torch.stack(hs)), target)
            loss.backward()
            opt.step()
            return loss
        return step

    def sine():
        T, B, H = 10, 32, 30
        lstm, out = nn.LSTM(1, H, num_layers=2), nn.Linear(H, 1)
        opt = torch.optim.Adagrad([*lstm.parameters(), *out.parameters()], lr=0.05)
        xn, yn = sine_batch(rng, B, T)
        x, target = torch.from_numpy(xn), torch.from_numpy(yn)
        lossf = nn.MSELoss()

        def step():
            opt.zero_grad()
            y, _ = lstm(x)
            loss = lossf(out(y[-1]), target)
            loss.backward()
            opt.step()
            return loss
        return step

    return {"a": char_lstm, "a1": char_lstm, "b": min_char_rnn, "c": binary_addition, "d": sine}


CASES = {
    "a": ("(a) char LSTM  H128 V96 T50 B32 Adam", ours_char_lstm, None, 1.0),
    "a1": ("(a') same, ours fed float one-hot", lambda rng: ours_char_lstm(rng, ids_input=False), None, 1.0),
    "b": ("(b) min-char-rnn tanh H100 T25 B1 Adagrad", ours_min_char_rnn, seed_min_char_rnn, 2.0),
    "c": ("(c) binary add sigmoid H16 T8 B64 SGD", ours_binary_addition, seed_binary_addition, 2.0),
    "d": ("(d) sine 2xLSTM H30 T10 B32 Adagrad", ours_sine, None, 1.5),
}


# extra rows measured in the same interleaved rounds as their case (BLAS at 1 thread, 2 Python threads)
VARIANTS = {
    "a": [("(a) char LSTM, 2-thread batch-parallel", lambda rng: ours_char_lstm_par(rng, "layer")),
          ("(a) 2-thread, + Dense/CE per thread", lambda rng: ours_char_lstm_par(rng, "fused")),
          ("(a) 2-thread, + Dense/CE + Adam split", lambda rng: ours_char_lstm_par(rng, "fused+adam")),
          ("(a) 2-process (fork), LSTM+Dense/CE", ours_char_lstm_proc)],
    "d": [("(d) sine, 2-thread batch-parallel", ours_sine_par)],
}


def char_lm_threads() -> None:
    """The char-lm experiment's 'lstm' preset (LSTM 128 on a 32-d embedding, B=32, T=32, Adam,
    clip 5): train_step at threads=1 with 1 and 2 BLAS threads, and at threads=2 (1 BLAS thread)."""
    from core.experiments.char_lm import CharLM
    cfg = CharLM.preset_config("lstm")
    steps = {"t1b1": CharLM({**cfg, "threads": 1}, seed=0).train_step,
             "t1b2": CharLM({**cfg, "threads": 1}, seed=0).train_step,
             "t2b1": CharLM({**cfg, "threads": 2}, seed=0).train_step}
    r = measure(steps, ARGS.seconds, ARGS.repeats, lambda name: runtime.limit_blas_threads(int(name[-1])))
    runtime.limit_blas_threads(1)
    print(f"char-lm 'lstm' preset: threads=1 {r['t1b1']:.1f} steps/s (1 BLAS thread), {r['t1b2']:.1f} "
          f"(2 BLAS threads); threads=2 {r['t2b1']:.1f} (x{r['t2b1'] / r['t1b1']:.2f} vs threads=1 at 1 BLAS "
          f"thread, x{r['t2b1'] / r['t1b2']:.2f} vs 2 BLAS threads)", flush=True)


def main() -> None:
    torch = None
    if not ARGS.no_torch:
        try:
            import torch  # noqa: F811  (benchmarks only: never imported by core/ or the tests)
        except ImportError:
            torch = None
    tthreads = [int(v) for v in str(ARGS.torch_threads).split(",") if v.strip()] if torch else []
    print(f"numpy {np.__version__}, BLAS threads {NTHREADS}; "
          + (f"torch {torch.__version__}, threads {tthreads}" if torch else "torch not available")
          + f"; best of {ARGS.repeats} x >= {ARGS.seconds:.1f} s; load average {os.getloadavg()[0]:.1f}")
    ocols = " ".join(f"{f'ours{n}t/s':>9s}" for n in NTHREADS)
    tcols = " ".join(f"{f'torch{n}t/s':>10s}" for n in tthreads)
    head = (f"{'case':42s} {ocols} {tcols} {'ours/torch':>10s} {'target':>6s}     "
            f"{'seed/s':>8s} {'ours/seed':>9s}")
    print(head)
    print("-" * len(head))
    rng = np.random.default_rng(0)
    for key in ARGS.only.split(","):
        if key.strip() == "lm":
            char_lm_threads()
            continue
        title, ours, seed, target = CASES[key.strip()]
        steps = {f"ours{n}": ours(np.random.default_rng(1)) for n in NTHREADS}
        for n in tthreads:
            steps[f"torch{n}"] = torch_cases(torch, rng)[key]()
        if seed:
            steps["seed"] = seed(np.random.default_rng(2))
        variants = VARIANTS.get(key.strip(), []) if not ARGS.no_parallel else []
        for j, (_, make) in enumerate(variants):
            steps[f"par{j}"] = make(np.random.default_rng(1))

        def setup(name: str) -> None:
            if name.startswith("torch"):
                torch.set_num_threads(int(name[5:]))
            runtime.limit_blas_threads(int(name[4:]) if name.startswith("ours") else 1)

        r = measure(steps, ARGS.seconds, ARGS.repeats, setup)
        r_ours = [r[f"ours{n}"] for n in NTHREADS]
        r_torch = [r[f"torch{n}"] for n in tthreads]
        best_torch = max(r_torch) if r_torch else float("nan")
        ratio = max(r_ours) / best_torch
        ok = "" if not r_torch else ("ok" if ratio >= target else "MISS")
        ovals = " ".join(f"{v:9.1f}" for v in r_ours)
        tvals = " ".join(f"{v:10.1f}" for v in r_torch)
        seed_s = f"{r['seed']:8.1f} {max(r_ours) / r['seed']:8.1f}x" if seed else f"{'-':>8s} {'-':>9s}"
        print(f"{title:42s} {ovals} {tvals} {ratio:9.2f}x {target:5.1f}x {ok:4s} {seed_s}", flush=True)
        for j, (vtitle, _) in enumerate(variants):  # figure in the "ours at 1 BLAS thread" column
            v = r[f"par{j}"]
            vratio = v / best_torch
            vok = "" if not r_torch else ("ok" if vratio >= target else "MISS")
            pad = " ".join(f"{'':9s}" for _ in NTHREADS[1:])
            print(f"{'  ' + vtitle:42s} {v:9.1f} {pad} {' ' * len(tvals)} {vratio:9.2f}x {target:5.1f}x {vok:4s}"
                  f"   (x{v / max(r_ours):.2f} vs ours best)", flush=True)


if __name__ == "__main__":
    main()
