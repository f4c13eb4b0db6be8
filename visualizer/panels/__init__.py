"""Live panels, one file each; a panel draws the view types it lists in ``draws``.

An experiment declares the kinds of view it shows (``Experiment.view_types``, see
core.views); the window opens, in that order, the panel registered for each kind
(one panel per class). To add a panel for a new view type: write its module here
(a ``Panel`` subclass with ``key``, ``title`` and ``draws``) and add the module's
name to ``MODULES``.
"""
from __future__ import annotations

import importlib
from typing import Iterable

from core.views import View

MODULES = ("loss", "hidden", "inspector", "binary", "sine", "text", "digits", "worked", "analysis")


def panel_classes() -> list[type]:
    """Every registered panel class (imports the panel modules)."""
    from visualizer.panels.base import Panel

    out = []
    for name in MODULES:
        module = importlib.import_module(f"visualizer.panels.{name}")
        out += [c for c in vars(module).values()
                if isinstance(c, type) and issubclass(c, Panel) and c.__module__ == module.__name__ and c.draws]
    return out


def panel_for(view_type: type[View]) -> type | None:
    """The panel class that draws ``view_type`` (None: no panel does)."""
    return next((c for c in panel_classes() if view_type in c.draws), None)


def panels_for(view_types: Iterable[type[View]]) -> list[type]:
    """The panel classes that draw ``view_types``, each once, in the order of their first type."""
    out: list[type] = []
    for vt in view_types:
        c = panel_for(vt)
        if c is not None and c not in out:
            out.append(c)
    return out
