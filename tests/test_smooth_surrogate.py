"""The smooth BPDA surrogate "softplus": its backward pass is the true gradient of the network
whose capped units are the smooth s_k(z) = (softplus(k z) - softplus(k (z - beta))) / k."""
import math

import numpy as np
import pytest

from attack_helpers import F64, host, random_batch
from nprelu.activations import SMOOTH_SURROGATES, SOFTPLUS_K, SURROGATES, backward_mask, \
    smooth_cap_derivative
from nprelu.attacks import apgd
from nprelu.backend import get_backend
from nprelu.gradcheck import numerical_grad, rel_error
from nprelu.losses import cross_entropy_per_sample, logit_sum
from nprelu.network import MLP


def softplus(t):
    return np.logaddexp(0.0, t)


def smooth_unit(z, beta, k=SOFTPLUS_K):
    """s_k(z), written independently of the package (float64)."""
    return (softplus(k * z) - softplus(k * (z - beta))) / k


def smooth_forward(net, x, z0=None):
    """Logits of the network whose CAPPED layers compute s_k(z) in the forward pass (plain ReLU
    layers stay max(0, z)). With ``z0`` (each capped layer's pre-activations at a base point),
    a capped layer computes a(z0, beta) + s_k(z) - s_k(z0) instead: the real network's values at
    the base point, with s_k's derivative (BPDA in straight-through form)."""
    a = x
    for i in range(net.n_layers):
        z = a @ net.W[i] + net.b[i]
        beta = None if i == net.n_layers - 1 else net.caps[i]
        if i == net.n_layers - 1:
            a = z
        elif beta is None:
            a = np.maximum(z, 0.0)
        elif z0 is None:
            a = smooth_unit(z, beta)
        else:
            a = np.clip(z0[i], 0.0, beta) + smooth_unit(z, beta) - smooth_unit(z0[i], beta)
    return a


def pre_activations(net, x):
    zs, a = [], x
    for i in range(net.n_layers - 1):
        zs.append(a @ net.W[i] + net.b[i])
        a = np.clip(zs[-1], 0.0, np.inf if net.caps[i] is None else net.caps[i])
    return zs


def shaken(net):
    for b in net.b:                                 # push units beyond the caps and below 0
        b[...] = np.random.default_rng(1).normal(0.0, 1.0, size=b.shape)
    return net


@pytest.mark.parametrize("sizes,caps", [([6, 5, 3], [0.3]), ([6, 5, 4, 3], [None, 0.05])])
def test_softplus_surrogate_is_the_gradient_of_the_smooth_capped_network(sizes, caps):
    """Where the smooth forward changes nothing the loss sees besides the capped layer's own
    output (cap on the last hidden layer, a loss linear in the logits), the surrogate gradient
    is exactly the smooth network's true input gradient."""
    net = shaken(MLP(sizes, caps, seed=3, backend=F64))
    x, y = random_batch(F64, 7, 6, 2)
    w = np.random.default_rng(5).normal(size=(7, 3))
    _, dx = net.input_grad(x, y, loss=logit_sum(w), surrogate="softplus")
    num = numerical_grad(lambda xx: float((smooth_forward(net, xx) * w).sum()), x.copy())
    assert rel_error(dx, num) < 1e-6
    _, true = net.input_grad(x, y, loss=logit_sum(w))   # the surrogate does something
    assert rel_error(dx, true) > 1e-3


@pytest.mark.parametrize("caps", [[0.3, None], [0.2, 0.5], [None, 0.05]])
def test_softplus_surrogate_is_straight_through_smooth_for_any_caps_and_loss(caps):
    """In general (several capped layers, cross-entropy) the backward pass is the derivative of
    the real network with every capped unit's a(z) replaced by a(z0) + s_k(z) - s_k(z0) at the
    real forward's z0: real values, s_k' in the backward pass."""
    net = shaken(MLP([6, 5, 4, 3], caps, seed=3, backend=F64))
    x, y = random_batch(F64, 7, 6, 2)
    _, dx = net.input_grad(x, y, surrogate="softplus")
    z0 = pre_activations(net, x)
    np.testing.assert_allclose(smooth_forward(net, x, z0), net.logits(x), rtol=1e-12, atol=1e-12)
    num = numerical_grad(
        lambda xx: float(cross_entropy_per_sample(smooth_forward(net, xx, z0), y)[0].sum()),
        x.copy())
    assert rel_error(dx, num) < 1e-6


def test_smooth_derivative_matches_its_two_forms_and_never_vanishes_in_float32():
    z = np.linspace(-60.0, 60.0, 2001)
    for beta in (0.01, 0.1, 1.0, 5.0):
        k = SOFTPLUS_K
        diff = 1 / (1 + np.exp(-k * z)) - 1 / (1 + np.exp(-k * (z - beta)))
        np.testing.assert_allclose(smooth_cap_derivative(z, beta), diff, rtol=1e-7, atol=1e-15)
        d32 = smooth_cap_derivative(z.astype(np.float32), beta)
        assert d32.dtype == np.float32 and (d32 > 0).all()
        # the derivative of s_k, by central differences on the smooth unit itself
        zz = np.linspace(-8.0, 8.0, 161)
        np.testing.assert_allclose(smooth_cap_derivative(zz, beta),
                                   (smooth_unit(zz + 1e-5, beta) - smooth_unit(zz - 1e-5, beta))
                                   / 2e-5, rtol=1e-5, atol=1e-9)
    assert math.isclose(float(smooth_cap_derivative(np.array([0.05]), 0.1)[0]),
                        (1 / (1 + math.exp(-0.05))) ** 2 * (1 - math.exp(-0.1)),
                        rel_tol=1e-12)


def test_smooth_derivative_and_mask_refuse_bad_input():
    with pytest.raises(ValueError, match="cap"):
        smooth_cap_derivative(np.zeros(3), None)
    with pytest.raises(ValueError, match="k"):
        smooth_cap_derivative(np.zeros(3), 0.1, k=0.0)
    with pytest.raises(ValueError, match="pre-activation"):
        backward_mask(np.zeros(3), 0.1, "softplus")
    with pytest.raises(ValueError, match="unknown surrogate"):
        backward_mask(np.zeros(3), 0.1, "sigmoid")


def test_other_surrogates_and_uncapped_layers_are_unchanged():
    """relu / identity / None need no z, and on a net without caps softplus is the true gradient."""
    assert SURROGATES == ("relu", "identity") and SMOOTH_SURROGATES == ("softplus",)
    net = MLP([6, 5, 4, 3], [None, None], seed=2, backend=F64)
    x, y = random_batch(F64, 5, 6, 4)
    _, true = net.input_grad(x, y)
    for s in ("relu", "identity", "softplus"):
        np.testing.assert_array_equal(net.input_grad(x, y, surrogate=s)[1], true)


def test_apgd_runs_with_the_softplus_surrogate_in_float32():
    be = get_backend("numpy")
    net = MLP([16, 8, 3], [0.1], seed=0, backend=be)
    x, y = random_batch(be, 6, 16, 0)
    adv = host(apgd(net, x, y, 0.1, steps=5, surrogate="softplus", seed=1))
    assert adv.dtype == np.float32 and np.abs(adv - host(x)).max() <= 0.1 + 1e-6
