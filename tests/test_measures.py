"""Measures: accuracies and success rate on hand-made predictions, perturbation growth, the
sensitivity map against finite differences, and the zero-gradient fraction."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nprelu.backend import get_backend
from nprelu.gradcheck import kink_free_network, numerical_grad, rel_error
from nprelu.measures import (attack_success_rate, perturbation_growth, robust_accuracy,
                             sensitivity_map, standard_accuracy, zero_gradient_fraction)
from nprelu.network import MLP

F64 = get_backend("numpy", "float64")


def argmax_net(be=F64):
    """Logits = x: the prediction is the index of the largest pixel."""
    net = MLP([3, 3], [], backend=be)
    net.W[0][...] = be.asarray(np.eye(3))
    return net


def test_accuracies_and_success_rate_on_hand_made_predictions(backend):
    net = argmax_net(backend)
    e = np.eye(3)
    x = backend.asarray(np.stack([e[0], e[1], e[2], e[0]]))
    y = backend.xp.asarray([0, 1, 2, 1])        # clean: right, right, right, wrong
    x_adv = backend.asarray(np.stack([e[1], e[1], e[0], e[1]]))
    # after: wrong (flipped), right (held), wrong (flipped), right (the attack repaired it)
    assert standard_accuracy(net, x, y) == 0.75
    assert robust_accuracy(net, x_adv, y) == 0.5          # over all four samples
    assert attack_success_rate(net, x, x_adv, y) == pytest.approx(2 / 3)  # of the 3 correct ones
    assert attack_success_rate(net, x, x, y) == 0.0


def test_standard_accuracy_is_the_training_loops_accuracy_after_the_pixel_box_check():
    from nprelu.train import accuracy
    net = argmax_net()
    x, y = np.eye(3), np.array([0, 2, 2])
    assert standard_accuracy(net, x, y) == robust_accuracy(net, x, y) == accuracy(net, x, y) == 2 / 3
    assert accuracy(net, 2 * x, y) == 2 / 3              # the network is defined on all of R^d
    with pytest.raises(ValueError, match=r"x must lie in the pixel box \[0, 1\]"):
        standard_accuracy(net, 2 * x, y)
    assert math.isnan(standard_accuracy(net, np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_success_rate_is_nan_when_no_sample_was_correct_before():
    net = argmax_net()
    x = np.eye(3)
    assert math.isnan(attack_success_rate(net, x, x, np.array([1, 2, 0])))


def test_measures_batch_the_predictions():
    net = argmax_net()
    rng = np.random.default_rng(0)
    x = rng.random((50, 3))
    y = rng.integers(0, 3, 50)
    assert standard_accuracy(net, x, y, batch_size=7) == pytest.approx((x.argmax(1) == y).mean())


def test_perturbation_growth_equals_hand_computed_norms_per_layer():
    # HL1 = relu(x) = x (identity weights), HL2 = min(2 * HL1, 0.5): a cap bounds the difference
    net = MLP([2, 2, 2, 2], [None, 0.5], backend=F64)
    net.W[0][...] = np.eye(2)
    net.W[1][...] = 2 * np.eye(2)
    x = np.array([[0.1, 0.2], [0.5, 0.5]])
    x_adv = np.array([[0.2, 0.0], [0.9, 0.5]])
    out = perturbation_growth(net, x, x_adv, batch_size=1)
    d1 = x_adv - x                                                      # [[.1, -.2], [.4, 0]]
    d2 = np.minimum(2 * x_adv, 0.5) - np.minimum(2 * x, 0.5)            # [[.2, -.4], [0, 0]]
    np.testing.assert_allclose(out["linf"], [np.abs(d1).max(1).mean(), np.abs(d2).max(1).mean()])
    np.testing.assert_allclose(out["l2"], [np.linalg.norm(d1, axis=1).mean(),
                                           np.linalg.norm(d2, axis=1).mean()])
    assert perturbation_growth(net, x, x) == {"linf": [0.0, 0.0], "l2": [0.0, 0.0]}


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 1000), caps=st.sampled_from([[None, None], [0.4, None], [None, 0.3]]))
def test_sensitivity_map_matches_finite_difference_logit_gradients(seed, caps):
    net, x = kink_free_network([6, 5, 4, 3], caps, n=4, seed=seed)
    t = np.random.default_rng(seed).integers(0, 3, size=4)
    rows = np.arange(4)
    g_t = numerical_grad(lambda xx: net.logits(xx)[rows, t].sum(), x)
    g_rest = numerical_grad(lambda xx: net.logits(xx).sum() - net.logits(xx)[rows, t].sum(), x)
    expected = np.maximum(0.0, g_t * g_rest)
    maps, sums = sensitivity_map(net, x, t)
    assert rel_error(maps, expected) < 1e-6
    np.testing.assert_allclose(sums, maps.sum(axis=1), rtol=1e-12)
    assert (maps >= 0).all()


def test_sensitivity_map_of_a_linear_model_is_the_product_of_weight_columns(backend):
    net = MLP([4, 3], [], seed=2, backend=backend)
    x = backend.asarray(np.full((2, 4), 0.5))
    maps, sums = sensitivity_map(net, x, np.array([0, 2]))
    W = backend.to_host(net.W[0]).astype(np.float64)
    expected = np.stack([np.maximum(0, W[:, t] * (W.sum(1) - W[:, t])) for t in (0, 2)])
    np.testing.assert_allclose(backend.to_host(maps), expected, rtol=1e-5, atol=1e-7)
    assert maps.dtype == np.float32 and sums.dtype == np.float32


def test_zero_gradient_fraction_counts_samples_behind_a_saturated_cap(backend):
    # one hidden unit z = x1 capped at 0.1: zero input gradient exactly where x1 >= 0.1 or x1 <= 0
    net = MLP([2, 1, 2], [0.1], backend=backend)
    net.W[0][...] = backend.asarray(np.array([[1.0], [0.0]]))
    net.W[1][...] = backend.asarray(np.array([[1.0, -1.0]]))
    x = backend.asarray(np.array([[0.05, 0.3], [0.5, 0.3], [0.0, 0.7], [0.09, 0.1]]))
    assert zero_gradient_fraction(net, x, np.array([1, 1, 0, 0])) == 0.5
    assert zero_gradient_fraction(net, x, np.array([1, 1, 0, 0]), batch_size=3) == 0.5
