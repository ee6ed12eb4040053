"""Every hand-written gradient against central finite differences in float64.

Hypothesis draws network shapes, caps, batch sizes and points; ``kink_free_network`` keeps every
hidden pre-activation at least 1e-3 from the kinks at 0 and beta, so a difference with h = 1e-6
never straddles one.
"""
import numpy as np
from hypothesis import given, strategies as st

import pytest

from nprelu.activations import (backward_mask, capped_relu, capped_relu_backward,
                                capped_relu_mask, softmax)
from nprelu.gradcheck import kink_free_network, min_kink_distance, numerical_grad, rel_error, run
from nprelu.losses import cross_entropy, cross_entropy_per_sample, logit_sum, targeted_dlr_loss

TOL = 1e-6

cap_st = st.one_of(st.none(), st.floats(0.2, 3.0))


@st.composite
def networks(draw):
    n_hidden = draw(st.integers(1, 3))
    sizes = [draw(st.integers(2, 6)) for _ in range(n_hidden + 1)] + [draw(st.integers(2, 5))]
    caps = [draw(cap_st) for _ in range(n_hidden)]
    n = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 10_000))
    net, x = kink_free_network(sizes, caps, n, seed)
    y = np.random.default_rng(seed).integers(0, sizes[-1], size=n)
    return net, x, y


@given(networks())
def test_parameter_gradients_match_finite_differences(case):
    net, x, y = case
    _, grads, _ = net.loss_and_grads(x, y)
    for p, g in zip(net.params, grads):
        num = numerical_grad(lambda _: cross_entropy(net.logits(x), y)[0], p)
        assert rel_error(g, num) < TOL


@given(networks())
def test_input_gradient_is_each_samples_own_loss_gradient(case):
    net, x, y = case
    _, dx = net.input_grad(x, y)
    num = numerical_grad(lambda xx: cross_entropy_per_sample(net.logits(xx), y)[0].sum(), x)
    assert rel_error(dx, num) < TOL


@given(networks(), st.data())
def test_single_logit_input_gradient(case, data):
    net, x, _ = case
    k = data.draw(st.integers(0, net.sizes[-1] - 1))
    onehot = np.zeros((len(x), net.sizes[-1]))
    onehot[:, k] = 1.0
    _, dz = net.input_grad(x, None, loss=logit_sum(onehot))
    num = numerical_grad(lambda xx: net.logits(xx)[:, k].sum(), x)
    assert rel_error(dz, num) < TOL


@given(networks(), st.integers(0, 1000))
def test_weighted_logit_sum_input_gradient(case, seed):
    """d/dx sum_k w_nk Z_k(x_n), the sensitivity map's building block, for arbitrary weights."""
    net, x, _ = case
    w = np.random.default_rng(seed).normal(size=(len(x), net.sizes[-1]))
    s, dx = net.input_grad(x, None, loss=logit_sum(w))
    np.testing.assert_allclose(s, (net.logits(x) * w).sum(axis=1), rtol=1e-12)
    assert rel_error(dx, numerical_grad(lambda xx: (net.logits(xx) * w).sum(), x)) < TOL


@given(networks(), st.integers(0, 1000))
def test_full_backward_against_random_upstream_gradient(case, seed):
    """One vector-Jacobian product covers the whole Jacobian of logits w.r.t. params and input."""
    net, x, _ = case
    up = np.random.default_rng(seed).normal(size=(len(x), net.sizes[-1]))
    _, caches = net.forward(x)
    grads, dx = net.backward(up, caches, params=True, inputs=True)
    f = lambda _: (net.logits(x) * up).sum()
    assert rel_error(dx, numerical_grad(lambda xx: (net.logits(xx) * up).sum(), x)) < TOL
    for p, g in zip(net.params, grads):
        assert rel_error(g, numerical_grad(f, p)) < TOL


@given(st.floats(0.05, 5.0), st.integers(0, 1000))
def test_capped_relu_derivative_is_the_strict_mask(beta, seed):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-2 * beta, 2 * beta, size=(3, 7))
    z = z[(np.abs(z) > 1e-3) & (np.abs(z - beta) > 1e-3)].reshape(1, -1)
    up = rng.normal(size=z.shape)
    num = numerical_grad(lambda zz: (capped_relu(zz, beta) * up).sum(), z.copy())
    assert rel_error(up * capped_relu_mask(z, beta), num) < TOL
    # the pair the backward pass uses: the mask read from the output a, then dout * mask
    assert rel_error(capped_relu_backward(up, backward_mask(capped_relu(z, beta), beta)), num) < TOL


