"""Attacks: FGSM and CW against closed-form answers on linear models, PGD's constraints, the CW
gradient against finite differences, zero-gradient PGD on hand-built networks, seeds, dtypes."""
import pathlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nprelu.attacks import cw_l2, cw_objective, fgsm, pgd, zero_gradient_pgd
from nprelu.backend import get_backend
from nprelu.gradcheck import kink_free_network, numerical_grad, rel_error
from nprelu.network import MLP

from attack_helpers import F64, host, random_batch, saturated_net

FIXTURE_OK = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                            HealthCheck.too_slow])



# ---- FGSM ------------------------------------------------------------------------------------
@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 12), k=st.integers(2, 5),
       eps=st.floats(0.01, 0.2))
def test_fgsm_perturbation_is_eps_times_sign_of_the_analytic_linear_gradient(seed, d, k, eps):
    net = MLP([d, k], [], seed=seed, backend=F64)
    rng = np.random.default_rng(seed)
    net.b[0][...] = rng.normal(size=k)
    x = rng.uniform(0.25, 0.75, size=(7, d))  # eps <= 0.2: no pixel reaches the box edges
    y = rng.integers(0, k, size=7)
    z = x @ net.W[0] + net.b[0]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = (p - np.eye(k)[y]) @ net.W[0].T  # d loss / dx = W (softmax - onehot_y)
    step = fgsm(net, x, y, eps) - x
    clear = np.abs(grad) > 1e-9
    np.testing.assert_allclose(step[clear], (eps * np.sign(grad))[clear], rtol=0, atol=1e-12)


def test_fgsm_clips_to_the_box_and_keeps_float32(backend):
    net = MLP([6, 5, 3], [0.5], seed=2, backend=backend)
    x, y = random_batch(backend, 9, 6, 0)
    x[0] = 0.0
    x[1] = 1.0
    adv = fgsm(net, x, y, 0.3)
    assert adv.dtype == np.float32
    a = host(adv)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.abs(a - host(x)).max() <= 0.3 + 1e-6


def test_fgsm_leaves_the_input_unchanged_where_the_gradient_is_zero():
    net = saturated_net()
    x, y = random_batch(F64, 4, 5, 1)
    np.testing.assert_array_equal(fgsm(net, x, y, 0.1), x)


# ---- PGD -------------------------------------------------------------------------------------
@FIXTURE_OK
@given(seed=st.integers(0, 10_000), hidden=st.lists(st.integers(2, 8), min_size=0, max_size=2),
       cap=st.sampled_from([None, 0.05, 0.5]), eps=st.floats(0.001, 0.5),
       step=st.floats(0.001, 0.3), steps=st.integers(1, 8), random_start=st.booleans(),
       early_stop=st.booleans())
def test_pgd_never_leaves_the_eps_ball_or_the_unit_box(backend, seed, hidden, cap, eps, step, steps,
                                                       random_start, early_stop):
    sizes = [7, *hidden, 3]
    net = MLP(sizes, [cap] * len(hidden), seed=seed, backend=backend)
    x, y = random_batch(backend, 11, 7, seed)
    x[0, :3] = 0.0
    x[1, :3] = 1.0
    adv = pgd(net, x, y, eps, step, steps, random_start=random_start, seed=seed,
              early_stop=early_stop, batch_size=4)
    assert adv.dtype == np.float32 and adv.shape == x.shape
    a, x0 = host(adv), host(x)
    assert a.min() >= 0.0 and a.max() <= 1.0
    # x +- eps is rounded once to float32 (values < 1: error < 2**-24), the check rounds again
    assert np.abs(a - x0).max() <= eps + 2.0 ** -23


def test_pgd_takes_signed_steps_on_a_linear_model_until_the_ball_stops_it():
    # two classes, logits (x1 - x2, 0): for y = 0 the loss grows as x1 falls and x2 rises
    net = MLP([2, 2], [], backend=F64)
    net.W[0][...] = [[1.0, 0.0], [-1.0, 0.0]]
    x = np.array([[0.5, 0.5]])
    adv = pgd(net, x, np.array([0]), eps=0.25, step=0.1, steps=2)
    np.testing.assert_allclose(adv, [[0.3, 0.7]], atol=1e-12)
    adv = pgd(net, x, np.array([0]), eps=0.25, step=0.1, steps=5)
    np.testing.assert_allclose(adv, [[0.25, 0.75]], atol=1e-12)


