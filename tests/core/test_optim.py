"""Optimizers: hand-computed steps, convergence, live settings, exact resume, clipping."""
import math

import numpy as np
import pytest

from core import optim
from core.optim import SGD, Adagrad, Adam, Momentum, RMSprop, make_optimizer

G1 = np.array([0.5, -0.25])
G2 = np.array([-1.0, 2.0])
P0 = np.array([1.0, -2.0])


def _two_steps(opt):
    p = P0.copy()
    params = {"w": p}
    opt.step(params, {"w": G1.copy()})
    first = p.copy()
    opt.step(params, {"w": G2.copy()})
    assert params["w"] is p  # updated in place, never rebound
    return first, p


def test_sgd_hand_step():
    first, second = _two_steps(SGD(lr=0.1))
    np.testing.assert_allclose(first, P0 - 0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(second, P0 - 0.1 * G1 - 0.1 * G2, rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_hand_step(nesterov):
    lr, mu = 0.1, 0.9
    first, second = _two_steps(Momentum(lr=lr, momentum=mu, nesterov=nesterov))
    v1 = G1
    v2 = mu * v1 + G2
    if nesterov:
        p1 = P0 - lr * (G1 + mu * v1)
        p2 = p1 - lr * (G2 + mu * v2)
    else:
        p1 = P0 - lr * v1
        p2 = p1 - lr * v2
    np.testing.assert_allclose(first, p1, rtol=1e-14)
    np.testing.assert_allclose(second, p2, rtol=1e-14)


def test_adagrad_is_min_char_rnn_bit_for_bit():
    lr = 0.1
    first, second = _two_steps(Adagrad(lr=lr))
    p, mem = P0.copy(), np.zeros(2)
    out = []
    for dparam in (G1, G2):  # min-char-rnn's loop
        mem += dparam * dparam
        p += -lr * dparam / np.sqrt(mem + 1e-8)
        out.append(p.copy())
    np.testing.assert_array_equal(first, out[0])
    np.testing.assert_array_equal(second, out[1])


def test_rmsprop_hand_step():
    lr, rho, eps = 0.01, 0.9, 1e-8
    first, second = _two_steps(RMSprop(lr=lr, rho=rho))
    v1 = (1 - rho) * G1 ** 2
    p1 = P0 - lr * G1 / (np.sqrt(v1) + eps)
    v2 = rho * v1 + (1 - rho) * G2 ** 2
    p2 = p1 - lr * G2 / (np.sqrt(v2) + eps)
    np.testing.assert_allclose(first, p1, rtol=1e-14)
    np.testing.assert_allclose(second, p2, rtol=1e-14)


def test_adam_hand_step():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(lr=lr)
    first, second = _two_steps(opt)
    m = v = 0.0
    p = P0.copy()
    for t, g in enumerate((G1, G2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
        if t == 1:
            np.testing.assert_allclose(first, p, rtol=1e-12)
            np.testing.assert_allclose(first, P0 - lr * np.sign(G1), rtol=1e-6)  # Adam's first step is ~lr*sign(g)
    np.testing.assert_allclose(second, p, rtol=1e-12)
    assert opt.t == 2


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05), ("adagrad", 0.5),
                                      ("rmsprop", 0.02), ("adam", 0.05)])
def test_each_optimizer_reduces_a_quadratic(name, lr):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, size=(3, 4))
    c = rng.standard_normal((3, 4))
    params = {"W": np.zeros((3, 4)), "b": np.ones(4)}
    f = lambda: 0.5 * np.sum(a * (params["W"] - c) ** 2) + 0.5 * np.sum(params["b"] ** 2)
    start = f()
    opt = make_optimizer(name, lr)
    for _ in range(300):
        opt.step(params, {"W": a * (params["W"] - c), "b": params["b"].copy()})
    assert f() < 0.01 * start, (name, start, f())


def test_float32_parameters_stay_float32():
    p = {"w": np.ones(3, np.float32)}
    for name in optim.NAMES:
        make_optimizer(name, 0.1).step(p, {"w": np.ones(3, np.float32)})
        assert p["w"].dtype == np.float32


