"""APGD-T (nprelu.attacks.apgd_t): targets, the targeted run on closed-form linear models, the
per-image first success, its budget, its checks and its registry entries."""
import numpy as np
import pytest

from attack_helpers import F64, counting, host, random_batch
from nprelu.attacks import apgd, apgd_t
from nprelu.attacks.apgd_t import N_TARGETS, target_classes
from nprelu.attacks.registry import REGISTRY, common_to_twins
from nprelu.evaluation import STANDARD_BUDGET, budget_words, curve_attacks, standard_attacks
from nprelu.network import MLP

T_NAMES = ("apgd_t", "apgd_t_relu", "apgd_t_identity", "apgd_t_softplus")


def linear(w, b):
    """Z = x W + b: a network without hidden layers, in float64."""
    net = MLP([w.shape[0], w.shape[1]], [], seed=0, backend=F64)
    net.W[0][...] = w
    net.b[0][...] = b
    return net


def test_targets_are_the_other_classes_by_descending_clean_logit():
    logits = np.array([[3.0, 5.0, 1.0, 4.0, 2.0], [0.0, 0.0, 9.0, 0.0, -1.0]])
    y = np.array([1, 2])
    np.testing.assert_array_equal(target_classes(logits, y, 9), [[3, 0, 4, 2], [0, 1, 3, 4]])
    np.testing.assert_array_equal(target_classes(logits, y, 2), [[3, 0], [0, 1]])


@pytest.mark.parametrize("target", [1, 2, 3])
def test_the_targeted_run_ends_at_the_corner_toward_the_class_it_aims_at(target):
    # Z_0 = 10 x_0, Z_t = 10 x_t, the two other classes constant far below: the targeted DLR
    # loss (Z_t - Z_0) / (Z_pi1 - (Z_pi3 + Z_pi4) / 2) rises with x_t and falls with x_0 in the
    # whole ball (Z_0 stays above the constants), so the run ends at x + eps (e_t - e_0) and
    # on class t; the other pixels, without gradient, keep their random start.
    w = np.zeros((4, 4))
    w[0, 0], w[target, target] = 10.0, 10.0
    b = np.where(np.isin(np.arange(4), [0, target]), 0.0, -20.0)
    net = linear(w, b)
    x = np.array([[0.7, 0.5, 0.5, 0.5]])
    adv = host(apgd(net, x, np.array([0]), 0.15, steps=20, loss="dlr_targeted",
                    target=np.array([target])))
    assert host(net.predict(adv))[0] == target
    assert adv[0, 0] == pytest.approx(0.55) and adv[0, target] == pytest.approx(0.65)
    assert np.abs(adv - x).max() <= 0.15 + 1e-12


def trap(c=10.0, d=16):
    """Class 0 leads; class 1 is close in logit but out of reach within eps 0.1, class 2 far
    but within reach, along the opposite direction, class 3 hopeless: with s = sum_j (x_j - 0.5),
    Z_0 = 0, Z_1 = c (s / 4 - 1), Z_2 = c (-2.5 s - 3.9), Z_3 = -1000. At the lower corner
    (s = -1.6) Z_2 = c 0.1 > 0; class 1 never gets above -0.6 c. The cross-entropy's gradient
    favours class 1 (p_1 / 4 > 2.5 p_2) wherever s > -0.97, so from every start in the ball
    APGD-CE climbs toward class 1 and stays; APGD-DLR's numerator aims at class 1 too."""
    w = np.zeros((d, 4))
    w[:, 1], w[:, 2] = c / 4, -2.5 * c
    b = np.array([0.0, c * (-d / 8 - 1), c * (1.25 * d - 3.9), -1000.0])
    return linear(w, b), np.full((3, d), 0.5), np.zeros(3, dtype=int)


