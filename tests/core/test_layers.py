"""Dense, Embedding, Dropout, MLP and the activations: gradients and bad input."""
import numpy as np
import pytest

from core.gradcheck import check_grads, numerical_grad, rel_error
from core.nn import dense as D
from core.nn.dense import Dense
from core.nn.dropout import Dropout
from core.nn.embedding import Embedding
from core.nn.mlp import MLP

TOL = 1e-6


def _worst(errs):
    return max(errs.values())


# -- activations -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "softmax", "linear"])
def test_activation_gradients(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    if name == "relu":  # keep away from the kink
        x = np.where(np.abs(x) < 0.05, 0.3, x)
    R = rng.standard_normal((3, 5))
    fwd = D.ACTIVATIONS[name][0]
    y = fwd(x)
    dx = D.activation_backward(name, R, x, y)
    err = rel_error(dx, numerical_grad(lambda: float(np.sum(fwd(x) * R)), x))
    assert err <= TOL, err


def test_sigmoid_is_stable_and_accurate_at_extremes():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = D.sigmoid(x)
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert np.isclose(y[1], np.exp(-40.0), rtol=1e-12)  # tiny values are not rounded to 0
    assert D.sigmoid(np.zeros(3, np.float32)).dtype == np.float32


def test_softmax_is_stable_and_normalised():
    x = np.array([[1000.0, 1000.0, 0.0], [-5.0, 0.0, 5.0]])
    p = D.softmax(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0], atol=1e-12)


def test_unknown_activation_names_the_value():
    with pytest.raises(ValueError, match="activation.*'swish'"):
        D.activation("swish")


# -- Dense ---------------------------------------------------------------------------

@pytest.mark.parametrize("lead", [(4,), (3, 2)])
def test_dense_gradients(lead):
    rng = np.random.default_rng(2)
    layer = Dense(5, 3, rng, dtype=np.float64)
    x = rng.standard_normal(lead + (5,))
    R = rng.standard_normal(lead + (3,))
    f = lambda: float(np.sum(layer.forward(x)[0] * R))
    y, cache = layer.forward(x)
    assert y.shape == lead + (3,)
    dx, grads = layer.backward(R, cache)
    assert set(grads) == set(layer.params) == {"W", "b"}
    assert layer.params["W"].shape == (5, 3) and layer.params["b"].shape == (3,)
    assert _worst(check_grads(f, layer.params, grads)) <= TOL
    assert rel_error(dx, numerical_grad(f, x)) <= TOL


def test_dense_float32_default_and_inits():
    rng = np.random.default_rng(0)
    layer = Dense(100, 50, rng)
    assert layer.params["W"].dtype == np.float32 and layer.params["b"].dtype == np.float32
    assert np.abs(layer.params["W"]).max() <= 1 / np.sqrt(100)
    seed = Dense(100, 50, np.random.default_rng(0), init="seed")
    assert 0.9 < seed.params["W"].std() < 1.1  # N(0, 1) like the seed
    assert np.all(Dense(3, 2, rng, init="xavier").params["b"] == 0)
    y, cache = layer.forward(np.ones((2, 100), np.float32))
    dx, grads = layer.backward(np.ones((2, 50), np.float32), cache)
    assert y.dtype == dx.dtype == grads["W"].dtype == grads["b"].dtype == np.float32
    a = Dense(4, 4, np.random.default_rng(7)).params["W"]
    b = Dense(4, 4, np.random.default_rng(7)).params["W"]
    np.testing.assert_array_equal(a, b)


def test_dense_state_dict_round_trip_in_place():
    rng = np.random.default_rng(0)
    a, b = Dense(3, 2, rng), Dense(3, 2, rng)
    W = b.params["W"]
    b.load_state_dict(a.state_dict())
    assert b.params["W"] is W  # live array kept
    np.testing.assert_array_equal(W, a.params["W"])
    with pytest.raises(ValueError, match="missing b"):
        b.load_state_dict({"W": a.params["W"]})
    with pytest.raises(ValueError, match=r"W has shape \(2, 3\)"):
        b.load_state_dict({"W": np.zeros((2, 3)), "b": np.zeros(2)})


