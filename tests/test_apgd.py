"""APGD-CE and APGD-DLR: the DLR gradient against finite differences and its invariances, the
checkpoint schedule against its formula, the constraints on every iterate, seeds, restarts, and
a closed-form case on a linear model where APGD must find every breakable sample (PGD too)."""
import numpy as np
import pytest

from nprelu.attacks import apgd, apgd_checkpoints, pgd
from nprelu.gradcheck import kink_free_network, numerical_grad, rel_error
from nprelu.losses import cross_entropy_per_sample, dlr_loss
from nprelu.network import MLP

from attack_helpers import F64, host, random_batch


def untied_logits(n, k, seed, gap=1e-2):
    """Random logits whose sorted rows are at least ``gap`` apart (no ties: DLR's kinks)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 3.0
    for _ in range(100):
        s = np.sort(z, axis=1)
        if np.diff(s, axis=1).min() > gap:
            return z
        z = rng.normal(size=(n, k)) * 3.0
    raise RuntimeError("no untied logits")


# ---- the DLR loss ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dlr_logit_gradient_matches_finite_differences(seed):
    z = untied_logits(6, 5, seed)
    y = np.random.default_rng(seed).integers(0, 5, size=6)
    _, grad = dlr_loss(z, y)
    num = numerical_grad(lambda zz: dlr_loss(zz, y)[0].sum(), z.copy())
    assert rel_error(grad, num) < 1e-6


def test_dlr_input_gradient_through_the_network_matches_finite_differences():
    net, x = kink_free_network([4, 6, 3], [0.5], n=3, seed=3)
    y = np.array([0, 1, 2])
    _, dx = net.input_grad(x, y, loss=dlr_loss)
    num = numerical_grad(lambda xx: dlr_loss(net.logits(xx), y)[0].sum(), x.copy())
    assert rel_error(dx, num) < 1e-6


@pytest.mark.parametrize("scale, shift", [(0.01, 0.0), (7.5, -3.0), (1000.0, 42.0)])
def test_dlr_is_invariant_to_a_positive_scale_and_a_shift_of_the_logits(scale, shift):
    z = untied_logits(8, 4, 5)
    y = np.arange(8) % 4
    loss, _ = dlr_loss(z, y)
    moved, _ = dlr_loss(scale * z + shift, y)
    np.testing.assert_allclose(moved, loss, rtol=1e-9, atol=1e-9)
    assert (loss > 0).sum() == (z.argmax(axis=1) != y).sum()   # > 0 exactly when misclassified


def test_dlr_refuses_two_classes():
    with pytest.raises(ValueError, match="3 classes"):
        dlr_loss(np.zeros((2, 2)), np.array([0, 1]))


# ---- the schedule ----------------------------------------------------------------------------
def schedule_from_formula(n):
    """w_j = round(p_j n) for p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
    0.06), while w_j <= n (exact for n = 100, where 0.22 n, 0.03 n, 0.06 n are integers)."""
    p = [0.0, 0.22]
    while p[-1] <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return [round(q * n) for q in p if round(q * n) <= n]


def test_checkpoints_for_100_steps_match_the_formula():
    w = apgd_checkpoints(100)
    assert w == schedule_from_formula(100)
    assert w == [0, 22, 41, 57, 70, 80, 87, 93, 99]


def test_checkpoints_for_few_steps_are_increasing_and_within_the_budget():
    for n in (1, 5, 10, 37):
        w = apgd_checkpoints(n)
        assert w[0] == 0 and all(b > a for a, b in zip(w, w[1:])) and w[-1] <= n


# ---- the attack ------------------------------------------------------------------------------
def small_net(seed=0, sizes=(6, 10, 4), caps=(None,)):
    return MLP(list(sizes), list(caps), seed=seed, backend=F64)


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_every_iterate_and_x_adv_stay_in_the_eps_ball_and_unit_box(loss):
    net = small_net(1)
    x, y = random_batch(F64, 12, 6, seed=2, k=4)
    eps = 0.15
    seen = []
    true_grad = net.input_grad

    def spy(xa, yy, loss="cross_entropy", surrogate=None):
        seen.append(host(xa).copy())
        return true_grad(xa, yy, loss=loss, surrogate=surrogate)

    net.input_grad = spy
    x_adv = apgd(net, x, y, eps, steps=20, loss=loss, restarts=2, seed=4)
    assert len(seen) == 2 * 21
    xh = host(x)
    for xi in seen + [host(x_adv)]:
        assert np.all(np.abs(xi - xh) <= eps + 1e-12)
        assert np.all((xi >= 0.0) & (xi <= 1.0))


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_same_seed_gives_the_same_result_and_another_seed_does_not(loss):
    net = small_net(2)
    x, y = random_batch(F64, 10, 6, seed=3, k=4)
    a = host(apgd(net, x, y, 0.1, steps=15, loss=loss, restarts=2, seed=7))
    b = host(apgd(net, x, y, 0.1, steps=15, loss=loss, restarts=2, seed=7))
    c = host(apgd(net, x, y, 0.1, steps=15, loss=loss, restarts=2, seed=8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_restarts_are_never_weaker_per_sample_than_one_restart(loss):
    net = small_net(3)
    x, y = random_batch(F64, 40, 6, seed=5, k=4)
    fn = cross_entropy_per_sample if loss == "ce" else dlr_loss
    out = {}
    for r in (1, 4):
        xa = apgd(net, x, y, 0.08, steps=10, loss=loss, restarts=r, seed=11)
        z = net.logits(xa)
        out[r] = (host(z.argmax(axis=1) != y), host(fn(z, y)[0]))
    wrong1, loss1 = out[1]
    wrong4, loss4 = out[4]
    assert np.all(wrong4 >= wrong1)
    kept = ~wrong4
    assert np.all(loss4[kept] >= loss1[kept] - 1e-12)
    assert 0 < wrong4.sum() < len(wrong4)    # the case is not trivial


def test_on_a_linear_binary_model_apgd_ce_breaks_exactly_the_breakable_samples_and_pgd_no_more():
    d, eps, steps = 8, 0.05, 10
    net = MLP([d, 2], [], seed=6, backend=F64)
    x, y = random_batch(F64, 200, d, seed=7, k=2)
    w, b = host(net.W[0]), host(net.b[0])      # Z = x W + b
    w = w if w.shape == (d, 2) else w.T
    xh, yh = host(x), host(y)
    u = w[:, 0] - w[:, 1]
    v = np.where(yh[:, None] == 0, u[None, :], -u[None, :])   # gradient of Z_y - Z_o
    lo, hi = np.clip(xh - eps, 0, 1), np.clip(xh + eps, 0, 1)
    corner = np.where(v > 0, lo, hi)                           # minimizes Z_y - Z_o in the box
    zc = corner @ w + b
    min_margin = zc[np.arange(200), yh] - zc[np.arange(200), 1 - yh]
    breakable = min_margin < -1e-9
    assert 0 < breakable.sum() < 200 and np.all(np.abs(min_margin) > 1e-9)

    broken_apgd = host(net.predict(apgd(net, x, y, eps, steps=steps, loss="ce")) != y)
    broken_pgd = host(net.predict(pgd(net, x, y, eps, eps / 4, steps)) != y)
    np.testing.assert_array_equal(broken_apgd, breakable)
    assert broken_apgd.sum() >= broken_pgd.sum()
    assert not np.any(broken_pgd & ~broken_apgd)


def test_apgd_dlr_breaks_a_linear_model_at_least_as_often_as_pgd():
    d, eps, steps = 8, 0.08, 20
    net = MLP([d, 4], [], seed=8, backend=F64)
    x, y = random_batch(F64, 100, d, seed=9, k=4)
    broken_dlr = (net.predict(apgd(net, x, y, eps, steps=steps, loss="dlr")) != y).sum()
    broken_ce = (net.predict(apgd(net, x, y, eps, steps=steps, loss="ce")) != y).sum()
    broken_pgd = (net.predict(pgd(net, x, y, eps, eps / 4, steps)) != y).sum()
    assert broken_ce >= broken_pgd
    assert broken_dlr > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "eps"), (dict(steps=0), "steps"), (dict(restarts=0), "restarts"),
    (dict(rho=0.0), "rho"), (dict(rho=1.5), "rho"), (dict(loss="margin"), "loss"),
    (dict(seed=-1), "seed"), (dict(batch_size=0), "batch_size"),
    (dict(surrogate="bogus"), "surrogate")])
def test_bad_settings_raise_a_value_error_naming_them(kwargs, match):
    net = small_net(0)
    x, y = random_batch(F64, 3, 6, seed=0, k=4)
    args = dict(eps=0.1, steps=5)
    args.update(kwargs)
    eps = args.pop("eps")
    with pytest.raises(ValueError, match=match):
        apgd(net, x, y, eps, **args)


def test_dlr_on_a_two_class_network_is_refused():
    net = MLP([3, 2], [], seed=0, backend=F64)
    with pytest.raises(ValueError, match="3 classes"):
        apgd(net, np.full((2, 3), 0.5), np.array([0, 1]), 0.1, steps=3, loss="dlr")


def test_batch_size_does_not_change_the_result():
    net = small_net(4)
    x, y = random_batch(F64, 9, 6, seed=1, k=4)
    a = host(apgd(net, x, y, 0.1, steps=8, restarts=2, seed=3, batch_size=100))
    b = host(apgd(net, x, y, 0.1, steps=8, restarts=2, seed=3, batch_size=4))
    np.testing.assert_array_equal(a, b)


def fake_gradient(net, losses, direction=1.0):
    """Replace ``net.input_grad`` by a loss of ``losses(call)`` and the gradient ``direction``
    everywhere; the real forward pass still runs (APGD reads its predictions). Returns the list
    that receives every evaluated point."""
    seen = []

    def spy(xa, yy, loss="cross_entropy", surrogate=None):
        loss(net.logits(xa), yy)
        seen.append(host(xa).copy())
        return np.full(len(xa), losses(len(seen) - 1)), np.full(xa.shape, direction)

    net.input_grad = spy
    return seen


def test_the_first_two_steps_follow_the_update_rule_with_momentum():
    net = small_net(5)
    x, y = random_batch(F64, 6, 6, seed=6, k=4)
    eps = 0.1
    seen = []
    true_grad = net.input_grad

    def spy(xa, yy, loss="cross_entropy", surrogate=None):
        f, g = true_grad(xa, yy, loss=loss, surrogate=surrogate)
        seen.append((host(xa).copy(), host(g).copy()))
        return f, g

    net.input_grad = spy
    apgd(net, x, y, eps, steps=3, seed=1)
    xh = host(x)
    lo, hi = np.clip(xh - eps, 0, 1), np.clip(xh + eps, 0, 1)
    (x0, g0), (x1, g1), (x2, _) = seen[:3]
    np.testing.assert_allclose(x1, np.clip(x0 + 2 * eps * np.sign(g0), lo, hi), atol=1e-15)
    z = np.clip(x1 + 2 * eps * np.sign(g1), lo, hi)
    want = np.clip(x1 + 0.75 * (z - x1) + 0.25 * (x1 - x0), lo, hi)
    np.testing.assert_allclose(x2, want, atol=1e-15)


def test_a_loss_that_never_rises_halves_the_step_and_restarts_from_the_best_point():
    net = small_net(6)
    x, y = random_batch(F64, 5, 6, seed=8, k=4)
    x = 0.2 + 0.6 * x                   # away from the box edges: the ball is not clipped
    eps = 0.05
    seen = fake_gradient(net, lambda call: 0.0)
    apgd(net, x, y, eps, steps=30, seed=2)
    xh = host(x)
    lo, hi = xh - eps, xh + eps
    x0 = seen[0]                         # never beaten (the loss never rises): the best point
    np.testing.assert_allclose(seen[1], hi, atol=1e-15)           # 2 eps from anywhere
    w1 = apgd_checkpoints(30)[1]
    assert w1 == 6
    np.testing.assert_allclose(seen[w1], hi, atol=1e-15)          # reached the checkpoint
    # the next step starts from the best point x0 with step eps; the momentum keeps x_5 = hi
    z = np.minimum(x0 + eps, hi)
    want = np.clip(x0 + 0.75 * (z - x0) + 0.25 * (x0 - hi), lo, hi)
    np.testing.assert_allclose(seen[w1 + 1], want, atol=1e-15)


def test_empty_batch_and_the_edges_of_the_box_are_accepted():
    net = small_net(7)
    assert apgd(net, np.zeros((0, 6)), np.zeros(0, dtype=int), 0.1, steps=3).shape == (0, 6)
    x = np.array([[0.0] * 6, [1.0] * 6])
    x_adv = host(apgd(net, x, np.array([0, 1]), 0.1, steps=3, loss="dlr"))
    assert np.all((x_adv >= 0) & (x_adv <= 1)) and np.all(np.abs(x_adv - x) <= 0.1 + 1e-12)


def test_a_loss_that_rises_but_never_beats_the_best_halves_at_the_second_checkpoint():
    net = small_net(8)
    x, y = random_batch(F64, 5, 6, seed=9, k=4)
    x = 0.2 + 0.6 * x
    eps = 0.05
    # the start scores 1000 and is never beaten; every later step rises: condition (1) never
    # holds, condition (2) is off at w_1 and holds at w_2
    seen = fake_gradient(net, lambda call: 1000.0 if call == 0 else float(call))
    apgd(net, x, y, eps, steps=30, seed=3)
    xh = host(x)
    lo, hi = xh - eps, xh + eps
    w1, w2 = apgd_checkpoints(30)[1:3]
    assert (w1, w2) == (6, 11)
    x0 = seen[0]
    np.testing.assert_allclose(seen[w1 + 1], hi, atol=1e-15)      # not halved at w_1
    np.testing.assert_allclose(seen[w2], hi, atol=1e-15)
    z = np.minimum(x0 + eps, hi)
    want = np.clip(x0 + 0.75 * (z - x0) + 0.25 * (x0 - hi), lo, hi)
    np.testing.assert_allclose(seen[w2 + 1], want, atol=1e-15)    # halved, back at x0


def test_a_misclassified_iterate_is_returned_even_when_its_loss_is_not_the_best():
    net = small_net(9)
    x, y = random_batch(F64, 30, 6, seed=10, k=4)
    eps = 0.1
    seen = []
    true_grad = net.input_grad

    def spy(xa, yy, loss="cross_entropy", surrogate=None):
        _, g = true_grad(xa, yy, loss=loss, surrogate=surrogate)   # the real ascent direction
        seen.append(host(xa).copy())
        return np.full(len(xa), -float(len(seen))), g              # but the start scores best

    net.input_grad = spy
    x_adv = host(apgd(net, x, y, eps, steps=10, seed=5))
    yh = host(y)
    ever_wrong = np.any([host(net.predict(s)) != yh for s in seen], axis=0)
    assert 0 < ever_wrong.sum() < len(yh)
    np.testing.assert_array_equal(host(net.predict(x_adv)) != yh, ever_wrong)
    np.testing.assert_array_equal(x_adv[~ever_wrong], seen[0][~ever_wrong])   # the best point
