"""events.jsonl beside metrics.csv for `rnnlab train`: checkpoints saved, divergence; in the checkpoint too;
continued by --resume."""
from __future__ import annotations

import json

import pytest

from core.checkpoint import load_replay
from core.cli import main
from core.replay import events_from_jsonl


@pytest.fixture(autouse=True)
def _no_tqdm_monitor(monkeypatch):
    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)


def test_train_writes_events_jsonl_beside_metrics_csv(tmp_path):
    out = tmp_path / "ba"
    assert main(["train", "binary-addition", "--steps", "30", "--checkpoint-every", "10", "--out", str(out),
                 "--no-progress"]) == 0
    lines = (out / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines][:2] == [
        {"step": 0, "kind": "saved", "text": "checkpoint at step 0"},
        {"step": 10, "kind": "saved", "text": "checkpoint at step 10"}]
    events = events_from_jsonl((out / "events.jsonl").read_text())
    assert [(e.step, e.kind) for e in events] == [(0, "saved"), (10, "saved"), (20, "saved"), (30, "saved")]
    saved, keyframes = load_replay(str(out / "checkpoint.npz"))  # in the checkpoint too (the window reads it)
    assert saved == events and keyframes.steps() == []

    assert main(["train", "--resume", str(out), "--steps", "40", "--no-progress"]) == 0
    events = events_from_jsonl((out / "events.jsonl").read_text())
    assert [(e.step, e.kind) for e in events] == [(0, "saved"), (10, "saved"), (20, "saved"), (30, "saved"),
                                                  (40, "saved")]


def test_a_diverged_run_records_where(tmp_path, capsys):
    out = tmp_path / "boom"
    code = main(["train", "iris", "--set", "learning_rate=10", "--set", "weight_decay=1", "--steps", "1000",
                 "--out", str(out), "--no-progress"])
    assert code == 3
    events = events_from_jsonl((out / "events.jsonl").read_text())
    diverged = [e for e in events if e.kind == "diverged"]
    assert len(diverged) == 1 and "at step" in diverged[0].text
    last_saved = [e for e in events if e.kind == "saved"][-1]
    assert diverged[0].step == last_saved.step + 1  # the step that blew up; what was trained is saved
