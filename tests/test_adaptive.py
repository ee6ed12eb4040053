"""Adaptive attacks (issue 5): BPDA against the true gradient, the margin loss against finite
differences and hand-made logits, Square Attack's constraints and its closed-form answer on a
linear model, the worst case over attacks, and the Carlini et al. checklist on a masked network
and on a linear one."""
import pathlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nprelu.attacks.margin as margin_module
from nprelu.attacks import (SURROGATES, bpda_pgd, input_grad_fn, margin_loss, margin_pgd, pgd,
                            square_linf, transfer, zero_gradient_pgd)
from nprelu.attacks.square import image_side, square_fraction, square_side
from nprelu.checklist import (Check, check_eps_growth, check_not_stronger, check_steps,
                              check_zero_gradients, format_checklist, run_checklist)
from nprelu.gradcheck import kink_free_network, numerical_grad, rel_error
from nprelu.losses import cross_entropy_per_sample, logit_sum
from nprelu.measures import robust_accuracy, worst_case_correct, worst_case_robust_accuracy
from nprelu.network import MLP

from attack_helpers import F64, host, random_batch, saturated_net

FIXTURE_OK = settings(deadline=None, max_examples=15,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])



def masked_net(be=F64):
    """Pixels in [0.3, 0.5] saturate the cap (0.1) of an identity hidden layer: zero gradient on
    the data, yet pushing pixel 0 below 0.05 (eps >= 0.45) flips class 0 to class 1.

    Logits: Z_0 = 10 a_0, Z_1 = 0.5 with a = clip(x, 0, 0.1); images are 2 x 2 (d = 4).
    """
    net = MLP([4, 4, 2], [0.1], backend=be)
    net.W[0][...] = np.eye(4)
    net.W[1][...] = 0.0
    net.W[1][0, 0] = 10.0
    net.b[1][...] = [0.0, 0.5]
    return net


def centered_linear(d, seed, be=F64):
    """A two-class linear model whose boundary passes through the centre of [0, 1]^d."""
    net = MLP([d, 2], [], seed=seed, backend=be)
    w = net.W[0][:, 0] - net.W[0][:, 1]
    net.b[0][...] = [-0.5 * w.sum(), 0.0]
    return net


# ---- BPDA ------------------------------------------------------------------------------------
@pytest.mark.parametrize("surrogate", ["relu", "identity"])
@pytest.mark.parametrize("random_start", [False, True])
def test_bpda_pgd_is_plain_pgd_on_an_uncapped_network(backend, surrogate, random_start):
    net = MLP([8, 6, 5, 3], [None, None], seed=3, backend=backend)
    x, y = random_batch(backend, 12, 8, 3)
    kw = dict(eps=0.1, step=0.02, steps=5, random_start=random_start, seed=5)
    np.testing.assert_array_equal(host(bpda_pgd(net, x, y, surrogate=surrogate, **kw)),
                                  host(pgd(net, x, y, **kw)))


@pytest.mark.parametrize("loss", ["cross_entropy", "margin"])
@pytest.mark.parametrize("surrogate", ["relu", "identity"])
def test_surrogate_gradient_without_caps_is_exactly_the_true_gradient(backend, surrogate, loss):
    """On an uncapped network every layer keeps 1[z > 0]: the BPDA path is the true one, bit for
    bit, for the loss values and the input gradients."""
    net = MLP([7, 6, 5, 3], [None, None], seed=2, backend=backend)
    x, y = random_batch(backend, 9, 7, 2)
    loss_s, g_s = net.input_grad(x, y, loss=loss, surrogate=surrogate)
    loss_t, g_t = net.input_grad(x, y, loss=loss)
    np.testing.assert_array_equal(host(g_s), host(g_t))
    np.testing.assert_array_equal(host(loss_s), host(loss_t))
    assert (host(g_t) != 0).any()


def test_bpda_gradient_flows_where_the_saturated_cap_stops_the_true_one():
    net = saturated_net(d=4)
    x, y = random_batch(F64, 6, 4, 4)
    assert not net.input_grad(x, y)[1].any()                 # true gradient: exactly zero
    logits, _ = net.forward(x)
    _, dlogits = cross_entropy_per_sample(logits, y)
    # every unit is on (a = beta > 0), so both surrogates are the all-ones mask: the gradient of
    # the affine map from x to the logits, dlogits W_1^T W_0^T
    expected = dlogits @ net.W[1].T @ net.W[0].T
    for surrogate in ("relu", "identity"):
        g = net.input_grad(x, y, surrogate=surrogate)[1]
        assert (g != 0).any(axis=1).all()
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(input_grad_fn(surrogate=surrogate)(net, x, y), g)


