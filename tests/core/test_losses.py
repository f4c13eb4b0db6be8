"""Losses: values, central-difference gradients (float64) and bad input."""
import numpy as np
import pytest

from core import losses as L
from core.gradcheck import numerical_grad, rel_error

TOL = 1e-6


def _check(fn, x, *args, **kw):
    loss, d = fn(x, *args, **kw)[:2]
    num = numerical_grad(lambda: fn(x, *args, **kw)[0], x)
    return rel_error(d, num)


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 6)])
def test_softmax_cross_entropy_gradient_and_value(shape):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape)
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    loss, d, probs = L.softmax_cross_entropy(logits, targets)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expect = -np.mean(np.log(np.take_along_axis(p, targets[..., None], -1)))
    assert np.isclose(loss, expect, rtol=1e-12)
    np.testing.assert_allclose(probs, p, rtol=1e-12)
    assert _check(L.softmax_cross_entropy, logits, targets) <= TOL


def test_softmax_cross_entropy_mask_and_sum():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3, 4))  # (T, B, V)
    targets = rng.integers(0, 4, size=(5, 3))
    mask = rng.random((5, 3)) < 0.6
    mask[0, 0] = True
    loss, d, _ = L.softmax_cross_entropy(logits, targets, mask=mask)
    full = L.softmax_cross_entropy(logits[mask], targets[mask])[0]  # mean over unmasked only
    assert np.isclose(loss, full, rtol=1e-12)
    assert np.all(d[~mask] == 0)
    assert _check(L.softmax_cross_entropy, logits, targets, mask=mask) <= TOL
    weights = rng.random((5, 3))
    assert _check(L.softmax_cross_entropy, logits, targets, mask=weights) <= TOL
    # reduction="sum": min-char-rnn's sum over timesteps
    s, ds, _ = L.softmax_cross_entropy(logits, targets, reduction="sum")
    assert np.isclose(s, L.softmax_cross_entropy(logits, targets)[0] * 15, rtol=1e-12)
    assert _check(L.softmax_cross_entropy, logits, targets, reduction="sum") <= TOL
    # all masked: nothing to learn
    z, dz, _ = L.softmax_cross_entropy(logits, targets, mask=np.zeros((5, 3), bool))
    assert z == 0.0 and not dz.any()


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4]], np.float32)
    loss, d, probs = L.softmax_cross_entropy(logits, np.array([1]))
    assert np.isclose(loss, 1e4, rtol=1e-6) and np.all(np.isfinite(d))
    assert d.dtype == np.float32


def test_mse_value_and_gradient():
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss, _ = L.mse(pred, target)
    assert np.isclose(loss, np.mean((pred - target) ** 2))
    assert _check(L.mse, pred, target) <= TOL


def test_bce_with_sigmoid_value_gradient_and_stability():
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((5, 2)) * 3, rng.random((5, 2))
    s = 1 / (1 + np.exp(-x))
    loss, _ = L.bce_with_sigmoid(x, t)
    assert np.isclose(loss, np.mean(-(t * np.log(s) + (1 - t) * np.log(1 - s))), rtol=1e-10)
    assert _check(L.bce_with_sigmoid, x, t) <= TOL
    big, dbig = L.bce_with_sigmoid(np.array([800.0, -800.0]), np.array([0.0, 1.0]))
    assert np.isclose(big, 800.0) and np.allclose(dbig, [0.5, -0.5])


