"""``rnnlab analyze RUN_DIR_OR_CHECKPOINT [--json]``: the numbers of the analysis panels, headless.

The same functions as the live views (``core.analysis.live``), run once, inline:

* ``units``: the unit finder's table over the long probe, ``[{feature, state, layer, unit, r}]``;
* ``sigma_max``, ``spectral_radius``: one per layer (gated cells: sigma_max of the whole recurrent
  matrix, the radius the largest over the gate blocks), with ``vanishing_bound`` (1/gamma, RNN only);
* ``grad_norm_by_lag``: ||dh_T/dh_{T-k}||_F for k = 1, 2, ... of the first layer (geometric mean over the
  probe lanes), and ``grad_decay_20`` = its value at lag 1 over its value at lag 21;
* ``memory_horizon``: the first lag at which an input's influence on the output falls below 10% of
  the nearest input's (Madsen connectivity on one probe sequence); null when it never does.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, TextIO

import numpy as np

from core.analysis.live import (copy_model, gradients_view, lanes_for, memory_view, recurrent_model, run_trace,
                                spectrum_now, units_view)


def load(path: str) -> Any:
    """The experiment in a run folder (its checkpoint.npz) or a checkpoint file."""
    from core.checkpoint import load_checkpoint

    if os.path.isdir(path):
        ck = os.path.join(path, "checkpoint.npz")
        if not os.path.isfile(ck):
            raise ValueError(f"{path!r} is a folder without checkpoint.npz (give a run folder or a checkpoint file)")
        path = ck
    return load_checkpoint(path)[0]


def _num(x: Any) -> Any:
    x = float(x)
    return x if math.isfinite(x) else None


def analyze(experiment: Any, per_feature: int = 3) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring)."""
    if recurrent_model(experiment) is None:
        raise ValueError(f"the {experiment.id!r} experiment has no recurrent layer to analyse")
    m = copy_model(experiment, lanes_for(experiment))
    tr = run_trace(m)
    with np.errstate(all="ignore"):
        units = units_view(m, tr, per_feature=per_feature)
        grads = gradients_view(m, tr)
        names, cells, sig, rad, bounds, _ = spectrum_now(m.rnn)
        mem = memory_view(m)
    g = grads.layers[0][3] if grads.layers else np.zeros(0)
    return {
        "experiment": experiment.id, "step": int(experiment.step), "probe": m.lanes.source,
        "layers": names, "cells": cells,
        "units": [{"feature": f, "state": s, "layer": int(layer), "unit": int(u), "r": round(float(r), 4)}
                  for f, layer, s, u, r in units.rows],
        "sigma_max": [_num(v) for v in sig], "spectral_radius": [_num(v) for v in rad],
        "vanishing_bound": [None if b is None else float(b) for b in bounds],
        "grad_norm_by_lag": [_num(v) for v in g],
        "grad_norm_by_lag_per_layer": [[_num(v) for v in layer[3]] for layer in grads.layers],
        "grad_decay_20": _num(g[0] / g[20]) if len(g) > 20 and g[20] > 0 else None,
        "memory_horizon": mem.horizon,
    }


def write_text(rep: dict[str, Any], out: TextIO) -> None:
    """The report for a terminal."""
    out.write(f"{rep['experiment']} at step {rep['step']:,} — probe: {rep['probe']}\n\n")
    out.write("Unit finder (best units per feature, Pearson r over the probe)\n")
    out.write(f"  {'feature':18s} {'layer':>5s} {'state':>5s} {'unit':>5s} {'r':>7s}\n")
    best: dict[str, dict] = {}
    for row in rep["units"]:
        best.setdefault(row["feature"], row)
    for row in sorted(best.values(), key=lambda r: -abs(r["r"])):
        out.write(f"  {row['feature']:18s} {row['layer'] + 1:5d} {row['state']:>5s} {row['unit']:5d} {row['r']:+7.3f}\n")
    out.write("\nRecurrent weights (Pascanu et al. 2013)\n")
    for name, s, r, b in zip(rep["layers"], rep["sigma_max"], rep["spectral_radius"], rep["vanishing_bound"]):
        bound = f"  (gradients must vanish below {b:g})" if b is not None else ""
        out.write(f"  {name:18s} sigma_max {s:.3f}  spectral radius {r:.3f}{bound}\n")
    g = rep["grad_norm_by_lag"]
    if g:
        shown = ", ".join(f"{k}: {g[k - 1]:.3g}" for k in (1, 2, 5, 10, 20, 40) if k <= len(g))
        out.write(f"\nGradient flow ||dh_T/dh_(T-k)||, layer 1, by lag k: {shown}\n")
        if rep["grad_decay_20"] is not None:
            out.write(f"  decays {rep['grad_decay_20']:.3g}x from lag 1 to lag 21\n")
    h = rep["memory_horizon"]
    out.write(f"\nMemory horizon: {'beyond the probe' if h is None else f'{h} steps'} "
              f"(influence < 10% of the nearest input)\n")


def cmd_analyze(args: Any) -> int:
    """The ``analyze`` subcommand: print the report, or write it as JSON (``--json [FILE]``; '-' = stdout)."""
    import sys

    rep = analyze(load(args.path))
    if args.json is None:
        write_text(rep, sys.stdout)
    elif args.json == "-":
        sys.stdout.write(json.dumps(rep, indent=1) + "\n")
    else:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rep, f, indent=1)
        sys.stdout.write(f"wrote {args.json}\n")
    return 0