def test_bpda_surrogates_replace_only_the_capped_layers_mask():
    """A hand-computed backward pass: capped HL1 (beta 0.2) with units below 0, on the slope and
    above the cap; uncapped HL2 keeps 1[z > 0] under every surrogate."""
    net = MLP([4, 3, 3, 2], [0.2, None], backend=F64)
    net.W[0][...] = np.eye(4)[:, :3]
    net.W[1][...] = np.eye(3)
    net.b[1][...] = [-0.05, 0.0, 0.0]
    net.W[2][...] = np.random.default_rng(0).normal(size=(3, 2))
    x = np.array([[-0.1, 0.1, 0.5, 0.0]])  # z_1 = (-0.1, 0.1, 0.5): below 0, slope, above cap
    # a_1 = (0, 0.1, 0.2), z_2 = (-0.05, 0.1, 0.2): HL2's mask (0, 1, 1)
    w = np.array([[1.0, -2.0]])           # the loss Z_0 - 2 Z_1
    da2 = w @ net.W[2].T
    da1 = (da2 * [0, 1, 1]) @ net.W[1].T
    masks = {None: [0, 1, 0], "relu": [0, 1, 1], "identity": [1, 1, 1]}
    for surrogate, mask in masks.items():
        _, dx = net.input_grad(x, None, loss=logit_sum(w), surrogate=surrogate)
        np.testing.assert_array_equal(dx, (da1 * mask) @ net.W[0].T)
    with pytest.raises(ValueError, match="unknown surrogate"):
        net.input_grad(x, None, loss=logit_sum(w), surrogate="sigmoid")
    with pytest.raises(ValueError, match="unknown surrogate"):
        input_grad_fn(surrogate="sigmoid")
    with pytest.raises(ValueError, match="unknown loss"):
        input_grad_fn(loss="hinge")
    with pytest.raises(ValueError, match="unknown loss"):
        net.input_grad(x, np.array([0]), loss="hinge")
    with pytest.raises(ValueError, match="unknown surrogate"):
        bpda_pgd(net, x, np.array([0]), eps=0.1, step=0.1, steps=1, surrogate=None)
    assert SURROGATES == ("relu", "identity")


def test_zero_gradient_pgd_with_the_bpda_gradient_never_stops_on_a_saturated_cap():
    net = saturated_net(d=4)
    x, y = random_batch(F64, 5, 4, 4)
    assert zero_gradient_pgd(net, x, y, max_steps=3).found.all()
    bpda = zero_gradient_pgd(net, x, y, max_steps=3, grad_fn=input_grad_fn(surrogate="relu"))
    assert not bpda.found.any()


def test_bpda_pgd_breaks_the_masked_network_that_pgd_cannot_move():
    net = masked_net()
    rng = np.random.default_rng(0)
    x = rng.uniform(0.3, 0.5, size=(10, 4))
    y = np.zeros(10, dtype=int)
    kw = dict(eps=0.5, step=0.05, steps=20)
    np.testing.assert_array_equal(pgd(net, x, y, **kw), x)   # zero gradient: PGD never moves
    assert robust_accuracy(net, bpda_pgd(net, x, y, **kw), y) == 0.0


# ---- margin loss -----------------------------------------------------------------------------
def test_margin_takes_the_other_class_maximum_with_negative_logits():
    logits = np.array([[-5.0, -1.0, -3.0], [-2.0, -7.0, -4.0]])
    m, g = margin_loss(logits, np.array([1, 1]))
    # row 0: max other = -3 (zeroing the true class would wrongly give 0); row 1: -2 - (-7)
    np.testing.assert_array_equal(m, [-2.0, 5.0])
    np.testing.assert_array_equal(g, [[0, -1, 1], [1, -1, 0]])