def test_mask_is_zero_at_both_kinks():
    z = np.array([-1.0, 0.0, 0.05, 0.1, 0.2])
    assert capped_relu_mask(z, 0.1).tolist() == [False, False, True, False, False]
    assert capped_relu(z, 0.1).tolist() == [0.0, 0.0, 0.05, 0.1, 0.1]
    assert capped_relu_mask(z, None).tolist() == [False, False, True, True, True]
    assert capped_relu(z, None).tolist() == [0.0, 0.0, 0.05, 0.1, 0.2]


@given(st.one_of(st.none(), st.floats(0.01, 2.0)), st.integers(0, 1000))
def test_mask_from_the_output_equals_the_mask_from_z_in_float32(beta, seed):
    """0 < z < beta iff 0 < a < beta (and z > 0 iff a > 0): the backward pass needs only a."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 3.0, size=500).astype(np.float32)
    z[:5] = [0.0, -0.0, np.float32(beta or 1.0), np.nextafter(np.float32(beta or 1.0), 9),
             np.nextafter(np.float32(beta or 1.0), -9)]
    a = capped_relu(z, beta)
    np.testing.assert_array_equal(backward_mask(a, beta), capped_relu_mask(z, beta))
    np.testing.assert_array_equal(backward_mask(a, beta, "relu"), z > 0)
    assert backward_mask(a, None, "identity").tolist() == (z > 0).tolist()  # uncapped: no surrogate
    assert backward_mask(a, 1.0, "identity") is None                         # all ones
    with pytest.raises(ValueError, match="unknown surrogate"):
        backward_mask(a, 1.0, "sigmoid")


def test_capped_relu_in_place_and_its_backward():
    z = np.array([[-1.0, 0.25, 2.0]], dtype=np.float32)
    out = capped_relu(z, 0.5, out=z)
    assert out is z and z.tolist() == [[0.0, 0.25, 0.5]]
    up = np.array([[2.0, 3.0, 4.0]], dtype=np.float32)
    np.testing.assert_array_equal(capped_relu_backward(up, backward_mask(z, 0.5)), [[0, 3, 0]])
    assert capped_relu_backward(up, None) is up
    capped_relu_backward(up, backward_mask(z, 0.5), out=up)
    np.testing.assert_array_equal(up, [[0, 3, 0]])


@given(networks())
def test_min_kink_distance_is_measured_on_the_networks_own_pre_activations(case):
    net, x, _ = case
    a, dists = x, []
    for W, b, beta in zip(net.W, net.b, net.caps):   # the forward pass written out by hand
        z = a @ W + b
        dists.append(np.abs(z).min() if beta is None else np.minimum(np.abs(z), np.abs(z - beta)).min())
        a = np.clip(z, 0, np.inf if beta is None else beta)
    assert min_kink_distance(net, x) == pytest.approx(min(dists), rel=1e-12, abs=1e-15)


@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 1000))
def test_cross_entropy_gradient_is_softmax_minus_onehot(n, k, seed):
    # Logits in [-2, 2] keep every softmax probability above e^-4 / k: with saturated logits the
    # gradient falls to ~1e-6 and the finite difference's round-off (~1e-10) alone exceeds the
    # tolerance. Large logits are covered by the closed form below and by the stability test.
    rng = np.random.default_rng(seed)
    z = rng.uniform(-2.0, 2.0, size=(n, k))
    y = rng.integers(0, k, size=n)
    loss, g = cross_entropy(z, y)
    expected = softmax(z)
    expected[np.arange(n), y] -= 1.0
    np.testing.assert_allclose(g, expected / n, rtol=1e-12, atol=1e-15)
    assert rel_error(g, numerical_grad(lambda zz: cross_entropy(zz, y)[0], z)) < TOL
    np.testing.assert_allclose(loss, np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(n), y]), rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    loss, g = cross_entropy(z, np.array([1]))
    assert np.isfinite(loss) and abs(loss - 1000.0) < 1e-3
    assert np.isfinite(g).all() and g.dtype == np.float32


def test_gradcheck_command_passes_and_prints_table():
    import io
    buf = io.StringIO()
    assert run(buf) == 0
    out = buf.getvalue()
    for name in ("params", "input, cross-entropy", "input, margin", "input, DLR",
                 "input, targeted DLR", "single logit", "backward", "capped relu mask",
                 "CW-L2 objective", "BPDA relu surrogate", "BPDA identity surrogate",
                 "BPDA softplus surrogate"):
        assert name in out, name


def losses_with_a_gradient() -> list:
    """Every public function of ``nprelu.losses`` that returns ``(loss, d loss / d logits)``
    (found by calling it: a factory such as ``logit_sum(weights)`` is called with weights, a
    function with a ``target`` parameter with a target other than y)."""
    import inspect
    import nprelu.losses as module
    logits = np.random.default_rng(0).normal(size=(3, 5))
    y, target = np.array([0, 1, 2]), np.array([1, 2, 3])
    found = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or name.startswith("_"):
            continue
        params = list(inspect.signature(fn).parameters)
        try:
            if params == ["weights"]:
                result = fn(np.ones_like(logits))(logits, y)
            elif "target" in params:
                result = fn(logits, y, target)
            else:
                result = fn(logits, y)
        except (TypeError, ValueError):
            continue
        if (isinstance(result, tuple) and len(result) == 2
                and getattr(result[1], "shape", None) == logits.shape):
            found.append(name)
    return found


def test_gradcheck_lists_every_loss_with_a_gradient_and_every_row_passes():
    from nprelu.gradcheck import TOLERANCE, worst_errors
    worst = worst_errors()
    names = losses_with_a_gradient()
    assert {"cross_entropy", "cross_entropy_per_sample", "margin_loss", "dlr_loss",
            "targeted_dlr_loss", "logit_sum"} <= set(names)
    for name in names:
        assert any(row.startswith(f"losses.{name} (") for row in worst), name
    assert not {row: err for row, err in worst.items() if not err <= TOLERANCE}


@given(st.integers(4, 7), st.integers(1, 5), st.integers(0, 10_000))
def test_targeted_dlr_gradient_matches_finite_differences(k, n, seed):
    """Logits a permutation of values 0.5 apart (no ties, where DLR has its kinks)."""
    rng = np.random.default_rng(seed)
    z = np.stack([rng.permutation(k) * 0.5 + rng.uniform(-0.1, 0.1) for _ in range(n)])
    y = rng.integers(0, k, size=n)
    t = (y + rng.integers(1, k, size=n)) % k
    loss, g = targeted_dlr_loss(z, y, t)
    assert rel_error(g, numerical_grad(lambda zz: targeted_dlr_loss(zz, y, t)[0].sum(), z)) < TOL
    srt = -np.sort(-z, axis=1)          # the formula of Croce & Hein (2020), written out
    rows = np.arange(n)
    expected = -(z[rows, y] - z[rows, t]) / (srt[:, 0] - (srt[:, 2] + srt[:, 3]) / 2 + 1e-12)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    assert ((loss > 0) == (z[rows, t] > z[rows, y])).all()   # > 0: the target is above y


def test_targeted_dlr_through_the_network_and_its_invariances():
    net, x = kink_free_network([6, 5, 5], [0.4], n=4, seed=2)
    y, t = np.array([0, 1, 2, 3]), np.array([4, 0, 1, 2])
    loss = lambda z, yy: targeted_dlr_loss(z, yy, t)
    _, dx = net.input_grad(x, y, loss=loss)
    assert rel_error(dx, numerical_grad(lambda xx: loss(net.logits(xx), y)[0].sum(), x)) < TOL
    z = net.logits(x)
    np.testing.assert_allclose(loss(7.5 * z - 3.0, y)[0], loss(z, y)[0], rtol=1e-9)
    with pytest.raises(ValueError, match="4 classes"):
        targeted_dlr_loss(np.zeros((2, 3)), np.array([0, 1]), np.array([1, 2]))
    with pytest.raises(ValueError, match="true class"):
        targeted_dlr_loss(z, y, np.array([0, 0, 1, 2]))
    with pytest.raises(ValueError, match="one class per row"):
        targeted_dlr_loss(z, y, np.array([1, 2]))


def test_gradcheck_command_fails_when_a_tolerance_is_exceeded(monkeypatch):
    import io
    import nprelu.gradcheck as gc
    monkeypatch.setattr(gc, "TOLERANCE", 0.0)  # every real error is > 0
    buf = io.StringIO()
    assert gc.run(buf) == 1
    assert "FAIL" in buf.getvalue()


def test_gradcheck_module_runs_as_a_program():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "nprelu.gradcheck"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all gradients match" in out.stdout