@pytest.mark.parametrize("x, words", [
    (np.zeros((2, 4)), r"x must have shape \(\.\.\., 3\)"),
    (np.zeros((2, 3), dtype=np.int64), "x must be a floating-point array"),
    (np.array([[1.0, np.nan, 0.0]]), "x contains NaN"),
    (np.array([[1.0, np.inf, 0.0]]), "x contains NaN"),
    ([[1.0, 2.0, 3.0]], "x must be a NumPy array"),
])
def test_dense_bad_input(x, words):
    layer = Dense(3, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=words):
        layer.forward(x)


def test_dense_bad_dy_and_constructor_arguments():
    layer = Dense(3, 2, np.random.default_rng(0))
    _, cache = layer.forward(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="dy must have shape"):
        layer.backward(np.zeros((4, 3), np.float32), cache)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        Dense(0, 2, rng)
    with pytest.raises(ValueError, match="out_features must be a positive integer, got -1"):
        Dense(2, -1, rng)
    with pytest.raises(ValueError, match="in_features.*2.5"):
        Dense(2.5, 2, rng)
    with pytest.raises(ValueError, match="dtype must be np.float32 or np.float64, got int32"):
        Dense(2, 2, rng, dtype=np.int32)
    with pytest.raises(ValueError, match="init must be one of"):
        Dense(2, 2, rng, init="orthogonal")
    with pytest.raises(ValueError, match="rng must be a np.random.Generator"):
        Dense(2, 2, 42)


# -- Embedding -------------------------------------------------------------------------

def test_embedding_gradients_with_repeated_ids():
    rng = np.random.default_rng(3)
    emb = Embedding(6, 4, rng, dtype=np.float64)
    ids = np.array([[0, 2, 2], [5, 0, 2]])  # (T, B) with repeats
    R = rng.standard_normal((2, 3, 4))
    y, cache = emb.forward(ids)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(y[0, 1], emb.params["E"][2])
    dx, grads = emb.backward(R, cache)
    assert dx is None and set(grads) == {"E"}
    assert _worst(check_grads(lambda: float(np.sum(emb.forward(ids)[0] * R)), emb.params, grads)) <= TOL


def test_embedding_backward_matches_add_at():
    rng = np.random.default_rng(4)
    emb = Embedding(50, 8, rng)
    ids = rng.integers(0, 50, size=(30, 16))
    dy = rng.standard_normal((30, 16, 8)).astype(np.float32)
    _, grads = emb.backward(dy, emb.forward(ids)[1])
    ref = np.zeros((50, 8))
    np.add.at(ref, ids.ravel(), dy.reshape(-1, 8).astype(np.float64))
    assert grads["E"].dtype == np.float32
    np.testing.assert_allclose(grads["E"], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ids, words", [
    (np.array([0, 6]), r"ids values must be in \[0, 6\)"),
    (np.array([-1, 2]), r"ids values must be in \[0, 6\)"),
    (np.array([0.0, 1.0]), "ids must be an integer array"),
])
def test_embedding_bad_ids(ids, words):
    emb = Embedding(6, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=words):
        emb.forward(ids)


def test_embedding_bad_sizes_and_dy():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="num must be a positive integer, got 0"):
        Embedding(0, 3, rng)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        Embedding(3, -2, rng)
    emb = Embedding(6, 4, rng)
    _, cache = emb.forward(np.array([1, 2]))
    with pytest.raises(ValueError, match="dy must have shape"):
        emb.backward(np.zeros((2, 5), np.float32), cache)


# -- Dropout -------------------------------------------------------------------------------

def test_dropout_gradient_with_fixed_mask():
    rng = np.random.default_rng(5)
    drop = Dropout(0.4)
    x = rng.standard_normal((6, 7))
    R = rng.standard_normal((6, 7))
    f = lambda: float(np.sum(drop.forward(x, np.random.default_rng(11))[0] * R))  # same mask every call
    y, mask = drop.forward(x, np.random.default_rng(11))
    dx, grads = drop.backward(R, mask)
    assert grads == {}
    assert rel_error(dx, numerical_grad(f, x)) <= TOL