def test_pgd_same_seed_same_examples_other_seed_other_start_any_batch_size():
    net = MLP([8, 6, 3], [0.3], seed=4)
    x, y = random_batch(net.backend, 10, 8, 3)
    kw = dict(eps=0.1, step=0.02, steps=3, random_start=True)
    a = pgd(net, x, y, seed=7, **kw)
    np.testing.assert_array_equal(a, pgd(net, x, y, seed=7, **kw))
    np.testing.assert_allclose(a, pgd(net, x, y, seed=7, batch_size=3, **kw), atol=1e-6)
    assert not np.array_equal(a, pgd(net, x, y, seed=8, **kw))


def test_pgd_early_stop_leaves_misclassified_samples_where_they_are():
    net = MLP([8, 6, 3], [None], seed=5)
    x, _ = random_batch(net.backend, 20, 8, 5)
    pred = net.predict(x)
    y = pred.copy()
    y[:10] = (pred[:10] + 1) % 3  # the first ten are already wrong
    adv = pgd(net, x, y, eps=0.2, step=0.05, steps=4, early_stop=True)
    np.testing.assert_array_equal(adv[:10], x[:10])
    assert not np.array_equal(adv[10:], x[10:])


def test_pgd_uses_a_custom_gradient_hook():
    net = MLP([4, 3], [], backend=F64)
    x = np.full((2, 4), 0.5)
    ones = lambda net_, xb, yb: np.ones_like(xb)  # noqa: E731  "loss" = sum of pixels
    adv = pgd(net, x, np.array([0, 1]), eps=0.3, step=0.1, steps=2, grad_fn=ones)
    np.testing.assert_allclose(adv, 0.7, atol=1e-12)


# ---- CW-L2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kappa, c", [(0.0, [0.3, 2.0, 5.0, 0.01]), (100.0, [0.5, 1.0, 3.0, 7.0])])
def test_cw_objective_gradient_matches_finite_differences(kappa, c):
    net, xk = kink_free_network([6, 5, 4, 3], [0.6, None], n=4, seed=11)
    xk = np.clip(xk, 0.02, 0.98)
    w = np.arctanh(2.0 * xk - 1.0)  # x'(w) = xk, a kink-free point
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=xk.shape)
    y = rng.integers(0, 3, size=4)
    c = np.array(c)
    loss, g, l2sq, adv, x_prime = cw_objective(net, w, x, y, c, kappa)
    num = numerical_grad(lambda ww: cw_objective(net, ww, x, y, c, kappa).loss.sum(), w)
    assert rel_error(g, num) < 1e-6
    # what the attack's loop reads besides: x'(w), ||x' - x||^2 and the success flag
    np.testing.assert_allclose(x_prime, xk, rtol=1e-12, atol=1e-15)
    d2 = ((xk - x) ** 2).sum(axis=1)
    np.testing.assert_allclose(l2sq, d2, rtol=1e-10)
    logits = net.logits(xk)
    other = np.where(np.eye(3, dtype=bool)[y], -np.inf, logits).max(axis=1)
    real = logits[np.arange(4), y]
    np.testing.assert_array_equal(adv, other > real + kappa)
    if kappa == 0.0:
        np.testing.assert_array_equal(adv, logits.argmax(axis=1) != y)
    if kappa == 100.0:
        np.testing.assert_allclose(loss, d2 + c * (real - other), rtol=1e-10)


def test_cw_other_class_maximum_is_right_when_all_logits_are_negative():
    net = MLP([3, 3], [], backend=F64)
    net.W[0][...] = 0.0
    net.b[0][...] = [-5.0, -1.0, -3.0]
    w = np.zeros((1, 3))
    x = np.full((1, 3), 0.5)
    loss = cw_objective(net, w, x, np.array([2]), np.array([1.0]), kappa=10.0).loss
    assert loss[0] == pytest.approx(-3.0 - (-1.0))  # Z_y - max_{i != y} Z_i, not Z_y - 0


