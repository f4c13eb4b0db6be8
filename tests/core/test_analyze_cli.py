"""``rnnlab analyze``: the report's JSON keys, and the carry unit after a short binary-addition run."""
from __future__ import annotations

import json

from core.cli import main


def test_analyze_json_names_a_carry_unit(tmp_path, capsys):
    out = tmp_path / "ba"
    assert main(["train", "binary-addition", "--steps", "500", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"units", "spectral_radius", "sigma_max", "grad_norm_by_lag", "memory_horizon"} <= set(rep)
    assert set(rep["units"][0]) == {"feature", "state", "layer", "unit", "r"}
    carry = [u for u in rep["units"] if u["feature"].startswith("carry")]
    assert max(abs(u["r"]) for u in carry) >= 0.9
    assert len(rep["sigma_max"]) == len(rep["spectral_radius"]) == 1
    assert len(rep["grad_norm_by_lag"]) == 8  # 8 bits: lags 1..8
    # text output and a JSON file from the checkpoint itself
    assert main(["analyze", str(out / "checkpoint.npz")]) == 0
    text = capsys.readouterr().out
    assert "carry_out" in text and "Memory horizon" in text
    assert main(["analyze", str(out), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["units"]


def test_analyze_refuses_models_without_recurrence(tmp_path, capsys):
    out = tmp_path / "iris"
    assert main(["train", "iris", "--steps", "5", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out)]) == 1
    assert "no recurrent layer" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path)]) == 1  # a folder without a checkpoint