def test_bce_value_gradient_and_clipping():
    rng = np.random.default_rng(4)
    p, t = rng.uniform(0.1, 0.9, (4, 3)), (rng.random((4, 3)) < 0.5).astype(float)
    loss, _ = L.bce(p, t)
    assert np.isclose(loss, np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))
    assert _check(L.bce, p, t) <= TOL
    assert np.isclose(L.bce(p, t)[0], L.bce_with_sigmoid(np.log(p / (1 - p)), t)[0], rtol=1e-10)
    worst, d = L.bce(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert np.isfinite(worst) and worst > 20 and np.all(np.isfinite(d))


def test_quadratic_cost_is_the_seeds():
    rng = np.random.default_rng(5)
    a, y = rng.random((6, 10)), np.eye(10)[rng.integers(0, 10, 6)]
    loss, da = L.quadratic_cost(a, y)
    assert np.isclose(loss, np.mean(0.5 * np.sum((a - y) ** 2, axis=1)))
    np.testing.assert_allclose(da, (a - y) / 6)  # the seed's cost_derivative, batch-averaged
    assert _check(L.quadratic_cost, a, y) <= TOL


@pytest.mark.parametrize("fn", [L.mse, L.bce_with_sigmoid, L.bce, L.quadratic_cost])
def test_pair_losses_bad_input(fn):
    ok = np.full((2, 3), 0.5)
    first = fn.__code__.co_varnames[0]
    second = fn.__code__.co_varnames[1]
    with pytest.raises(ValueError, match=f"{second} must have the shape of {first}"):
        fn(ok, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match=f"{first} contains NaN"):
        fn(np.array([[np.nan, 0.5, 0.5], [0.5, 0.5, 0.5]]), ok)
    with pytest.raises(ValueError, match=f"{second} contains NaN or inf"):
        fn(ok, np.array([[np.inf, 0.5, 0.5], [0.5, 0.5, 0.5]]))
    with pytest.raises(ValueError, match=f"{first} must be a floating-point array"):
        fn(np.ones((2, 3), dtype=int), ok)


def test_target_ranges():
    ok = np.full(3, 0.5)
    with pytest.raises(ValueError, match=r"target values must be in \[0, 1\], got range \[0.5, 2.0\]"):
        L.bce_with_sigmoid(ok, np.array([0.5, 2.0, 0.5]))
    with pytest.raises(ValueError, match=r"prob values must be in \[0, 1\]"):
        L.bce(np.array([-0.1, 0.5, 0.5]), ok)
    with pytest.raises(ValueError, match=r"a must have shape \(B, K\)"):
        L.quadratic_cost(ok, ok)


def test_softmax_cross_entropy_bad_input():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"targets values must be in \[0, 3\), got range \[0, 3\]"):
        L.softmax_cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="targets must be an integer array"):
        L.softmax_cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        L.softmax_cross_entropy(logits, np.array([[0, 1]]))
    with pytest.raises(ValueError, match="logits contains NaN"):
        L.softmax_cross_entropy(np.array([[0.0, np.nan, 0.0]]), np.array([0]))
    with pytest.raises(ValueError, match="logits must be a floating-point array"):
        L.softmax_cross_entropy(np.zeros((2, 3), int), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"mask must have shape \(2,\)"):
        L.softmax_cross_entropy(logits, np.array([0, 1]), mask=np.ones(3))
    with pytest.raises(ValueError, match="mask weights must be >= 0"):
        L.softmax_cross_entropy(logits, np.array([0, 1]), mask=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', got 'max'"):
        L.softmax_cross_entropy(logits, np.array([0, 1]), reduction="max")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (NumPy on the bad values, before the ValueError)
@pytest.mark.parametrize("fn", [L.mse, L.bce_with_sigmoid, L.quadratic_cost])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_inputs_are_named_after_the_loss_is_computed(fn, bad):
    """These losses check finiteness on the (scalar) loss, then name the input: any non-finite value in
    either input must still be reported, whatever the other input holds there."""
    first, second = fn.__code__.co_varnames[:2]
    for t in (0.0, 0.5, 1.0):
        x = np.full((2, 3), 0.5)
        x[1, 2] = bad
        with pytest.raises(ValueError, match=f"{first} contains NaN or inf"):
            fn(x, np.full((2, 3), t))
    y = np.full((2, 3), 0.5)
    y[0, 0] = bad
    with pytest.raises(ValueError, match=f"{second} contains NaN or inf"):
        fn(np.full((2, 3), 0.3), y)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_loss_that_overflows_from_finite_inputs_is_returned():
    loss, _ = L.mse(np.full(4, 1e200), np.zeros(4))
    assert loss == np.inf