def test_lr_changed_between_steps_takes_effect():
    p = {"w": np.zeros(2)}
    opt = SGD(lr=0.1)
    opt.step(p, {"w": np.ones(2)})
    opt.set(lr=0.01)
    opt.step(p, {"w": np.ones(2)})
    np.testing.assert_allclose(p["w"], -0.11)
    opt.lr = 1.0  # attribute assignment is validated too
    opt.step(p, {"w": np.ones(2)})
    np.testing.assert_allclose(p["w"], -1.11)
    adam = Adam(lr=0.1)
    q = {"w": np.zeros(2)}
    adam.step(q, {"w": np.ones(2)})
    adam.set(lr=0.0)
    before = q["w"].copy()
    adam.step(q, {"w": np.ones(2)})
    np.testing.assert_array_equal(q["w"], before)


def test_momentum_change_takes_effect():
    opt = Momentum(lr=1.0, momentum=0.9)
    p = {"w": np.zeros(1)}
    opt.step(p, {"w": np.ones(1)})  # v = 1
    opt.set(momentum=0.5)
    opt.step(p, {"w": np.ones(1)})  # v = 0.5 + 1
    np.testing.assert_allclose(p["w"], [-2.5])


@pytest.mark.parametrize("settings, words", [
    ({"lr": -0.1}, "lr must be >= 0, got -0.1"),
    ({"lr": float("nan")}, "lr must be a finite number, got nan"),
    ({"lr": "fast"}, "lr must be a number, got 'fast'"),
    ({"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
    ({"nesterov": 1}, "nesterov must be True or False, got 1"),
    ({"beta1": 0.9}, "Momentum has no setting 'beta1'; accepted: lr, momentum, nesterov"),
])
def test_set_validates_names_and_values_atomically(settings, words):
    opt = Momentum(lr=0.1)
    with pytest.raises(ValueError, match=words):
        opt.set(**{"nesterov": True, **settings})
    assert opt.nesterov is False and opt.lr == 0.1 and opt.momentum == 0.9  # nothing applied


def test_make_optimizer_names():
    assert isinstance(make_optimizer("nesterov", 0.1), Momentum) and make_optimizer("nesterov", 0.1).nesterov
    assert make_optimizer("momentum", 0.1, momentum=0.5).momentum == 0.5
    assert [type(make_optimizer(n, 0.1)).__name__ for n in ("sgd", "adagrad", "rmsprop", "adam")] == \
        ["SGD", "Adagrad", "RMSprop", "Adam"]
    with pytest.raises(ValueError, match="optimizer must be one of sgd, momentum, nesterov, adagrad, rmsprop, "
                                         "adam, got 'lbfgs'"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(ValueError, match="SGD has no setting 'momentum'"):
        make_optimizer("sgd", 0.1, momentum=0.9)


def _grads(rng):
    return {"Wxh": rng.standard_normal((3, 4)), "bh": rng.standard_normal(4)}


@pytest.mark.parametrize("name", optim.NAMES)
def test_state_dict_round_trip_gives_identical_updates(name):
    rng = np.random.default_rng(1)
    params = {"Wxh": rng.standard_normal((3, 4)).astype(np.float32), "bh": np.zeros(4, np.float32)}
    a = make_optimizer(name, 0.05)
    for _ in range(3):
        a.step(params, _grads(rng))
    state = a.state_dict()
    assert state["t"].shape == () and int(state["t"]) == 3 and float(state["lr"]) == 0.05
    if name == "adam":
        assert {"m.Wxh", "v.Wxh", "m.bh", "v.bh"} <= set(state)
    if name == "adagrad":
        assert state["mem.Wxh"].dtype == np.float32
    b = make_optimizer(name, 0.9)  # different lr: restored from the state
    b.load_state_dict(state, params)
    pa = {k: v.copy() for k, v in params.items()}
    pb = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        g = _grads(rng)
        a.step(pa, {k: v.copy() for k, v in g.items()})
        b.step(pb, {k: v.copy() for k, v in g.items()})
    for k in params:
        np.testing.assert_array_equal(pa[k], pb[k])
    # state_dict returns copies
    state["lr"][...] = 7.0
    assert a.lr == 0.05


def test_bad_state_dicts_raise_and_change_nothing():
    params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
    src = Adam(lr=0.1)
    src.step(params, {"W": np.ones((2, 3)), "b": np.ones(3)})
    good = src.state_dict()
    opt = Adam(lr=0.5)
    cases = [
        ({k: v for k, v in good.items() if k != "v.W"}, "missing v.W"),
        ({k: v for k, v in good.items() if k != "lr"}, "missing lr"),
        ({k: v for k, v in good.items() if k != "t"}, "missing t"),
        ({**good, "extra": np.zeros(1)}, "unexpected extra"),
        ({**good, "mem.W": np.zeros((2, 3))}, "unexpected mem.W"),
        ({**good, "v.W": np.zeros((3, 2))}, r"v.W has shape \(3, 2\), m.W has \(2, 3\)"),
        ({**good, "lr": np.array(-1.0)}, "lr must be >= 0"),
        ({**good, "t": np.array(1.5)}, "t must be a non-negative integer"),
        ({**good, "m.W": np.zeros((2, 3), int)}, "m.W must be a floating array"),
    ]
    for bad, words in cases:
        with pytest.raises(ValueError, match=words):
            opt.load_state_dict(bad)
    with pytest.raises(ValueError, match=r"state for 'W' has shape \(2, 3\), the parameter has \(4,\)"):
        opt.load_state_dict(good, {"W": np.zeros(4), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="state for 'b', which is not a parameter"):
        opt.load_state_dict(good, {"W": np.zeros((2, 3))})
    assert opt.lr == 0.5 and opt.t == 0 and opt.state_dict().keys() == {"t", "lr", "beta1", "beta2", "eps"}
    with pytest.raises(ValueError, match="unexpected beta1, beta2, eps, m.W, m.b, v.W, v.b"):
        SGD(lr=0.1).load_state_dict(good)


def test_step_checks_keys_and_shapes():
    opt = Adam(lr=0.1)
    with pytest.raises(ValueError, match=r"grads must have the keys of params: missing \['b'\]"):
        opt.step({"W": np.zeros(2), "b": np.zeros(2)}, {"W": np.zeros(2)})
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3,\), params\['W'\] has \(2,\)"):
        opt.step({"W": np.zeros(2)}, {"W": np.zeros(3)})
    params = {"W": np.zeros(2), "b": np.zeros(3)}
    opt.step(params, {"W": np.ones(2), "b": np.ones(3)})
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match="reset the optimizer"):
        opt.step({"b": params["b"], "W": np.zeros(5)}, {"b": np.ones(3), "W": np.ones(5)})
    np.testing.assert_array_equal(params["b"], before["b"])  # nothing half-applied
    assert opt.t == 1


def test_clip_by_value_in_place():
    g = {"a": np.array([-10.0, 3.0, 7.0]), "b": np.array([[5.5, -4.0]])}
    a = g["a"]
    assert optim.clip_by_value(g, 5) is None
    assert g["a"] is a
    np.testing.assert_array_equal(g["a"], [-5.0, 3.0, 5.0])
    np.testing.assert_array_equal(g["b"], [[5.0, -4.0]])
    with pytest.raises(ValueError, match="limit must be > 0, got 0"):
        optim.clip_by_value(g, 0)


def test_clip_by_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # norm 5
    a = g["a"]
    assert optim.clip_by_global_norm(g, 10.0) == 5.0
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])  # under the limit: untouched
    assert optim.clip_by_global_norm(g, 1.0) == 5.0
    assert g["a"] is a
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    np.testing.assert_allclose(g["b"], [[0.0, 0.8]])
    assert math.isclose(math.sqrt(sum(float(np.sum(v ** 2)) for v in g.values())), 1.0)
    bad = {"a": np.array([np.nan, 1.0])}
    assert math.isnan(optim.clip_by_global_norm(bad, 1.0))
    assert bad["a"][1] == 1.0  # left alone for the caller to report
    with pytest.raises(ValueError, match="max_norm must be a finite number, got inf"):
        optim.clip_by_global_norm(g, float("inf"))