def test_apgd_t_breaks_images_that_untargeted_apgd_ce_and_dlr_leave():
    net, x, y = trap()
    eps = 0.1
    for loss in ("ce", "dlr"):
        adv = apgd(net, x, y, eps, steps=20, loss=loss, restarts=3, seed=1)
        assert (host(net.predict(adv)) == 0).all(), loss
    np.testing.assert_array_equal(target_classes(net.logits(x), y, 9), [[1, 2, 3]] * 3)
    adv = apgd_t(net, x, y, eps, steps=20, seed=1)
    assert (host(net.predict(adv)) == 2).all()          # reached through its second target
    assert np.abs(host(adv) - x).max() <= eps + 1e-12


def test_an_image_stops_costing_gradients_once_broken_and_the_budget_bounds_the_rest():
    net, x, y = trap()
    log = []
    apgd_t(counting(net, log), x, y, 0.1, steps=4, restarts=2)
    # three images, each run on targets 1 and 2 (broken there), never on target 3
    assert log == [3] * (2 * 2 * (4 + 1))
    net4 = MLP([9, 6, 4], [0.5], seed=2, backend=F64)
    xs, ys = random_batch(F64, 10, 9, seed=3, k=4)
    correct = int((host(net4.predict(xs)) == host(ys)).sum())
    log = []
    out = apgd_t(counting(net4, log), xs, ys, 0.0, steps=3, restarts=1)   # eps 0: none breaks
    assert sum(log) == correct * 3 * (3 + 1)      # 3 targets of 4 classes, every correct image
    np.testing.assert_array_equal(host(out), host(xs))


def test_images_misclassified_clean_are_returned_unchanged_and_the_rest_stay_in_the_ball():
    net = MLP([9, 6, 10], [0.3], seed=4, backend=F64)
    x, y = random_batch(F64, 40, 9, seed=5, k=10)
    eps = 0.07
    adv = host(apgd_t(net, x, y, eps, steps=5, seed=2))
    xh, wrong = host(x), host(net.predict(x)) != host(y)
    assert wrong.any() and (~wrong).any()
    np.testing.assert_array_equal(adv[wrong], xh[wrong])
    assert np.all(np.abs(adv - xh) <= eps + 1e-12) and np.all((adv >= 0) & (adv <= 1))
    again = host(apgd_t(net, x, y, eps, steps=5, seed=2))
    np.testing.assert_array_equal(adv, again)
    broken = host(net.predict(adv)) != host(y)
    untargeted = host(net.predict(apgd(net, x, y, eps, steps=5, seed=2))) != host(y)
    assert broken.sum() >= untargeted.sum() - 1     # nine targeted runs, not weaker in bulk


def test_a_surrogate_on_an_uncapped_network_is_the_true_gradient():
    net = MLP([9, 6, 5], [None], seed=6, backend=F64)
    x, y = random_batch(F64, 12, 9, seed=7, k=5)
    np.testing.assert_array_equal(host(apgd_t(net, x, y, 0.1, steps=4, seed=3)),
                                  host(apgd_t(net, x, y, 0.1, steps=4, seed=3,
                                              surrogate="relu")))


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "eps"), (dict(steps=0), "steps"), (dict(restarts=0), "restarts"),
    (dict(n_targets=0), "n_targets"), (dict(rho=0.0), "rho"), (dict(seed=-1), "seed"),
    (dict(batch_size=0), "batch_size"), (dict(surrogate="bogus"), "surrogate")])
def test_bad_settings_raise_a_value_error_naming_them(kwargs, match):
    net = MLP([9, 6, 4], [0.5], seed=0, backend=F64)
    x, y = random_batch(F64, 3, 9, seed=0, k=4)
    with pytest.raises(ValueError, match=match):
        apgd_t(net, x, y, **{"eps": 0.1, "steps": 2, **kwargs})


def test_fewer_than_four_classes_and_bad_targets_are_refused():
    net3 = MLP([9, 6, 3], [0.5], seed=0, backend=F64)
    x, y = random_batch(F64, 3, 9, seed=0, k=3)
    with pytest.raises(ValueError, match="at least 4 classes"):
        apgd_t(net3, x, y, 0.1, steps=2)
    net = MLP([9, 6, 4], [0.5], seed=0, backend=F64)
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="target must differ"):
        apgd(net, x, y, 0.1, steps=2, loss="dlr_targeted", target=np.array([1, 1, 3]))
    with pytest.raises(ValueError, match="target"):
        apgd(net, x, y, 0.1, steps=2, loss="dlr_targeted", target=np.array([1, 4, 3]))
    with pytest.raises(ValueError, match="needs a target"):
        apgd(net, x, y, 0.1, steps=2, loss="dlr_targeted")
    with pytest.raises(ValueError, match="target is for"):
        apgd(net, x, y, 0.1, steps=2, loss="ce", target=np.array([1, 2, 3]))


