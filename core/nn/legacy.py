"""Reading state written by older versions of ``core.nn``.

Parameter names: until the LSTM and GRU took the RNN's maths names, they called their
parameters ``Wx``, ``Wh``, ``b`` (GRU also ``bhn``, unchanged); now every recurrent layer
has ``Wxh``, ``Whh``, ``bh``. :func:`upgrade_param_names` renames the keys of an old
state dict so it loads into a current model.
"""
from __future__ import annotations

from typing import Any, Mapping

#: old leaf name -> new leaf name, for the parameters of one LSTM/GRU layer
RENAMES = {"Wx": "Wxh", "Wh": "Whh", "b": "bh"}


def _split(key: str) -> tuple[str, str]:
    """key -> (head, parameter name): "param.rnn.0.Wx" -> ("param.", "rnn.0.Wx"),
    "optim.m.rnn.Wx" -> ("optim.m.", "rnn.Wx") (optimizer slots are one dotted word),
    anything else -> ("", key)."""
    if key.startswith("param."):
        return "param.", key[len("param."):]
    if key.startswith("optim."):
        slot, dot, name = key[len("optim."):].partition(".")
        if dot and name:
            return f"optim.{slot}.", name
    return "", key


def _prefix_leaf(name: str) -> tuple[str, str]:
    """"rnn.0.Wx" -> ("rnn.0.", "Wx"); "Wx" -> ("", "Wx")."""
    prefix, dot, leaf = name.rpartition(".")
    return (prefix + dot, leaf)


def upgrade_param_names(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``state`` with old LSTM/GRU parameter names renamed (values are the same objects).

    Works on a checkpoint's flat state (``param.<name>``, ``optim.<slot>.<name>``, e.g.
    ``param.rnn.0.Wx`` -> ``param.rnn.0.Wxh``, ``optim.m.rnn.Wh`` -> ``optim.m.rnn.Whh``,
    other keys unchanged) and on a bare parameter dict (``{"Wx", "Wh", "b"}``, ``"fwd.Wx"``, ...).

    A layer is recognised by having both ``<prefix>Wx`` and ``<prefix>Wh``; only its
    ``Wx``, ``Wh`` and ``b`` are renamed, so a Dense layer's ``b`` (``param.out.b``) stays.
    The names found among the ``param.`` keys decide (or, with no ``param.`` key, among all
    keys). New-style state passes through unchanged, so calling it on any state is safe.
    Raises ValueError if a renamed key would collide with a key already present.
    """
    keys = list(state)
    has_params = any(k.startswith("param.") for k in keys)
    names = {_split(k)[1] for k in keys if (k.startswith("param.") if has_params else True)}
    layers = {p for p, leaf in map(_prefix_leaf, names) if leaf == "Wx" and f"{p}Wh" in names}
    if not layers:
        return dict(state)
    out: dict[str, Any] = {}
    renamed = {}
    for k in keys:
        head, name = _split(k)
        prefix, leaf = _prefix_leaf(name)
        new = f"{head}{prefix}{RENAMES[leaf]}" if prefix in layers and leaf in RENAMES else k
        if new != k:
            renamed[k] = new
        out[new] = state[k]
    if len(out) != len(keys):
        clash = sorted(new for k, new in renamed.items() if new in state)
        raise ValueError(f"cannot upgrade parameter names: {clash} are present in both the old and the new form")
    return out