@pytest.mark.parametrize("caps", [[None, None], [0.6, None], [0.5, 0.4]])
def test_margin_gradient_matches_finite_differences(caps):
    for seed in range(50):  # redraw until the two largest other-class logits are well apart
        net, x = kink_free_network([6, 5, 4, 4], caps, n=4, seed=seed)
        y = np.random.default_rng(seed).integers(0, 4, size=4)
        others = np.where(np.eye(4, dtype=bool)[y], -np.inf, net.logits(x))
        top2 = np.sort(others, axis=1)[:, -2:]
        if (top2[:, 1] - top2[:, 0]).min() > 1e-3:
            break
    else:
        pytest.fail("no point away from ties in the max")
    num = numerical_grad(lambda xx: margin_loss(net.logits(xx), y)[0].sum(), x.copy())
    loss, dx = net.input_grad(x, y, loss="margin")
    assert rel_error(dx, num) < 1e-6
    np.testing.assert_array_equal(loss, margin_loss(net.logits(x), y)[0])


def test_margin_pgd_keeps_the_worst_case_restart_per_sample(monkeypatch):
    net = MLP([2, 2], [], backend=F64)
    net.W[0][...] = np.eye(2)                 # logits = x; y = 0, so the margin is x_1 - x_0
    x = np.full((3, 2), 0.5)
    y = np.zeros(3, dtype=int)
    candidates = iter([
        np.array([[0.6, 0.4], [0.7, 0.2], [0.4, 0.5]]),   # margins -0.2, -0.5, +0.1 (wrong)
        np.array([[0.4, 0.5], [0.7, 0.6], [0.3, 0.6]]),   # margins +0.1 (wrong), -0.1, +0.3 (wrong)
        np.array([[0.5, 0.3], [0.7, 0.3], [0.2, 0.7]]),   # margins -0.2, -0.4, +0.5 (wrong)
    ])
    monkeypatch.setattr(margin_module, "_pgd", lambda *a, **k: next(candidates).copy())
    out = margin_pgd(net, x, y, eps=0.3, step=0.1, steps=1, restarts=3)
    # a wrong restart beats right ones; among right ones, and among wrong ones, the larger margin
    np.testing.assert_array_equal(out, [[0.4, 0.5], [0.7, 0.6], [0.2, 0.7]])


def test_margin_pgd_stays_in_the_ball_and_repeats_with_its_seed():
    net = MLP([9, 6, 3], [0.3], seed=6)
    x, y = random_batch(net.backend, 10, 9, 6)
    kw = dict(eps=0.1, step=0.03, steps=4, restarts=3, seed=11)
    a = margin_pgd(net, x, y, **kw)
    assert a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0
    assert np.abs(a - x).max() <= 0.1 + 2.0 ** -23
    np.testing.assert_array_equal(a, margin_pgd(net, x, y, **kw))
    assert not np.array_equal(a, margin_pgd(net, x, y, **{**kw, "seed": 12}))


# ---- Square Attack ---------------------------------------------------------------------------
def test_square_schedule_halves_p_at_the_authors_breakpoints_rescaled_to_the_budget():
    p = 0.4
    assert [square_fraction(p, i, 10000) for i in (0, 10, 11, 50, 51, 8000, 8001, 9999)] == \
        [p, p, p / 2, p / 2, p / 4, p / 256, p / 512, p / 512]
    assert [square_fraction(p, i, 1000) for i in (1, 2, 5, 6)] == [p, p / 2, p / 2, p / 4]
    assert [square_side(p, 784) for p in (0.05, 1.0, 1e-9)] == [6, 27, 1]
    assert image_side(784) == 28
    with pytest.raises(ValueError):
        image_side(10)


@FIXTURE_OK
@given(seed=st.integers(0, 10_000), side=st.integers(2, 5),
       hidden=st.lists(st.integers(2, 6), min_size=0, max_size=2),
       cap=st.sampled_from([None, 0.1, 0.5]), eps=st.floats(0.001, 0.6),
       n_queries=st.integers(1, 40), p_init=st.sampled_from([0.05, 0.3, 0.8]))
