"""Live panels, one file each. ``panel_class(name)`` maps an experiment's panel names to classes."""
from __future__ import annotations

import importlib

PANELS = {
    "loss": ("visualizer.panels.loss", "LossPanel"),
    "hidden": ("visualizer.panels.hidden", "HiddenStatePanel"),
    "inspector": ("visualizer.panels.inspector", "InspectorPanel"),
    "binary": ("visualizer.panels.binary", "BinaryPanel"),
    "sine": ("visualizer.panels.sine", "SinePanel"),
    "text": ("visualizer.panels.text", "TextPanel"),
    "digits": ("visualizer.panels.digits", "DigitsPanel"),
    "worked": ("visualizer.panels.worked", "WorkedPanel"),
}


def panel_class(name: str) -> type:
    module, cls = PANELS[name]
    return getattr(importlib.import_module(module), cls)
