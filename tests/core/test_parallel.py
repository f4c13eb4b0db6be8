"""BatchParallel (core.nn.parallel): the same results as the wrapped layer, computed on batch chunks in threads."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from core.gradcheck import numerical_grad, rel_error
from core.nn.lstm import LSTM
from core.nn.parallel import BatchParallel
from core.nn.recurrent import make_recurrent
from state_helpers import flat, like, rand_state

TOL = 1e-10


def pool_threads():
    return [t for t in threading.enumerate() if t.name.startswith("rnnlab-batch")]


@pytest.fixture(autouse=True)
def no_thread_left():
    """Every test closes (or drops) its wrappers: no pool thread may outlive it."""
    yield
    gc.collect()
    for t in pool_threads():
        t.join(timeout=2.0)
    assert not pool_threads()


def assert_close(a, b, what):
    assert (a is None) == (b is None), what
    if a is not None:
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=what)


MODELS = [
    # (cell, activation, num_layers, bidirectional)
    ("rnn", "tanh", 1, False),
    ("rnn", "sigmoid", 1, False),
    ("lstm", "tanh", 1, False),
    ("gru", "tanh", 1, False),
    ("lstm", "tanh", 2, False),
    ("gru", "tanh", 2, False),
    ("lstm", "tanh", 1, True),
]


@pytest.mark.parametrize("B", [9, 7, 5, 3, 1])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("cell, act, layers, bi", MODELS)
def test_same_results_as_the_wrapped_layer(cell, act, layers, bi, with_h0, B):
    rng = np.random.default_rng(B + 10 * layers)
    T, D, H = 4, 3, 5
    model = make_recurrent(cell, D, H, layers, rng=rng, activation=act, bidirectional=bi, dtype=np.float64)
    with BatchParallel(model, workers=2) as par:
        assert par.params is model.params
        x = rng.standard_normal((T, B, D))
        h0 = rand_state(model, B, rng) if with_h0 else None
        y, h, cache = model.forward(x, h0)
        py, ph, pcache = par.forward(x, h0)
        assert py.shape == y.shape
        assert_close(py, y, "y")
        for a, b in zip(flat(ph), flat(h), strict=True):
            assert_close(a, b, "h_last")

        dy = rng.standard_normal(y.shape)
        dh_last = like(h, iter([rng.standard_normal(a.shape) for a in flat(h)]))
        dx, dh0, grads, norms = model.backward(dy, cache, dh_last)
        pdx, pdh0, pgrads, pnorms = par.backward(dy, pcache, dh_last)
        assert_close(pdx, dx, "dx")
        for a, b in zip(flat(pdh0), flat(dh0), strict=True):
            assert_close(a, b, "dh0")
        assert list(pgrads) == list(grads)
        for k in grads:
            assert_close(pgrads[k], grads[k], f"grad {k}")
        assert pnorms.shape == norms.shape
        assert_close(pnorms, norms, "dh_norms")

        tr, ptr = model.trace(cache), par.trace(pcache)
        assert len(ptr) == len(tr)
        for d, pd in zip(tr, ptr):
            assert set(pd) == set(d)
            for k in d:
                assert_close(pd[k], d[k], f"trace {k}")


@pytest.mark.parametrize("workers", [1, 3])
def test_lstm_ids_no_dy_and_other_worker_counts(workers):
    rng = np.random.default_rng(3)
    T, B, V, H = 5, 8, 6, 4
    model = LSTM(V, H, rng, dtype=np.float64)
    ids = rng.integers(0, V, size=(T, B))
    with BatchParallel(model, workers) as par:
        y, h, cache = model.forward(ids)
        py, ph, pcache = par.forward(ids)
        assert_close(py, y, "y")
        # loss on the last state only: dy=None, dh_last with a None cell gradient
        dh_last = (rng.standard_normal((B, H)), None)
        _, dh0, grads, norms = model.backward(None, cache, dh_last)
        pdx, pdh0, pgrads, pnorms = par.backward(None, pcache, dh_last)
        assert pdx is None
        for k in grads:
            assert_close(pgrads[k], grads[k], f"grad {k}")
        assert_close(pnorms, norms, "dh_norms")
        for a, b in zip(flat(pdh0), flat(dh0), strict=True):
            assert_close(a, b, "dh0")


def test_need_dx_false_and_stacked_dh_last_with_none_entries():
    rng = np.random.default_rng(4)
    T, B, D, H = 3, 6, 2, 3
    model = make_recurrent("lstm", D, H, 2, rng=rng, dtype=np.float64)
    with BatchParallel(model) as par:
        x = rng.standard_normal((T, B, D))
        y, h, cache = model.forward(x)
        _, _, pcache = par.forward(x)
        dh_last = [None, (rng.standard_normal((B, H)), None)]
        dx, _, grads, _ = model.backward(None, cache, dh_last, need_dx=False)
        pdx, _, pgrads, _ = par.backward(None, pcache, dh_last, need_dx=False)
        assert dx is None and pdx is None
        for k in grads:
            assert_close(pgrads[k], grads[k], f"grad {k}")


def test_gradients_through_the_wrapper_match_central_differences():
    rng = np.random.default_rng(5)
    T, B, D, H = 3, 5, 2, 3
    model = make_recurrent("lstm", D, H, 2, rng=rng, dtype=np.float64, workers=2)
    assert isinstance(model, BatchParallel)
    x = rng.standard_normal((T, B, D))
    h0 = rand_state(model, B, rng)
    y, h_last, cache = model.forward(x, h0)
    R = rng.standard_normal(y.shape)
    R2 = [rng.standard_normal(a.shape) for a in flat(h_last)]

    def loss():
        y_, h_, _ = model.forward(x, h0)
        return float(np.sum(y_ * R)) + sum(float(np.sum(a * r)) for a, r in zip(flat(h_), R2))

    dx, dh0, grads, _ = model.backward(R, cache, like(h_last, iter(R2)))
    num = lambda a: (4.0 * numerical_grad(loss, a, 1e-3) - numerical_grad(loss, a, 2e-3)) / 3.0  # noqa: E731
    errors = {k: rel_error(grads[k], num(model.params[k])) for k in model.params}
    errors["x"] = rel_error(dx, num(x))
    for k, (a, da) in enumerate(zip(flat(h0), flat(dh0))):
        errors[f"h0[{k}]"] = rel_error(da, num(a))
    worst = max(errors, key=errors.get)
    assert errors[worst] <= 1e-6, (worst, errors)
    model.close()


def test_chunks_really_run_in_a_second_thread_and_close_ends_it():
    rng = np.random.default_rng(6)
    seen = set()

    class Spy:
        """A layer that records which thread runs each chunk."""
        params = {}
        cell, activation, dtype, input_size, hidden_size, output_size, num_layers = "rnn", "tanh", np.float64, 1, 1, 1, 1

        def forward(self, x, h0=None, rng=None, train=True):
            seen.add(threading.current_thread().name)
            return x.copy(), x[-1].copy(), {"x": x}

        def backward(self, dy, cache, dh_last=None, need_dx=True):
            return dy, cache["x"][0], {}, np.zeros((1, dy.shape[0]))

        def trace(self, cache):
            return [{"h": cache["x"]}]

    par = BatchParallel(Spy(), workers=2)
    x = rng.standard_normal((3, 4, 1))
    y, h, cache = par.forward(x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(h, x[-1])
    assert threading.current_thread().name in seen and any(n.startswith("rnnlab-batch") for n in seen)
    assert pool_threads()
    par.close()
    assert not pool_threads()
    par.forward(x)  # usable again after close (a new pool)
    par.close()


def test_dropping_the_wrapper_ends_its_threads():
    rng = np.random.default_rng(7)
    par = BatchParallel(LSTM(2, 3, rng), workers=2)
    par.forward(rng.standard_normal((2, 4, 2)).astype(np.float32))
    assert pool_threads()
    del par  # the fixture checks, after gc, that the pool thread has gone


def test_small_batches_and_one_worker_use_no_threads():
    rng = np.random.default_rng(8)
    model = LSTM(2, 3, rng)
    for workers, B in ((2, 3), (1, 8), (4, 7)):
        par = BatchParallel(model, workers)
        par.forward(rng.standard_normal((2, B, 2)).astype(np.float32))
        assert not pool_threads()


def test_dropout_between_layers_is_reproducible_from_the_rng():
    rng = np.random.default_rng(9)
    model = make_recurrent("gru", 2, 4, 2, rng=rng, dropout=0.5, dtype=np.float64)
    x = rng.standard_normal((3, 6, 2))
    with BatchParallel(model) as par:
        y1, _, _ = par.forward(x, rng=np.random.default_rng(1))
        y2, _, _ = par.forward(x, rng=np.random.default_rng(1))
        y_eval, _, _ = par.forward(x, rng=np.random.default_rng(1), train=False)
        y_ref, _, _ = model.forward(x, train=False)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(y_eval, y_ref, rtol=TOL, atol=TOL)
    assert not np.allclose(y1, y_eval)


def test_make_recurrent_workers_and_errors():
    rng = np.random.default_rng(10)
    plain = make_recurrent("gru", 2, 3, rng=rng)
    assert not isinstance(plain, BatchParallel)
    par = make_recurrent("gru", 2, 3, rng=rng, workers=2)
    assert isinstance(par, BatchParallel) and par.workers == 2
    assert (par.input_size, par.hidden_size, par.output_size, par.cell) == (2, 3, 3, "gru")
    assert set(par.state_dict()) == set(par.params)
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        make_recurrent("gru", 2, 3, rng=rng, workers=0)
    with pytest.raises(ValueError, match="workers"):
        BatchParallel(plain, workers=-1)
    with pytest.raises(ValueError, match="layer must be a recurrent layer"):
        BatchParallel(object())
    x = rng.standard_normal((2, 6, 2)).astype(np.float32)
    with par:
        _, _, cache = par.forward(x)
        with pytest.raises(ValueError, match=r"dy must be an array \(T, 6, 3\)"):
            par.backward(np.zeros((2, 5, 3), np.float32), cache)
        with pytest.raises(ValueError, match="x must"):
            par.forward(rng.standard_normal((2, 6, 5)).astype(np.float32))


# -- char-lm's opt-in `threads` hyperparameter ------------------------------------------------------------

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 60


def char_lm(tmp_path, **over):
    from core.experiments.char_lm import CharLM
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    cfg = {"corpus": str(p), "cell": "lstm", "hidden_size": 24, "embedding_size": 8, "seq_len": 12,
           "batch_size": 7, "learning_rate": 0.01, "val_tokens": 200, "sample_length": 5}
    cfg.update(over)
    return CharLM(cfg, seed=3)


@pytest.mark.parametrize("over", [
    {},  # LSTM on an embedding, mean loss, Adam, global-norm clip
    {"cell": "gru", "num_layers": 2, "embedding_size": 0, "loss_reduction": "sum", "optimizer": "adagrad",
     "clip_mode": "value"},  # one-hot input, min-char-rnn's summed loss
])
def test_char_lm_threads_2_trains_like_threads_1(tmp_path, over):
    one, two = char_lm(tmp_path, **over), char_lm(tmp_path, threads=2, **over)
    assert one.config["threads"] == 1 and two.config["threads"] == 2
    for _ in range(25):
        m1, m2 = one.train_step(), two.train_step()
        for k in m1:
            assert m2[k] == pytest.approx(m1[k], rel=1e-5, abs=1e-6), k
    for k in one.params:
        np.testing.assert_allclose(two.params[k], one.params[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for a, b in zip(flat(one._state), flat(two._state), strict=True):  # the carried state, joined
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    del two  # the fixture checks that the runner's thread ends with the experiment


def test_char_lm_threads_with_dropout_is_reproducible(tmp_path):
    a, b = char_lm(tmp_path, threads=2, dropout=0.3), char_lm(tmp_path, threads=2, dropout=0.3)
    for _ in range(3):
        assert a.train_step() == b.train_step()
    a._runner.close(), b._runner.close()


def test_char_lm_threads_is_a_validated_structural_hyperparameter(tmp_path):
    from core.config import ConfigError
    from core.experiments.char_lm import CharLM
    p = CharLM.param("threads")
    assert p.default == 1 and not p.live and p.help
    with pytest.raises(ConfigError, match="threads"):
        char_lm(tmp_path, threads=0)


def test_chunk_runner_map_order_errors_and_copies():
    import copy

    from core.nn.parallel import ChunkRunner
    with ChunkRunner(3) as runner:
        assert runner.slices(7) == [slice(0, 2), slice(2, 4), slice(4, 7)]
        assert runner.slices(5) == [slice(0, 5)]  # < 2 * workers: one chunk
        assert runner.map(lambda k, s: (k, s.start, s.stop), 9) == [(0, 0, 3), (1, 3, 6), (2, 6, 9)]

        def boom(k, s):
            if k == 2:
                raise ValueError("chunk 2 failed")
            return k

        with pytest.raises(ValueError, match="chunk 2 failed"):
            runner.map(boom, 9)
        twin = copy.deepcopy(runner)  # no pool, no lock copied
        assert twin.workers == 3 and twin.map(lambda k, s: k, 6) == [0, 1, 2]
        twin.close()
    rng = np.random.default_rng(11)
    par = make_recurrent("rnn", 2, 3, rng=rng, dtype=np.float64, workers=2)
    x = rng.standard_normal((2, 6, 2))
    par.forward(x)
    twin = copy.deepcopy(par)
    assert twin.params is not par.params
    np.testing.assert_array_equal(twin.forward(x)[0], par.forward(x)[0])
    par.close(), twin.close()