@pytest.mark.parametrize("dtype, tol", [("float64", 0.01), ("float32", 0.01)])
def test_cw_distortion_on_a_two_class_linear_model_approaches_the_distance_to_the_boundary(dtype, tol):
    be = get_backend("numpy", dtype)
    d = 10
    net = MLP([d, 2], [], seed=3, backend=be)
    rng = np.random.default_rng(1)
    x = be.asarray(rng.uniform(0.35, 0.65, size=(6, d)))
    y = net.predict(x)
    z = host(net.logits(x)).astype(np.float64)
    wdiff = host(net.W[0][:, 0] - net.W[0][:, 1]).astype(np.float64)
    exact = np.abs(z[:, 0] - z[:, 1]) / np.linalg.norm(wdiff)
    margin = z[:, 0] - z[:, 1]
    nearest = host(x) - (margin / (wdiff @ wdiff))[:, None] * wdiff  # on the boundary
    assert 0.05 < nearest.min() and nearest.max() < 0.95  # inside the box: clipping plays no part
    res = cw_l2(net, x, y, c_init=1e-3, search_steps=9, max_iter=1000, lr=1e-2)
    assert res.success.all()
    assert res.x_adv.dtype == be.dtype and res.l2.dtype == be.dtype
    np.testing.assert_array_less(exact * (1 - 1e-3), host(res.l2))  # never closer than exact
    np.testing.assert_allclose(host(res.l2), exact, rtol=tol)
    assert (net.predict(res.x_adv) != y).all()
    np.testing.assert_allclose(host(res.l2), np.linalg.norm(host(res.x_adv) - host(x), axis=1),
                               rtol=1e-5)


def test_cw_attack_loop_calls_the_one_objective(monkeypatch):
    """The iterates' gradients come from cw_objective itself, not from a twin of it."""
    import nprelu.attacks.cw as cw_module
    calls = []
    real = cw_module.cw_objective

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cw_module, "cw_objective", spy)
    net = MLP([8, 6, 3], [0.4], seed=6)
    x, y = random_batch(net.backend, 5, 8, 6)
    cw_l2(net, x, y, search_steps=2, max_iter=7, abort_early=False)
    assert len(calls) == 2 * 7


def test_cw_returns_the_clean_input_for_a_sample_it_cannot_break():
    net = saturated_net(get_backend("numpy", "float32"))  # constant logits: nothing can flip
    x, _ = random_batch(net.backend, 3, 5, 2)
    y = net.predict(x)
    res = cw_l2(net, x, y, search_steps=2, max_iter=50)
    assert not res.success.any()
    np.testing.assert_array_equal(res.x_adv, x)
    np.testing.assert_array_equal(res.l2, 0.0)
    assert np.isnan(res.c).all()


def test_cw_breaks_an_already_misclassified_sample_at_almost_zero_distance():
    net = MLP([8, 6, 3], [None], seed=5)
    x, _ = random_batch(net.backend, 4, 8, 5)
    y = (net.predict(x) + 1) % 3
    res = cw_l2(net, x, y, search_steps=1, max_iter=20)
    assert res.success.all()
    assert res.l2.max() < 1e-4


def test_cw_is_deterministic_and_independent_of_batch_size(backend):
    net = MLP([8, 6, 3], [0.4], seed=6, backend=backend)
    x, y = random_batch(backend, 7, 8, 6)
    kw = dict(search_steps=3, max_iter=60)
    a, b = cw_l2(net, x, y, **kw), cw_l2(net, x, y, **kw)
    np.testing.assert_array_equal(host(a.x_adv), host(b.x_adv))
    np.testing.assert_array_equal(host(a.l2), host(b.l2))
    c = cw_l2(net, x, y, batch_size=3, **kw)
    np.testing.assert_array_equal(host(a.success), host(c.success))
    np.testing.assert_allclose(host(a.x_adv), host(c.x_adv), atol=1e-5)
    assert a.x_adv.dtype == np.float32 and a.l2.dtype == np.float32