def test_square_stays_in_the_ball_and_box_within_its_budget_and_repeats(
        backend, seed, side, hidden, cap, eps, n_queries, p_init):
    d = side * side
    net = MLP([d, *hidden, 3], [cap] * len(hidden), seed=seed, backend=backend)
    x, y = random_batch(backend, 12, d, seed)
    x[0, :2] = 0.0
    x[1, :2] = 1.0
    r = square_linf(net, x, y, eps, n_queries=n_queries, p_init=p_init, seed=seed, batch_size=5)
    a, x0, q = host(r.x_adv), host(x), host(r.queries)
    assert a.dtype == np.float32 and a.shape == x0.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.abs(a - x0).max() <= eps + 2.0 ** -23
    assert q.min() >= 0 and q.max() <= n_queries
    wrong_clean = host(net.predict(x) != y)
    np.testing.assert_array_equal(q == 0, wrong_clean)
    np.testing.assert_array_equal(a[wrong_clean], x0[wrong_clean])
    np.testing.assert_array_equal(host(r.success), host(net.predict(r.x_adv) != y))
    assert (q[~host(r.success)] == n_queries).all()   # a sample left unbroken spent the budget
    again = square_linf(net, x, y, eps, n_queries=n_queries, p_init=p_init, seed=seed)
    np.testing.assert_array_equal(host(again.x_adv), a)
    np.testing.assert_array_equal(host(again.queries), q)


@pytest.mark.parametrize("seed", range(4))
def test_square_breaks_a_linear_model_exactly_where_the_closed_form_distance_is_below_eps(seed):
    d, eps = 16, 0.03
    net = centered_linear(d, seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 0.7, size=(150, d))    # eps = 0.03: the box never binds
    z = x @ net.W[0] + net.b[0]
    y = z.argmax(axis=1)
    w = net.W[0][:, 0] - net.W[0][:, 1]
    # closed form: the smallest L-inf perturbation reaching the boundary |w . x + b| / ||w||_1
    dist = np.abs(z[:, 0] - z[:, 1]) / np.abs(w).sum()
    assert (dist < 0.9 * eps).sum() > 20 and (dist > eps).sum() > 20
    r = square_linf(net, x, y, eps, n_queries=300, p_init=0.1, seed=seed)
    assert r.success[dist < 0.9 * eps].all()
    assert not r.success[dist > eps].any()
    other = square_linf(net, x, y, eps, n_queries=300, p_init=0.1, seed=seed + 100)
    assert not np.array_equal(other.x_adv, r.x_adv)


def test_square_breaks_the_masked_network_without_a_gradient():
    net = masked_net()
    x = np.random.default_rng(1).uniform(0.3, 0.5, size=(10, 4))
    r = square_linf(net, x, np.zeros(10, dtype=int), eps=0.5, n_queries=50, seed=0)
    assert r.success.all() and r.queries.max() < 50


# ---- worst case and transfer -----------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 10_000), n_attacks=st.integers(1, 4))
def test_worst_case_is_never_above_any_single_attack(seed, n_attacks):
    net = MLP([6, 5, 3], [0.4], seed=seed, backend=F64)
    x, y = random_batch(F64, 30, 6, seed)
    rng = np.random.default_rng(seed)
    advs = [np.clip(x + rng.uniform(-0.3, 0.3, size=x.shape), 0, 1) for _ in range(n_attacks)]
    worst = worst_case_robust_accuracy(net, advs, y)
    assert all(worst <= robust_accuracy(net, a, y) for a in advs)
    correct = np.all([net.predict(a) == y for a in advs], axis=0)
    np.testing.assert_array_equal(worst_case_correct(net, advs, y), correct)
    assert worst == pytest.approx(correct.mean())
    assert worst_case_robust_accuracy(net, advs[0], y) == robust_accuracy(net, advs[0], y)


def test_transfer_crafts_on_the_uncapped_twin_and_returns_a_batch_for_the_target():
    net = saturated_net(d=4)
    twin = net.with_caps([None])
    x, y = random_batch(F64, 5, 4, 8)
    attack = lambda n, xb, yb: pgd(n, xb, yb, eps=0.1, step=0.05, steps=3)  # noqa: E731
    np.testing.assert_array_equal(transfer(twin, net, x, y, attack), attack(twin, x, y))
    with pytest.raises(ValueError):
        transfer(MLP([5, 3]), net, x, y, attack)


