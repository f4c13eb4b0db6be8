"""Checkpoints: exact resume, atomic writes, clear errors, no change on failed loads."""
import json
import zipfile

import numpy as np
import pytest

import core.checkpoint as ckmod
from core.checkpoint import CheckpointError, load_checkpoint, load_into, read_checkpoint, save_checkpoint
from core.experiments.binary_addition import BinaryAddition
from core.experiments.iris import Iris
from core.experiments.worked_example import WorkedExample
from core.trainer import Trainer


def _losses(trainer, n):
    return [trainer.step().metrics["loss"] for _ in range(n)]


def _snapshot(exp):
    return exp.state_dict(), json.dumps(exp.rng.bit_generator.state), exp.step, dict(exp.config)


def _assert_unchanged(exp, snap):
    state, rng, step, config = snap
    now = exp.state_dict()
    assert now.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(now[k], state[k])
    assert json.dumps(exp.rng.bit_generator.state) == rng and exp.step == step and exp.config == config


@pytest.mark.parametrize("make", [
    lambda: Iris(Iris.preset_config("minibatch"), seed=5),  # mini-batches drawn from exp.rng
    lambda: BinaryAddition(seed=2),                          # the default experiment, Adam
    lambda: WorkedExample({"optimizer": "momentum"}),
], ids=["iris-minibatch", "binary-addition", "worked-example"])
def test_load_and_continue_gives_bit_identical_losses(tmp_path, make):
    exp = make()
    tr = Trainer(exp, eval_every=7)
    _losses(tr, 20)
    path = save_checkpoint(tmp_path / "ck.npz", exp, tr.history)
    expected = _losses(tr, 15)
    resumed, history = load_checkpoint(path)
    assert resumed.step == 20 and resumed.id == exp.id and resumed.config == make().config
    tr2 = Trainer(resumed, eval_every=7, history=history)
    assert _losses(tr2, 15) == expected
    for name in tr.history.names():
        for a, b in zip(tr.history.arrays(name), tr2.history.arrays(name)):
            np.testing.assert_array_equal(a, b)


def test_load_into_existing_experiment_applies_state_rng_step_and_live_values(tmp_path):
    exp = Iris({"batch_size": 16, "learning_rate": 0.05}, seed=1)
    Trainer(exp).run(10)
    path = save_checkpoint(tmp_path / "ck.npz", exp)
    expected = _losses(Trainer(exp), 5)
    other = Iris({"batch_size": 16, "learning_rate": 0.3}, seed=99)
    history = load_into(path, other)
    assert other.step == 10 and other.config["learning_rate"] == 0.05
    assert len(history) == 0
    assert _losses(Trainer(other), 5) == expected


def test_file_contents_and_format(tmp_path):
    exp = Iris(seed=4)
    tr = Trainer(exp)
    tr.run(12)
    path = save_checkpoint(tmp_path / "sub" / "ck.npz", exp, tr.history)
    with np.load(path, allow_pickle=False) as z:
        assert int(z["format_version"]) == ckmod.FORMAT_VERSION
        assert str(z["experiment"]) == "iris" and int(z["seed"]) == 4 and int(z["step"]) == 12
        assert json.loads(str(z["config_json"]))["learning_rate"] == exp.config["learning_rate"]
        assert json.loads(str(z["rng_state_json"]))["bit_generator"] == "PCG64"
        assert "state/param.W" in z.files and any(k.startswith("history/loss/") for k in z.files)
    assert [p.name for p in path.parent.iterdir()] == ["ck.npz"]  # no temp file left


def test_a_crash_mid_save_never_damages_the_previous_checkpoint(tmp_path, monkeypatch):
    exp = Iris(seed=0)
    path = save_checkpoint(tmp_path / "ck.npz", exp)
    before = path.read_bytes()
    Trainer(exp).run(5)

    def exploding_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(ckmod.np, "savez", exploding_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, exp)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    assert read_checkpoint(path).step == 0


def _saved(tmp_path, exp=None, name="ck.npz"):
    exp = exp or Iris(seed=0)
    Trainer(exp).run(3)
    return save_checkpoint(tmp_path / name, exp)


