"""Fixed and slow points of the recurrence (Sussillo & Barak 2013, "Opening the black box").

With the input held at a constant x*, the layer is a map s -> F(s, x*) on its state s (h; for
the LSTM s = [h, c]). Minimising q(s) = 1/2 ||F(s) - s||^2 from several states the network
actually visits finds fixed points (q ~ 0) and slow points (small q); the eigenvalues of
dF/ds there say whether the point attracts (all |lambda| < 1) or repels along some direction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from core.analysis.cells import RecurrentWeights, state_size, step, vjp


@dataclass(frozen=True)
class FixedPoint:
    """One fixed or slow point.

    state:       (n,) the point: h (n = H), or [h, c] for the LSTM (n = 2H).
    q:           1/2 ||F(s) - s||^2 there.
    kind:        "fixed" (q <= ``fixed_q``) or "slow".
    eigenvalues: (n,) complex eigenvalues of dF/ds, sorted by decreasing modulus.
    spectral_radius: max |eigenvalue|.
    stable:      spectral_radius < 1 (an attractor of the discrete-time map).
    unstable_dims: number of eigenvalues with |lambda| > 1 (0 attractor, 1 saddle, ...).
    start:       index of the start that converged here (the best one when several did).
    """

    state: np.ndarray
    q: float
    kind: str
    eigenvalues: np.ndarray
    spectral_radius: float
    stable: bool
    unstable_dims: int
    start: int


@dataclass(frozen=True)
class FixedPoints:
    """The result of :func:`find_fixed_points`.

    cell:       "rnn", "lstm" or "gru".
    points:     tuple of :class:`FixedPoint` (distinct, q <= ``slow_q``), sorted by q.
    starts:     (S, n) the initial states.
    final:      (S, n) where each start ended.
    final_q:    (S,) q there.
    iterations: (S,) iterations used per start.
    """

    cell: str
    points: tuple[FixedPoint, ...]
    starts: np.ndarray
    final: np.ndarray
    final_q: np.ndarray
    iterations: np.ndarray


def step_map(W: RecurrentWeights, s: np.ndarray, u: np.ndarray,
             jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """F(s) (S, n) and dF/ds (S, n, n) for states s (S, n) and input drive u = x* Wx + b (G*H,).

    The Jacobian is built row by row from the cell's VJP with identity covectors
    (dF_i/ds = e_i^T dF/ds), so it is exact.
    """
    H = W.hidden_size
    s = np.atleast_2d(np.asarray(s, np.float64))
    lstm = W.cell == "lstm"
    h, c = (s[:, :H], s[:, H:]) if lstm else (s, None)
    q = step(W, h, c, u)
    F = np.concatenate([q["h"], q["c"]], axis=1) if lstm else q["h"]
    if not jacobian:
        return F, None
    n = s.shape[1]
    qb = {k: v[:, None, :] for k, v in q.items()}  # (S, 1, H): broadcast against n covectors
    eye = np.eye(n)
    if lstm:
        dh, dc, _ = vjp(W, qb, eye[:, :H], eye[:, H:])  # covectors on h' (rows < H) and c' (rows >= H)
        J = np.concatenate([dh, dc], axis=2)  # (S, 2H, 2H)
    else:
        J, _, _ = vjp(W, qb, eye)  # (S, H, H)
    return F, J


def starts_from_trace(states: Mapping[str, np.ndarray], n: int = 8, cell: str | None = None,
                      noise: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """(n, state size) starting states: the trace's states at n evenly spaced timesteps
    ([h, c] when the trace has "c", i.e. an LSTM), plus optional Gaussian ``noise``."""
    states = getattr(states, "states", states)
    h = np.asarray(states["h"], np.float64)
    T = h.shape[0]
    idx = np.unique(np.linspace(0, T - 1, min(n, T)).round().astype(int))
    s = h[idx]
    if (cell == "lstm" or cell is None) and "c" in states:
        s = np.concatenate([s, np.asarray(states["c"], np.float64)[idx]], axis=1)
    if noise:
        s = s + noise * (rng or np.random.default_rng(0)).standard_normal(s.shape)
    return s


def find_fixed_points(W: RecurrentWeights, starts: Any, x: Any = None, max_iter: int = 200,
                      fixed_q: float = 1e-14, slow_q: float = 1e-4, dedup_tol: float = 1e-4,
                      damping: float = 1e-3) -> FixedPoints:
    """Fixed and slow points of s -> F(s, x*) by minimising q(s) = 1/2 ||F(s) - s||^2.

    W:      the layer's weights (needs ``Wx`` when ``x`` is given).
    starts: (S, n) initial states, n = H (rnn, gru) or 2H (lstm: [h, c]) -- e.g.
            :func:`starts_from_trace`.
    x:      (D,) the constant input x* (None: zero input, only the bias drives the cell).
    Levenberg-Marquardt on the residual r = F(s) - s with the exact Jacobian, batched over starts:
    step -(A^T A + lam I)^{-1} A^T r with A = dF/ds - I; a step is kept only if q drops (lam / 3),
    else lam * 4 and retry (a backtracking on the damping); at most ``max_iter`` iterations, a start
    stops once q <= fixed_q. Points with q <= slow_q are kept, merged when closer than ``dedup_tol``.
    Each iteration builds S Jacobians (S, n, n) and solves S n x n systems; from trace states it
    typically converges in 3-4 iterations. Measured (float64, shared 2-core machine, 8 starts):
    rnn H=64 3-11 ms, H=256 0.4 s; gru H=64 12-35 ms, H=256 0.2-0.5 s; lstm (n = 2H) H=64
    30-60 ms, H=256 1.8-3.6 s -- at H=256 run it on demand (a button), not per frame, or use
    fewer starts.
    """
    u = W.input_drive(x)
    s = np.atleast_2d(np.array(starts, np.float64))
    S, n = s.shape
    if n != state_size(W):
        raise ValueError(f"starts must be (S, {state_size(W)}) for this {W.cell} layer, got {s.shape}")
    starts = s.copy()
    eye = np.eye(n)
    F, J = step_map(W, s, u)
    r = F - s
    q = 0.5 * np.einsum("sn,sn->s", r, r)
    lam = np.full(S, float(damping))
    iters = np.zeros(S, np.int64)
    active = q > fixed_q
    for _ in range(max_iter):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        iters[a] += 1
        A = J[a] - eye  # (a, n, n)
        At = A.transpose(0, 2, 1)
        g = np.matmul(At, r[a][..., None])[..., 0]  # A^T r
        M = np.matmul(At, A)  # batched BLAS (einsum would not use it)
        M[:, np.arange(n), np.arange(n)] += lam[a, None] * (1.0 + M[:, np.arange(n), np.arange(n)])
        delta = -np.linalg.solve(M, g[..., None])[..., 0]
        s_new = s[a] + delta
        F_new, J_new = step_map(W, s_new, u)
        r_new = F_new - s_new
        q_new = 0.5 * np.einsum("sn,sn->s", r_new, r_new)
        ok = q_new < q[a]
        acc, rej = a[ok], a[~ok]
        s[acc], r[acc], q[acc], J[acc] = s_new[ok], r_new[ok], q_new[ok], J_new[ok]
        lam[acc] = np.maximum(lam[acc] / 3.0, 1e-12)
        lam[rej] *= 4.0
        active = (q > fixed_q) & (lam < 1e12)
    # distinct points, best q first
    points: list[FixedPoint] = []
    for k in np.argsort(q):
        if q[k] > slow_q:
            break
        if any(np.linalg.norm(s[k] - p.state) <= dedup_tol * (1.0 + np.linalg.norm(p.state)) for p in points):
            continue
        ev = np.linalg.eigvals(J[k])
        ev = ev[np.argsort(-np.abs(ev), kind="stable")]
        rho = float(np.abs(ev[0])) if ev.size else 0.0
        points.append(FixedPoint(s[k].copy(), float(q[k]), "fixed" if q[k] <= fixed_q else "slow", ev, rho,
                                 rho < 1.0, int(np.count_nonzero(np.abs(ev) > 1.0)), int(k)))
    return FixedPoints(W.cell, tuple(points), starts, s, q, iters)