def test_dropout_is_inverted_and_off_at_eval():
    drop = Dropout(0.25)
    x = np.ones((200, 500), np.float32)
    y, mask = drop.forward(x, np.random.default_rng(0))
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1.0) < 0.02  # expectation preserved
    y_eval, cache = drop.forward(x, None, train=False)
    assert y_eval is x and cache is None
    assert drop.backward(x, cache)[0] is x
    a = drop.forward(x, np.random.default_rng(3))[0]
    b = drop.forward(x, np.random.default_rng(3))[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "0.5", True])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match="p .*dropout probability.* must be a number in"):
        Dropout(p)


def test_dropout_needs_generator_when_training():
    with pytest.raises(ValueError, match="rng must be a np.random.Generator"):
        Dropout(0.5).forward(np.ones(3), None)


# -- MLP ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation, output", [("sigmoid", "sigmoid"), ("tanh", "linear"),
                                                ("relu", "softmax")])
def test_mlp_gradients(activation, output):
    rng = np.random.default_rng(6)
    net = MLP([5, 4, 3, 2], rng, activation=activation, dtype=np.float64, output=output, init="scaled")
    assert list(net.params) == ["0.W", "0.b", "1.W", "1.b", "2.W", "2.b"]
    assert net.params["1.W"].shape == (4, 3)
    x = rng.standard_normal((3, 5))
    R = rng.standard_normal((3, 2))
    f = lambda: float(np.sum(net.forward(x)[0] * R))
    a, cache = net.forward(x)
    assert a.shape == (3, 2) and len(cache["a"]) == 4
    dx, grads = net.backward(R, cache)
    assert list(grads) == list(net.params)
    assert _worst(check_grads(f, net.params, grads)) <= TOL
    assert rel_error(dx, numerical_grad(f, x)) <= TOL


def test_mlp_params_are_the_dense_arrays_and_match_the_seed_backprop():
    """The seed's backprop for one example: delta = (a - y) * s'(z), nabla_w = delta a_prev^T."""
    from core.losses import quadratic_cost
    rng = np.random.default_rng(8)
    net = MLP([3, 4, 2], rng, dtype=np.float64)
    assert net.params["0.W"] is net.layers[0].params["W"]
    x = rng.standard_normal((1, 3))
    y = np.array([[0.0, 1.0]])
    a, cache = net.forward(x)
    _, da = quadratic_cost(a, y)
    _, grads = net.backward(da, cache)
    # the seed's loop, written out with its (out, in) weights
    sig = lambda z: 1 / (1 + np.exp(-z))
    w1, b1 = net.params["0.W"].T, net.params["0.b"][:, None]
    w2, b2 = net.params["1.W"].T, net.params["1.b"][:, None]
    a0 = x.T
    z1 = w1 @ a0 + b1; a1 = sig(z1)
    z2 = w2 @ a1 + b2; a2 = sig(z2)
    d2 = (a2 - y.T) * a2 * (1 - a2)
    d1 = (w2.T @ d2) * a1 * (1 - a1)
    np.testing.assert_allclose(a.T, a2, rtol=1e-12)
    np.testing.assert_allclose(grads["1.W"].T, d2 @ a1.T, rtol=1e-10)
    np.testing.assert_allclose(grads["0.W"].T, d1 @ a0.T, rtol=1e-10)
    np.testing.assert_allclose(grads["0.b"], d1[:, 0], rtol=1e-10)


def test_mlp_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sizes must list at least 2"):
        MLP([4], rng)
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer, got 0"):
        MLP([4, 0, 2], rng)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([4, 2], rng, activation="gelu")
    net = MLP([4, 3, 2], rng)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 4\)"):
        net.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        net.forward(np.zeros(4, np.float32))
    a, cache = net.forward(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="d_out must have shape"):
        net.backward(np.zeros((2, 3), np.float32), cache)


def test_embedding_backward_empty_ids():
    emb = Embedding(4, 2, np.random.default_rng(0))
    y, cache = emb.forward(np.zeros((0, 3), dtype=np.int64))
    assert y.shape == (0, 3, 2)
    _, grads = emb.backward(np.zeros((0, 3, 2), np.float32), cache)
    assert grads["E"].shape == (4, 2) and not grads["E"].any()