def test_the_registry_runs_apgd_t_with_every_gradient_in_the_standard_suite_and_the_curves():
    assert standard_attacks()[-4:] == T_NAMES and "apgd_t" in curve_attacks()
    assert not set(T_NAMES[1:]) & set(curve_attacks())      # the surrogates: not in the curves
    for name, grad in zip(T_NAMES, ("true", "relu", "identity", "softplus")):
        a = REGISTRY[name]
        assert a.targeted and a.gradient == grad and a.loss == "dlr_targeted" and a.standard
        assert a.grads({"restarts": 3, "steps": 100}) == N_TARGETS * 3 * 101
    assert common_to_twins() == ("apgd_ce", "apgd_dlr", "margin_pgd", "square",
                                 "transfer_uncapped", "apgd_t")
    words = budget_words(STANDARD_BUDGET)
    assert words["apgd"].startswith("8 runs") and words["apgd_t"].startswith("4 runs")


# ---- Square in the suite, as the Square Attack paper and AutoAttack run it (L-infinity) --------

def test_the_suite_runs_square_from_p_init_0_8_for_every_network(monkeypatch):
    from nprelu.attacks import registry
    seen = []

    def fake(net, x, y, eps, n_queries, p_init, seed, index=None):
        seen.append(p_init)
        return type("R", (), {"x_adv": x})()
    monkeypatch.setattr(registry, "square_linf", fake)
    x, y = random_batch(F64, 2, 16, seed=0, k=4)
    for caps in ([None], [0.1], [0.01]):
        REGISTRY["square"].run(MLP([16, 8, 4], caps, seed=0, backend=F64), x, y, 0.1, seed=0,
                               square_queries=10)
    assert seen == [0.8] * 3


@pytest.mark.parametrize("n_queries", [10000, 5000, 1000])
def test_the_square_fraction_halves_at_the_papers_iterations_rescaled_to_the_budget(n_queries):
    from nprelu.attacks.square import square_fraction
    # The paper: p halves at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000;
    # at budget N iteration i sits at 10000 i / N (rounded down) on that scale.
    paper = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
    halvings = [next(i for i in range(n_queries) if 10000 * i // n_queries > b) for b in paper]
    p = [square_fraction(0.8, i, n_queries) for i in range(n_queries - 1)]
    changes = [i for i in range(1, len(p)) if p[i] != p[i - 1]]
    assert changes == halvings
    assert all(p[i] == p[i - 1] / 2 for i in changes) and p[0] == 0.8 and p[-1] == 0.8 / 512
    if n_queries == 5000:
        assert halvings == [6, 26, 101, 251, 501, 1001, 2001, 3001, 4001]


def test_square_starts_from_vertical_stripes_and_its_first_square_is_25_pixels_wide():
    from nprelu.attacks import square_linf
    from nprelu.attacks.square import square_side
    assert [square_side(0.8 / 2 ** k, 784) for k in range(10)] == [25, 18, 13, 9, 6, 4, 3, 2, 2, 1]
    net = MLP([784, 8, 10], [None], seed=0, backend=F64)
    x = np.full((4, 784), 0.5)
    y = np.array([int(host(net.predict(x))[0])] * 4)
    r = square_linf(net, x, y, 0.1, n_queries=1, p_init=0.8, seed=3)
    s = (host(r.x_adv) - x).reshape(4, 28, 28) / 0.1
    assert np.allclose(np.abs(s), 1.0)
    assert (s == s[:, :1, :]).all()               # each column one sign: vertical stripes
    assert len({tuple(np.sign(row[0])) for row in s}) > 1    # drawn per image