def _rewrite(path, out, drop=(), replace=None):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    arrays.update(replace or {})
    np.savez(out, **arrays)
    return out


def test_bad_files_raise_checkpoint_error_with_clear_messages(tmp_path):
    good = _saved(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    np.save(tmp_path / "single.npy", np.zeros(3))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    cases = {
        tmp_path / "missing.npz": "does not exist",
        tmp_path: "is not a file",
        tmp_path / "notes.txt": "not an .npz archive",
        tmp_path / "empty.npz": "empty",
        tmp_path / "single.npy": "not an .npz archive",
        tmp_path / "trunc.npz": "corrupt or truncated",
        tmp_path / "other.npz": "missing format, format_version, experiment",
        _rewrite(good, tmp_path / "noseed.npz", drop=("seed",)): "missing seed",
        _rewrite(good, tmp_path / "future.npz", replace={"format_version": np.array(99)}): "format version 99",
    }
    for path, message in cases.items():
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)
        assert issubclass(CheckpointError, ValueError)


def test_corrupt_member_inside_a_valid_zip_is_reported(tmp_path):
    good = _saved(tmp_path)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "state/param.W.npy":
                data = data[:20]
            zout.writestr(item, data)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(bad)


def test_failed_load_into_never_changes_the_experiment(tmp_path):
    good = _saved(tmp_path)
    target = Iris({"learning_rate": 0.2}, seed=7)
    Trainer(target).run(4)
    snap = _snapshot(target)
    wrong_exp = _saved(tmp_path, WorkedExample(), "worked.npz")
    misshaped = _rewrite(good, tmp_path / "shape.npz", replace={"state/param.W": np.zeros((5, 3))})
    missing = _rewrite(good, tmp_path / "missing.npz", drop=("state/param.b",))
    bad_optim = _rewrite(good, tmp_path / "optim.npz", replace={"state/optim.t": np.array(-1)})
    bad_rng = _rewrite(good, tmp_path / "rng.npz",
                       replace={"rng_state_json": np.array(json.dumps({"bit_generator": "MT19937"}))})
    cases = {
        wrong_exp: "is for experiment 'worked-example', not 'iris'",
        misshaped: r"param.W has shape \(5, 3\), the model expects \(4, 3\)",
        missing: "missing param.b",
        bad_optim: "does not fit the model",
        bad_rng: "RNG state is for 'MT19937'",
    }
    for path, message in cases.items():
        with pytest.raises(CheckpointError, match=message):
            load_into(path, target)
        _assert_unchanged(target, snap)


def test_checkpoint_of_unknown_experiment(tmp_path):
    good = _saved(tmp_path)
    bad = _rewrite(good, tmp_path / "x.npz", replace={"experiment": np.array("no-such-thing")})
    with pytest.raises(CheckpointError, match="unknown experiment 'no-such-thing'"):
        load_checkpoint(bad)


def test_a_checkpoint_from_before_the_parameter_rename_still_loads(tmp_path):
    """LSTM/GRU parameters were Wx/Wh/b; a checkpoint written then loads into today's Wxh/Whh/bh model."""
    from core.checkpoint import load_checkpoint, save_checkpoint
    from core.experiments.sine import Sine

    exp = Sine({"hidden_size": 6, "num_layers": 1, "batch_size": 4}, seed=0)
    for _ in range(3):
        exp.train_step()
    path = tmp_path / "new.npz"
    save_checkpoint(path, exp)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    rename = {"Wxh": "Wx", "Whh": "Wh", "bh": "b"}
    old = {}
    for k, v in arrays.items():
        head, sep, leaf = k.rpartition(".")
        old[(head + sep + rename.get(leaf, leaf)) if k.startswith("state/") and ".rnn." in k else k] = v
    assert any(k.endswith(".Wx") for k in old)  # really the old names
    old_path = tmp_path / "old.npz"
    np.savez(old_path, **old)
    loaded, _ = load_checkpoint(old_path)
    assert loaded.step == 3
    for k, v in exp.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
    assert loaded.train_step()["loss"] == exp.train_step()["loss"]  # optimizer state came back too
