"""Engine benchmark: training steps/s of our NumPy layers against PyTorch's own modules,
measured so that a sceptic can check it.

    python tests/benchmarks/bench_engine.py [--rounds 5] [--seconds 0.3] [--threads 1]
        [--sizes 32,64,128,256,512,1024] [--dtypes float32,float64] [--only min-char,binary,sine,char,skeleton]
        [--lstm-from FILE] [--vs-lstm FILE]

Method
  * A step is forward + backward + optimizer update of the whole model (recurrent layer,
    output layer, loss), the same model and sizes on both sides.
  * Paired and interleaved: in every round ours (A) and torch (B) are measured back to back,
    in the order A B in even rounds and B A in odd ones (A B B A A B ...), each for at least
    ``--seconds`` (and at least ``--min-steps`` steps). Each round gives one ratio
    ours/torch of steps/s from its adjacent pair, so both saw the same (shared, noisy)
    machine. We print min / median / max of the ratio over ``--rounds`` rounds (>= 5 by
    default), and the median steps/s of each side. Nothing about timing is asserted.
  * Threads: ``--threads`` (default 1) BLAS threads for NumPy (core.runtime.limit_blas_threads,
    environment set before NumPy is imported) and torch.set_num_threads(same). Printed, with
    the BLAS library and kernel (threadpoolctl) and torch's.
  * Both float32 and float64 (``--dtypes``).
  * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment sets them; the
    kernel that runs is printed. (To benchmark the CPU's native kernel, unset both in the
    one command: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...``.)

Cases
  min-char   tanh RNN H100, V96, batch 1, seq 25, summed CE, Adagrad, clip 5, state carried
             (torch: nn.RNN(tanh) + nn.Linear)
  binary     sigmoid RNN H16, 2 inputs, batch 64, seq 8, 1 output/step, BCE-with-logits, SGD.
             torch's nn.RNN has no sigmoid nonlinearity; the closest honest equivalent is
             nn.RNN(tanh) of the same sizes (sigmoid(a) = (1 + tanh(a/2)) / 2: the same work
             per step; ours runs its sigmoid cell exactly so, in "u-space").
  sine       2 x LSTM H30, 1 input, batch 50, seq 10, loss (MSE) on the last step only, Adagrad
  char-H     char LSTM H in --sizes, V96, batch 32, seq 50, softmax CE on every step, Adam.
             torch gets the float one-hot input (nn.LSTM needs floats); ours reads the same
             characters as int ids (one-hot input done as a row gather: the same maths).
  skeleton-H the "bare-GEMM skeleton" for char-H (H in 512, 1024 of --sizes): NumPy doing
             only the matrix products of a char-LSTM step (50 forward h @ Whh, 50 backward
             dgates @ Whh^T, dWhh, the output layer's forward, dW and dh) on preallocated
             buffers - the speed limit of any NumPy LSTM with this BLAS. Its row pairs
             ours against the skeleton (ratio ours/skeleton), not against torch. A second row
             pairs ours against the "blocked" skeleton: the same products with the per-step
             recurrent ones cut into the row blocks our LSTM uses (core.nn.lstm.blocked_dot,
             OpenBLAS's small-matrix kernel: no re-packing of the weight each step) - the
             limit for that technique (identical to the plain skeleton on other BLAS kernels).

Extra pairs
  --lstm-from FILE  our LSTM class taken from FILE (e.g. an older core/nn/lstm.py): the
                    "before" figures.
  --vs-lstm FILE    adds, per char-H size, a paired row ours (current) / ours (LSTM from FILE).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="paired rounds per case (>= 5 recommended)")
    ap.add_argument("--seconds", type=float, default=0.3, help="minimum duration of one measurement")
    ap.add_argument("--min-steps", type=int, default=2, help="minimum steps of one measurement")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (NumPy) = torch.set_num_threads")
    ap.add_argument("--sizes", default="32,64,128,256,512,1024", help="char-LSTM hidden sizes")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--only", default="min-char,binary,sine,char,skeleton", help="case families to run")
    ap.add_argument("--lstm-from", default="", help="use the LSTM class of this file for ours")
    ap.add_argument("--vs-lstm", default="", help="add paired rows: ours vs ours with the LSTM of this file")
    ap.add_argument("--no-torch", action="store_true")
    return ap.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else _parse([])
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import numpy as np  # noqa: E402

from core import losses, optim, runtime  # noqa: E402
from core.nn.dense import Dense  # noqa: E402
from core.nn.lstm import LSTM, blocked_dot  # noqa: E402
from core.nn.recurrent import make_recurrent  # noqa: E402
from core.nn.rnn import RNN  # noqa: E402

runtime.limit_blas_threads(ARGS.threads)
V = 96  # characters


def load_lstm_class(path: str):
    """The ``LSTM`` class of another lstm.py (its cell registration neutralised)."""
    import types
    src = open(path).read().replace("register_cell(", "(lambda spec: spec)(")
    mod = types.ModuleType(f"lstm_from_{abs(hash(path))}")
    mod.__file__ = path
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod.LSTM


OURS_LSTM = load_lstm_class(ARGS.lstm_from) if ARGS.lstm_from else LSTM


# -- timing -------------------------------------------------------------------------------------------


def rate(step, seconds: float, min_steps: int) -> float:
    """steps/s of ``step`` over at least ``seconds`` and ``min_steps`` calls."""
    n = 0
    t0 = time.perf_counter()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= min_steps:
            return n / dt


def paired(a, b, rounds: int, seconds: float, min_steps: int) -> tuple[list[float], list[float]]:
    """Steps/s of a and b in ``rounds`` interleaved pairs, order A B, B A, A B, ..."""
    for _ in range(2):  # warm-up: allocations, optimizer state, caches
        a(), b()
    ra, rb = [], []
    for r in range(rounds):
        if r % 2 == 0:
            ra.append(rate(a, seconds, min_steps)), rb.append(rate(b, seconds, min_steps))
        else:
            rb.append(rate(b, seconds, min_steps)), ra.append(rate(a, seconds, min_steps))
    return ra, rb


def _params(**layers):
    return {f"{n}.{k}": v for n, layer in layers.items() for k, v in layer.params.items()}


def _grads(**gs):
    return {f"{n}.{k}": v for n, g in gs.items() for k, v in g.items()}


# -- ours ------------------------------------------------------------------------------------------------


def ours_char(H: int, dtype, T: int = 50, B: int = 32, lstm_class=None):
    rng = np.random.default_rng(0)
    lstm, out = (lstm_class or OURS_LSTM)(V, H, rng, dtype=dtype), Dense(H, V, rng, dtype=dtype)
    params = _params(lstm=lstm, out=out)
    opt = optim.Adam(lr=2e-3)
    ids = rng.integers(0, V, size=(T + 1, B))
    x, targets = ids[:-1], ids[1:]

    def step():
        y, _, cache = lstm.forward(x)
        logits, oc = out.forward(y)
        loss, dlogits = losses.softmax_cross_entropy(logits, targets)[:2]
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_lstm, _ = lstm.backward(dy, cache, need_dx=False)
        opt.step(params, _grads(lstm=g_lstm, out=g_out))
        return loss
    return step


def skeleton_char(H: int, dtype, T: int = 50, B: int = 32, blocked: bool = False):
    """Only the matrix products of a char-LSTM step, each in its fastest layout measured here,
    on preallocated buffers, with no elementwise maths: the limit for a NumPy LSTM step.

    ``blocked``: the per-step recurrent products cut into the row blocks our LSTM uses
    (core.nn.lstm.blocked_dot: OpenBLAS's small-matrix kernel, no re-packing of the
    weight each step), i.e. the limit for that technique; the same as the plain skeleton
    where the BLAS has no such kernel."""
    rng = np.random.default_rng(0)
    Wh = rng.standard_normal((H, 4 * H)).astype(dtype) * 0.01  # (H, 4H)
    WhT = np.ascontiguousarray(Wh.T)  # (4H, H)
    Wy = rng.standard_normal((H, V)).astype(dtype) * 0.01
    hT = rng.standard_normal((T + 1, H, B)).astype(dtype) * 0.1  # feature-major h_t^T
    Y = rng.standard_normal((T * B, H)).astype(dtype) * 0.1
    gT = rng.standard_normal((T, 4 * H, B)).astype(dtype) * 0.1  # dgates_t^T
    dG = rng.standard_normal((4 * H, T * B)).astype(dtype) * 0.1
    dl = rng.standard_normal((T * B, V)).astype(dtype)
    z = np.empty((4 * H, B), dtype)
    dh = np.empty((H, B), dtype)
    dot = np.dot
    if blocked:  # as our LSTM: the blocks' products as one stacked matmul (core.nn.lstm.blocked_dot)
        fwd, bwd = blocked_dot(WhT, z, B), blocked_dot(Wh, dh, B)
    else:
        fwd, bwd = (lambda h: dot(WhT, h, z)), (lambda g: dot(Wh, g, dh))

    def step():
        for t in range(T):
            fwd(hT[t])  # forward recurrence (4H, H) @ (H, B)
        Y @ Wy  # logits
        Y.T @ dl  # dWy
        dl @ Wy.T  # dY
        for t in range(T - 1, -1, -1):
            bwd(gT[t])  # backward recurrence (H, 4H) @ (4H, B)
        dG @ Y  # dWhh (4H, H)
    return step


def ours_min_char(dtype):
    T, H = 25, 100
    rng = np.random.default_rng(0)
    rnn, out = RNN(V, H, rng, activation="tanh", dtype=dtype), Dense(H, V, rng, dtype=dtype)
    params = _params(rnn=rnn, out=out)
    opt = optim.Adagrad(lr=0.1)
    ids = rng.integers(0, V, size=(T + 1, 1))
    x, targets = ids[:-1], ids[1:]
    state = {"h": None}

    def step():
        y, h, cache = rnn.forward(x, state["h"])
        logits, oc = out.forward(y)
        loss, dlogits = losses.softmax_cross_entropy(logits, targets, reduction="sum")[:2]
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_rnn, _ = rnn.backward(dy, cache, need_dx=False)
        grads = _grads(rnn=g_rnn, out=g_out)
        optim.clip_by_value(grads, 5.0)
        opt.step(params, grads)
        state["h"] = h
        return loss
    return step


def binary_batch(B: int, T: int, dtype):
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2 ** (T - 1), size=B), rng.integers(0, 2 ** (T - 1), size=B)
    bits = (np.stack([a, b, a + b])[:, None, :] >> np.arange(T)[None, :, None]) & 1  # (3, T, B)
    return np.stack([bits[0], bits[1]], axis=-1).astype(dtype), bits[2][..., None].astype(dtype)


def ours_binary(dtype):
    T, B, H = 8, 64, 16
    rng = np.random.default_rng(0)
    rnn, out = RNN(2, H, rng, activation="sigmoid", dtype=dtype), Dense(H, 1, rng, dtype=dtype)
    params = _params(rnn=rnn, out=out)
    opt = optim.SGD(lr=1.0)
    x, target = binary_batch(B, T, dtype)

    def step():
        y, _, cache = rnn.forward(x)
        logits, oc = out.forward(y)
        loss, dlogits = losses.bce_with_sigmoid(logits, target)
        dy, g_out = out.backward(dlogits, oc)
        _, _, g_rnn, _ = rnn.backward(dy, cache, need_dx=False)
        opt.step(params, _grads(rnn=g_rnn, out=g_out))
        return loss
    return step


def sine_batch(B: int, T: int, dtype):
    rng = np.random.default_rng(2)
    t = rng.uniform(0, 2 * np.pi, size=B)[None, :] + 0.2 * np.arange(T + 1)[:, None]  # (T+1, B)
    s = np.sin(t).astype(dtype)
    return s[:-1, :, None], s[-1][:, None]


def ours_sine(dtype):
    T, B, H = 10, 50, 30
    rng = np.random.default_rng(0)
    if OURS_LSTM is LSTM:
        lstm = make_recurrent("lstm", 1, H, 2, rng=rng, dtype=dtype)
    else:
        from core.nn.stack import Stacked
        lstm = Stacked([OURS_LSTM(1, H, rng, dtype=dtype), OURS_LSTM(H, H, rng, dtype=dtype)])
    out = Dense(H, 1, rng, dtype=dtype)
    params = _params(lstm=lstm, out=out)
    opt = optim.Adagrad(lr=0.05)
    x, target = sine_batch(B, T, dtype)

    def step():
        y, _, cache = lstm.forward(x)
        pred, oc = out.forward(y[-1])
        loss, dpred = losses.mse(pred, target)
        dh, g_out = out.backward(dpred, oc)
        _, _, g_lstm, _ = lstm.backward(None, cache, [None, (dh, None)], need_dx=False)
        opt.step(params, _grads(lstm=g_lstm, out=g_out))
        return loss
    return step


# -- torch's own modules ------------------------------------------------------------------------------------


def torch_steps(torch):
    nn = torch.nn
    tdt = {"float32": torch.float32, "float64": torch.float64}

    def char(H, dtype, T=50, B=32):
        torch.manual_seed(0)
        dt = tdt[np.dtype(dtype).name]
        lstm, out = nn.LSTM(V, H).to(dt), nn.Linear(H, V).to(dt)
        opt = torch.optim.Adam([*lstm.parameters(), *out.parameters()], lr=2e-3)
        ids = torch.from_numpy(np.random.default_rng(0).integers(0, V, size=(T + 1, B)))
        x = nn.functional.one_hot(ids[:-1], V).to(dt)
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

    def min_char(dtype):
        torch.manual_seed(0)
        T, H = 25, 100
        dt = tdt[np.dtype(dtype).name]
        rnn, out = nn.RNN(V, H, nonlinearity="tanh").to(dt), nn.Linear(H, V).to(dt)
        ps = [*rnn.parameters(), *out.parameters()]
        opt = torch.optim.Adagrad(ps, lr=0.1)
        ids = torch.from_numpy(np.random.default_rng(0).integers(0, V, size=(T + 1, 1)))
        x = nn.functional.one_hot(ids[:-1], V).to(dt)
        targets = ids[1:].reshape(-1)
        lossf = nn.CrossEntropyLoss(reduction="sum")
        state = {"h": torch.zeros(1, 1, H, dtype=dt)}

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

    def binary(dtype):
        torch.manual_seed(0)
        T, B, H = 8, 64, 16
        dt = tdt[np.dtype(dtype).name]
        rnn, out = nn.RNN(2, H, nonlinearity="tanh").to(dt), nn.Linear(H, 1).to(dt)  # no sigmoid in nn.RNN
        opt = torch.optim.SGD([*rnn.parameters(), *out.parameters()], lr=1.0)
        xn, yn = binary_batch(B, T, dtype)
        x, target = torch.from_numpy(xn), torch.from_numpy(yn)
        lossf = nn.BCEWithLogitsLoss()

        def step():
            opt.zero_grad()
            y, _ = rnn(x)
            loss = lossf(out(y), target)
            loss.backward()
            opt.step()
            return loss
        return step

    def sine(dtype):
        torch.manual_seed(0)
        T, B, H = 10, 50, 30
        dt = tdt[np.dtype(dtype).name]
        lstm, out = nn.LSTM(1, H, num_layers=2).to(dt), nn.Linear(H, 1).to(dt)
        opt = torch.optim.Adagrad([*lstm.parameters(), *out.parameters()], lr=0.05)
        xn, yn = sine_batch(B, T, dtype)
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

    return {"char": char, "min-char": min_char, "binary": binary, "sine": sine}


# -- main ---------------------------------------------------------------------------------------------------


def environment(torch) -> None:
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, threads {ARGS.threads} "
          f"(NumPy BLAS via core.runtime.limit_blas_threads; torch.set_num_threads({ARGS.threads}))")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        print(f"  {var}={os.environ.get(var, '(unset)')}")
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            print(f"  {info.get('user_api')}: {info.get('internal_api')} {info.get('version')} "
                  f"kernel={info.get('architecture')} threads={info.get('num_threads')} "
                  f"({os.path.basename(info.get('filepath', ''))})")
    except ImportError:
        print("  threadpoolctl not installed: BLAS kernel unknown")
    if torch is not None:
        print(f"  torch {torch.__version__}: threads={torch.get_num_threads()} "
              f"blas={torch.backends.mkl.is_available() and 'MKL' or 'non-MKL'} "
              f"mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"  rounds {ARGS.rounds}, >= {ARGS.seconds} s and >= {ARGS.min_steps} steps per measurement, "
          f"order A B / B A alternating")


def row(label: str, dtype: str, ra: list, rb: list, names=("ours", "torch")) -> None:
    ratios = [a / b for a, b in zip(ra, rb)]
    print(f"{label:<34} {dtype:<8} {statistics.median(ra):>9.2f} {statistics.median(rb):>9.2f}   "
          f"{min(ratios):6.3f} {statistics.median(ratios):6.3f} {max(ratios):6.3f}   ({names[0]}/{names[1]})",
          flush=True)


def main() -> None:
    torch = None
    if not ARGS.no_torch:
        try:
            import torch as _torch
            torch = _torch
            torch.set_num_threads(ARGS.threads)
        except ImportError:
            print("torch not importable: only the skeleton and --vs-lstm rows (pip install torch)")
    environment(torch)
    if ARGS.lstm_from:
        print(f"  ours' LSTM class from {ARGS.lstm_from}")
    print(f"\n{'case':<34} {'dtype':<8} {'A steps/s':>9} {'B steps/s':>9}   {'ratio A/B: min':>14} {'median':>6} "
          f"{'max':>6}")
    only = set(ARGS.only.split(","))
    sizes = [int(s) for s in ARGS.sizes.split(",") if s.strip()]
    dtypes = [np.dtype(d).type for d in ARGS.dtypes.split(",")]
    ts = torch_steps(torch) if torch is not None else None
    vs = load_lstm_class(ARGS.vs_lstm) if ARGS.vs_lstm else None
    go = lambda a, b: paired(a, b, ARGS.rounds, ARGS.seconds, ARGS.min_steps)  # noqa: E731
    for dtype in dtypes:
        dn = np.dtype(dtype).name
        if ts is not None:
            if "min-char" in only:
                row("min-char-rnn tanh H100 B1 T25", dn, *go(ours_min_char(dtype), ts["min-char"](dtype)))
            if "binary" in only:
                row("binary-add sigmoid H16 B64 T8 *", dn, *go(ours_binary(dtype), ts["binary"](dtype)))
            if "sine" in only:
                row("sine 2xLSTM H30 B50 T10", dn, *go(ours_sine(dtype), ts["sine"](dtype)))
        for H in sizes:
            if "char" in only and ts is not None:
                row(f"char-LSTM H{H} B32 T50", dn, *go(ours_char(H, dtype), ts["char"](H, dtype)))
            if vs is not None:
                row(f"  char-LSTM H{H}: ours new vs old", dn, *go(ours_char(H, dtype, lstm_class=LSTM),
                                                                  ours_char(H, dtype, lstm_class=vs)),
                    names=("new", "old"))
            if "skeleton" in only and H >= 512:
                row(f"  char-LSTM H{H} vs bare-GEMM skel.", dn, *go(ours_char(H, dtype), skeleton_char(H, dtype)),
                    names=("ours", "skeleton"))
                row(f"  char-LSTM H{H} vs blocked skel.", dn,
                    *go(ours_char(H, dtype), skeleton_char(H, dtype, blocked=True)), names=("ours", "skel-blk"))
    print("\n* torch.nn.RNN has no sigmoid nonlinearity: torch runs nn.RNN(tanh) of the same sizes "
          "(same work per step); ours runs the sigmoid cell.")
    print("ratio > 1: A (ours) is faster. Medians of steps/s; ratios are per round from adjacent A/B measurements.")


if __name__ == "__main__":
    main()