# ---- zero-gradient PGD -----------------------------------------------------------------------
def test_saturated_capped_layer_gives_zero_gradient_found_at_step_zero(backend):
    net = saturated_net(backend)
    x, y = random_batch(backend, 6, 5, 0)
    _, dx = net.input_grad(x, y)
    assert not host(dx).any()
    assert not host(net.input_grad(x, y, loss="margin")[1]).any()
    res = zero_gradient_pgd(net, x, y, max_steps=10)
    assert host(res.found).all()
    np.testing.assert_array_equal(host(res.steps), 0)
    np.testing.assert_array_equal(host(res.distance), 0.0)
    np.testing.assert_array_equal(host(res.x_final), host(x))
    assert res.x_final.dtype == np.float32 and res.distance.dtype == np.float32


def one_unit_net():
    """x1 drives one hidden unit capped at 0.1; logits (a, -a). For y = 1 the loss grows with x1,
    so PGD raises x1 by `step` until z = x1 passes 0.1, where the input gradient becomes zero."""
    net = MLP([2, 1, 2], [0.1], backend=F64)
    net.W[0][...] = [[1.0], [0.0]]
    net.W[1][...] = [[1.0, -1.0]]
    return net


def test_zero_gradient_pgd_counts_steps_and_distance_until_the_unit_saturates():
    net = one_unit_net()
    x = np.array([[0.055, 0.3], [0.5, 0.3]])  # second row: saturated from the start
    res = zero_gradient_pgd(net, x, np.array([1, 1]), step=0.01, max_steps=50)
    np.testing.assert_array_equal(res.found, [True, True])
    np.testing.assert_array_equal(res.steps, [5, 0])  # 0.065, 0.075, 0.085, 0.095, 0.105
    np.testing.assert_allclose(res.distance, [0.05, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.x_final, [[0.105, 0.3], [0.5, 0.3]], atol=1e-12)


def test_zero_gradient_pgd_reports_not_found_with_the_distance_of_the_last_step():
    net = one_unit_net()
    x = np.array([[0.055, 0.3]])
    res = zero_gradient_pgd(net, x, np.array([1]), step=0.01, max_steps=3)
    assert not res.found[0] and res.steps[0] == 3
    np.testing.assert_allclose(res.distance, [0.03], atol=1e-12)
    res = zero_gradient_pgd(net, x, np.array([1]), step=0.01, max_steps=50, eps=0.02)
    assert not res.found[0] and res.steps[0] == 50  # the eps-ball keeps x1 <= 0.075
    np.testing.assert_allclose(res.distance, [0.02], atol=1e-12)


def test_zero_gradient_pgd_keeps_going_after_the_prediction_flips():
    net = one_unit_net()
    net.b[1][...] = [0.0, 0.08]  # class 1 predicted while a < 0.04, class 0 after
    x = np.array([[0.005, 0.3]])
    res = zero_gradient_pgd(net, x, np.array([1]), step=0.01, max_steps=50)
    assert res.found[0] and res.steps[0] == 10  # flips near 0.045, saturates at 0.105


# ---- house rules -----------------------------------------------------------------------------
def test_attack_and_measure_modules_take_xp_from_the_backend_only():
    root = pathlib.Path(__file__).resolve().parents[1] / "nprelu"
    files = [*sorted((root / "attacks").glob("*.py")), root / "measures.py"]
    for path in files:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(numpy|cupy)\b", text, re.M), path
        assert "print(" not in text, path


def test_cw_repacking_keeps_each_rows_state_moments_included():
    """At an abort-early check the rows still optimizing are compacted: every field (the
    variable, Adam's moments, the best so far, ...) keeps its row of the same sample."""
    from nprelu.attacks.cw import _Active
    rng = np.random.default_rng(0)
    fields = {f: rng.normal(size=(5, 3)).astype(np.float32) for f in _Active.FIELDS}
    fields["idx"] = np.arange(5) + 10
    act = _Active(**fields)
    keep = np.array([True, False, True, True, False])
    kept = act.subset(keep)
    assert len(kept) == 3 and kept.idx.tolist() == [10, 12, 13]
    for f in _Active.FIELDS:
        np.testing.assert_array_equal(getattr(kept, f), fields[f][keep], err_msg=f)
        assert not np.shares_memory(getattr(kept, f), fields[f]), f
