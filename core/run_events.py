"""The events of a run trained by ``rnnlab train`` (core.cli): what it knows happened — checkpoints saved,
a divergence — as core.replay.RunEvent, written as ``events.jsonl`` beside ``metrics.csv`` (one JSON object
a line: ``{"step": 500, "kind": "saved", "text": "checkpoint at step 500"}``, the format of
core.replay.events_to_jsonl) and saved in the checkpoint (so the window's Events list shows them after
File ▸ Open run folder). A resumed run continues the events of its checkpoint.

``CliEvents`` is what core.checkpoint.save_checkpoint takes as ``replay``: it has ``events`` and
``keyframes`` (empty: the CLI's training loop records none).
"""
from __future__ import annotations

import os
from pathlib import Path

from core.replay import KeyframeStore, RunEvent, events_to_jsonl

EVENTS_FILE = "events.jsonl"


class CliEvents:
    def __init__(self, folder: str | os.PathLike, events: list[RunEvent] | None = None):
        self.folder = Path(folder)
        self.events: list[RunEvent] = list(events or [])
        self.keyframes = KeyframeStore()

    @classmethod
    def open(cls, folder: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
             step: int | None = None) -> "CliEvents":
        """The events of the run in ``folder``: those saved in ``checkpoint`` (when it exists) up to ``step``."""
        events: list[RunEvent] = []
        if checkpoint is not None and Path(checkpoint).is_file():
            from core.checkpoint import load_replay

            events = load_replay(str(checkpoint))[0]
            if step is not None:
                events = [e for e in events if e.step <= step]
        return cls(folder, events)

    def add(self, kind: str, text: str, step: int) -> "CliEvents":
        self.events.append(RunEvent(int(step), kind, " ".join(str(text).split())))
        return self

    def saved(self, step: int) -> "CliEvents":
        """Log a checkpoint at ``step`` and write events.jsonl; returns self (pass it to save_checkpoint)."""
        self.add("saved", f"checkpoint at step {step:,}", step)
        self.write()
        return self

    def write(self) -> Path:
        """Write ``events.jsonl`` in the run folder (atomically: a reader never sees half a file)."""
        path = self.folder / EVENTS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(events_to_jsonl(self.events), encoding="utf-8")
        os.replace(tmp, path)
        return path