def test_the_adaptive_suite_gives_each_attack_run_alone_with_the_units_seed():
    from nprelu.attacks import fgsm
    from nprelu.attacks.registry import P_INIT
    from nprelu.backend import get_backend
    from nprelu.evaluation import correct_mask, evaluate
    from nprelu.experiments.adaptive import EPS, FGSM, MARGIN_PGD, PGD, suite
    be = get_backend("numpy")
    net = MLP([16, 8, 3], [0.1], seed=0, backend=be)      # 4 x 4 images, for Square
    source = net.with_caps([None])
    x, y = random_batch(be, 10, 16, 3)
    ev = evaluate(net, x, y, EPS, suite(30), seed=7, sources={"uncapped": source},
                  cascade=False)
    alone = {"pgd": pgd(net, x, y, seed=7, **PGD), "fgsm": fgsm(net, x, y, **FGSM),
             **{f"bpda_{s}": bpda_pgd(net, x, y, surrogate=s, seed=7, **PGD) for s in SURROGATES},
             "transfer": pgd(source, x, y, seed=7, **PGD),
             "square": square_linf(net, x, y, EPS, n_queries=30, p_init=P_INIT, seed=7).x_adv,
             "margin_pgd": margin_pgd(net, x, y, seed=7, **MARGIN_PGD)}
    assert list(ev.outcomes) == list(alone)
    for name, adv in alone.items():
        np.testing.assert_array_equal(ev.outcomes[name] == 1, correct_mask(net, adv, y), name)
    # Square returns a misclassified image unchanged, so the AND over the attacks is the worst case
    np.testing.assert_array_equal(ev.worst, np.all(list(ev.outcomes.values()), axis=0))
    uncapped = evaluate(source, x, y, EPS, suite(30), seed=7, sources={"uncapped": source})
    assert not any(name.startswith("bpda_") for name in uncapped.outcomes)


# ---- checklist -------------------------------------------------------------------------------
CHEAP = dict(steps=(2, 5, 20), eps_list=(0.1, 0.3, 1.0), eps_steps=20, n_queries=60,
             bpda_steps=20)


def test_checks_allow_one_sample_of_slack_and_no_more():
    assert check_steps([10, 100], [0.50, 0.51], n=100).passed
    bad = check_steps([10, 100, 1000], [0.50, 0.40, 0.42], n=100)
    assert not bad.passed and "1000 steps" in bad.warning and "100" in bad.warning
    assert check_not_stronger("c", "Square", 0.49, 0.50, n=100).passed
    assert not check_not_stronger("c", "Square", 0.48, 0.50, n=100).passed
    assert check_eps_growth([0.1, 1.0], [0.3, 0.0], n=10).passed
    assert not check_eps_growth([0.1, 1.0], [0.3, 0.1], n=10).passed          # never 0
    assert not check_eps_growth([0.1, 0.2, 1.0], [0.1, 0.3, 0.0], n=10).passed  # rises with eps
    assert check_zero_gradients(0.01).passed and not check_zero_gradients(0.02).passed
    lines = format_checklist([Check("a", True), Check("b", False, "why")])
    assert lines == ["PASS a", "WARN b: why"]


def test_checklist_passes_a_plain_linear_model():
    net = centered_linear(16, 3)
    x, _ = random_batch(F64, 40, 16, 3)
    y = net.predict(x)
    records = run_checklist(net, x, y, eps=0.05, **CHEAP)
    assert [r.name for r in records] == ["pgd_more_steps", "eps_growth", "single_vs_iterative",
                                         "black_vs_white", "zero_gradients"]
    assert all(r.passed for r in records), format_checklist(records)
    assert format_checklist(records) == [f"PASS {r.name}" for r in records]


def test_checklist_flags_the_network_that_masks_its_gradient():
    net = masked_net()
    x = np.random.default_rng(2).uniform(0.3, 0.5, size=(20, 4))
    y = np.zeros(20, dtype=int)
    records = {r.name: r for r in run_checklist(net, x, y, eps=0.5, **CHEAP)}
    flagged = {name for name, r in records.items() if not r.passed}
    assert flagged == {"eps_growth", "black_vs_white", "bpda_vs_white", "zero_gradients"}
    assert records["zero_gradients"].numbers["zero_gradient_fraction"] == 1.0
    assert all(r.warning for name, r in records.items() if name in flagged)


def test_checklist_flags_a_network_whose_gradient_is_zero_everywhere():
    net = saturated_net(d=4)
    x, _ = random_batch(F64, 20, 4, 9)
    y = net.predict(x)
    flagged = {r.name for r in run_checklist(net, x, y, eps=0.1, **CHEAP) if not r.passed}
    assert {"eps_growth", "zero_gradients"} <= flagged


def test_checklist_module_takes_xp_from_the_backend_only():
    path = pathlib.Path(__file__).resolve().parents[1] / "nprelu" / "checklist.py"
    text = path.read_text()
    assert not re.search(r"^\s*(import|from)\s+(numpy|cupy)\b", text, re.M)
    assert "print(" not in text
