"""Bad input gets a ValueError naming the argument, the bad value and the valid range (issue 11):
the attacks' shared preparation (x in [0, 1], labels in [0, K)), their scalar settings, the
measures that take labels, training, prediction and the network's own settings."""
import math
from functools import partial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nprelu import measures
from nprelu.attacks import (apgd, bpda_pgd, cw_l2, fgsm, margin_pgd, pgd, square_linf, transfer,
                            zero_gradient_pgd)
from nprelu.attacks._common import check_int, check_real, prepare
from nprelu.network import MLP
from nprelu.train import accuracy, train

D, K, N = 16, 4, 5     # 4 x 4 images (the Square Attack needs d = h^2), 4 classes (APGD-T), 5 rows
NET = MLP([D, 8, K], [0.5], seed=0)
X = np.random.default_rng(0).random((N, D), dtype=np.float32)
Y = np.array([0, 1, 2, 0, 1])

ATTACKS = {
    "fgsm": partial(fgsm, eps=0.1),
    "pgd": partial(pgd, eps=0.1, step=0.01, steps=10),
    "bpda_pgd": partial(bpda_pgd, eps=0.1, step=0.01, steps=10),
    "margin_pgd": partial(margin_pgd, eps=0.1, step=0.01, steps=10),
    "cw_l2": cw_l2,
    "zero_gradient_pgd": zero_gradient_pgd,
    "square_linf": partial(square_linf, eps=0.1),
    "apgd": partial(apgd, eps=0.1, steps=10, restarts=2),
    "apgd_dlr": partial(apgd, eps=0.1, steps=10, loss="dlr"),
    "transfer": lambda net, x, y: transfer(net, net, x, y, partial(pgd, eps=0.1, step=0.01,
                                                                   steps=2)),
}

# Every scalar setting of every attack and what it must be:
# "nonneg" finite >= 0, "positive" finite > 0, "count" integer >= 1, "count0" integer >= 0,
# "fraction" in (0, 1], "open_unit" in (0, 1).
SETTINGS = [
    ("fgsm", "eps", "nonneg"), ("fgsm", "batch_size", "count"),
    ("pgd", "eps", "nonneg"), ("pgd", "step", "positive"), ("pgd", "steps", "count"),
    ("pgd", "seed", "count0"), ("pgd", "batch_size", "count"),
    ("bpda_pgd", "eps", "nonneg"), ("bpda_pgd", "step", "positive"), ("bpda_pgd", "steps", "count"),
    ("margin_pgd", "eps", "nonneg"), ("margin_pgd", "step", "positive"),
    ("margin_pgd", "steps", "count"), ("margin_pgd", "restarts", "count"),
    ("margin_pgd", "seed", "count0"), ("margin_pgd", "batch_size", "count"),
    ("cw_l2", "c_init", "positive"), ("cw_l2", "search_steps", "count"),
    ("cw_l2", "max_iter", "count"), ("cw_l2", "lr", "positive"), ("cw_l2", "kappa", "nonneg"),
    ("cw_l2", "shrink", "open_unit"), ("cw_l2", "batch_size", "count"),
    ("cw_l2", "random_start", "nonneg"), ("cw_l2", "restarts", "count"), ("cw_l2", "seed", "count0"),
    ("zero_gradient_pgd", "step", "positive"), ("zero_gradient_pgd", "max_steps", "count0"),
    ("zero_gradient_pgd", "eps", "nonneg"), ("zero_gradient_pgd", "batch_size", "count"),
    ("square_linf", "eps", "nonneg"), ("square_linf", "n_queries", "count"),
    ("square_linf", "p_init", "fraction"), ("square_linf", "seed", "count0"),
    ("square_linf", "batch_size", "count"),
    ("apgd", "eps", "nonneg"), ("apgd", "steps", "count"), ("apgd", "restarts", "count"),
    ("apgd", "seed", "count0"), ("apgd", "batch_size", "count"), ("apgd", "rho", "fraction"),
]

NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def _not_count(low):
    """Values that are not integers >= ``low``: too small, fractional, not finite."""
    return st.one_of(
        st.integers(max_value=low - 1),
        st.floats(allow_nan=True).filter(
            lambda v: not (math.isfinite(v) and v == int(v) and v >= low)))


BAD = {
    "nonneg": st.one_of(st.floats(max_value=0.0, exclude_max=True), NOT_FINITE),
    "positive": st.one_of(st.floats(max_value=0.0), NOT_FINITE),
    "count": _not_count(1),
    "count0": _not_count(0),
    "fraction": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True),
                          NOT_FINITE),
    "open_unit": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), NOT_FINITE),
}


def _raises(fn, *fragments):
    """``fn()`` raises ValueError, and its message holds every fragment."""
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


def _x_with(i, j, value):
    x = X.copy()
    x[i, j] = value
    return x


def _y_with(i, value):
    y = Y.astype(type(value)) if isinstance(value, float) else Y.copy()
    y[i] = value
    return y


# ---- the attacks ------------------------------------------------------------------------------
BAD_PIXEL = st.floats(width=32, allow_nan=True).filter(lambda v: not 0.0 <= v <= 1.0)


@pytest.mark.parametrize("attack", ATTACKS)
@given(i=st.integers(0, N - 1), j=st.integers(0, D - 1), value=BAD_PIXEL)
def test_every_attack_rejects_a_pixel_outside_the_unit_box(attack, i, j, value):
    _raises(lambda: ATTACKS[attack](NET, _x_with(i, j, value), Y),
            f"x[{i}, {j}] = {np.float32(value)}", "[0, 1]")


BAD_LABEL = st.one_of(
    st.integers(max_value=-1, min_value=-2 ** 62), st.integers(min_value=K, max_value=2 ** 62),
    st.floats(-10.0, 10.0).filter(lambda v: v != int(v)), NOT_FINITE,
    st.floats(min_value=K), st.floats(max_value=-1e-300))


@pytest.mark.parametrize("attack", ATTACKS)
@given(i=st.integers(0, N - 1), value=BAD_LABEL)
def test_every_attack_rejects_a_label_that_is_not_a_class(attack, i, value):
    _raises(lambda: ATTACKS[attack](NET, X, _y_with(i, value)),
            f"y[{i}] = {value!r}", f"[0, {K})")


@pytest.mark.parametrize("attack, name, kind", SETTINGS, ids=[f"{a}-{n}" for a, n, _ in SETTINGS])
@given(data=st.data())
def test_every_attack_rejects_an_out_of_range_setting(attack, name, kind, data):
    value = data.draw(BAD[kind], label=name)
    msg = _raises(lambda: ATTACKS[attack](NET, X, Y, **{name: value}), name, repr(value))
    assert msg.startswith(name)


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_attack_rejects_labels_of_the_wrong_length_and_inputs_of_the_wrong_width(attack):
    _raises(lambda: ATTACKS[attack](NET, X, Y[:3]), "y", "(5)", "3 labels")
    _raises(lambda: ATTACKS[attack](NET, X[:, :9], Y), "x", "width 9", f"(N, {D})")
    _raises(lambda: ATTACKS[attack](NET, X[0], Y[:1]), "x", f"(N, {D})")


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_attack_accepts_the_edges_of_the_box_and_an_empty_batch(attack):
    edges = X.copy()
    edges[0, :] = 0.0
    edges[1, :] = 1.0
    edges[2, :] = -0.0        # == 0: the fast bit test sends it to the exact one, which passes
    run = ATTACKS[attack]
    if attack == "cw_l2":
        run = partial(cw_l2, search_steps=1, max_iter=3)
    if attack == "square_linf":
        run = partial(square_linf, eps=0.1, n_queries=3)
    run(NET, edges, Y)
    out = run(NET, np.zeros((0, D), dtype=np.float32), np.zeros(0, dtype=np.int64))
    for field in (getattr(out, "__dataclass_fields__", None) or {"": None}):
        arr = getattr(out, field) if field else out
        assert arr.shape[0] == 0


def test_labels_as_integral_floats_are_the_same_labels():
    a = pgd(NET, X, Y, 0.1, 0.01, 3)
    b = pgd(NET, X, Y.astype(np.float64), 0.1, 0.01, 3)
    np.testing.assert_array_equal(a, b)


def test_prepare_checks_the_exact_box_on_float64_too():
    from nprelu.backend import get_backend
    net = MLP([D, 4, K], seed=0, backend=get_backend("numpy", "float64"))
    x = X.astype(np.float64)
    x[3, 1] = np.nextafter(1.0, 2.0)          # the first float above 1
    _raises(lambda: prepare(net, x, Y), "x[3, 1] = 1.0000000000000002", "[0, 1]")
    x[3, 1] = -5e-324                         # the first float below 0
    _raises(lambda: prepare(net, x, Y), "x[3, 1] = -5e-324")
    x[3, 1] = 1.0
    out, y, _ = prepare(net, x, Y)
    assert out.dtype == np.float64 and y.dtype == np.int64


def test_the_box_check_on_each_backend(backend):
    net = MLP([D, 4, K], seed=0, backend=backend)
    x = backend.asarray(X)
    prepare(net, x, Y)
    bad = x.copy()
    bad[4, 15] = np.nan
    _raises(lambda: prepare(net, bad, Y), "x[4, 15] = nan")
    bad[4, 15] = np.nextafter(np.float32(1), np.float32(2))
    _raises(lambda: prepare(net, bad, Y), "x[4, 15] = 1.0000001")
    _raises(lambda: prepare(net, x, backend.xp.asarray([0, 1, 2, K, 0])), f"y[3] = {K}")


def test_x_in_8_bit_pixels_is_refused_with_the_fix():
    _raises(lambda: pgd(NET, (X * 255).astype(np.uint8), Y, 0.1, 0.01, 1), "8-bit pixels / 255")


def test_boolean_labels_and_unknown_settings_are_refused():
    _raises(lambda: fgsm(NET, X, Y.astype(bool), 0.1), "y must hold integer class labels", "bool")
    _raises(lambda: pgd(NET, X, Y, 0.1, 0.01, True), "steps", "True")
    _raises(lambda: pgd(NET, X, Y, "0.1", 0.01, 3), "eps", "'0.1'")
    _raises(lambda: transfer(NET, NET, X, Y, attack="pgd"), "attack must be a callable")


def test_scalar_checks_return_plain_python_numbers():
    assert check_real("eps", np.float32(0.5), 0.0) == 0.5
    assert type(check_real("eps", np.float32(0.5), 0.0)) is float
    assert check_int("steps", np.int64(7)) == 7 and type(check_int("steps", 7.0)) is int
    _raises(lambda: check_real("p", 1.0, 0.0, 1.0, high_open=True), "p must be", "in [0, 1)",
            "got 1.0")


# ---- the measures that take labels ------------------------------------------------------------
MEASURES = {
    "standard_accuracy": lambda x, y: measures.standard_accuracy(NET, x, y),
    "robust_accuracy": lambda x, y: measures.robust_accuracy(NET, x, y),
    "worst_case_correct": lambda x, y: measures.worst_case_correct(NET, [X, x], y),
    "worst_case_robust_accuracy": lambda x, y: measures.worst_case_robust_accuracy(NET, x, y),
    "attack_success_rate": lambda x, y: measures.attack_success_rate(NET, X, x, y),
    "sensitivity_map": lambda x, y: measures.sensitivity_map(NET, x, y),
    "zero_gradient_fraction": lambda x, y: measures.zero_gradient_fraction(NET, x, y),
}
X_NAME = {"robust_accuracy": "x_adv", "attack_success_rate": "x_adv",
          "worst_case_correct": "x_advs", "worst_case_robust_accuracy": "x_advs"}


@pytest.mark.parametrize("measure", MEASURES)
@given(i=st.integers(0, N - 1), value=BAD_LABEL)
def test_every_measure_with_labels_rejects_a_label_that_is_not_a_class(measure, i, value):
    name = "t" if measure == "sensitivity_map" else "y"
    _raises(lambda: MEASURES[measure](X, _y_with(i, value)), f"{name}[{i}] = {value!r}",
            f"[0, {K})")


@pytest.mark.parametrize("measure", MEASURES)
@given(i=st.integers(0, N - 1), j=st.integers(0, D - 1), value=BAD_PIXEL)
def test_every_measure_with_labels_rejects_a_pixel_outside_the_unit_box(measure, i, j, value):
    name = X_NAME.get(measure, "x")
    _raises(lambda: MEASURES[measure](_x_with(i, j, value), Y),
            f"{name}[{i}, {j}] = {np.float32(value)}", "[0, 1]")


def test_measures_refuse_labels_of_the_wrong_length_and_mismatched_batches():
    for measure in MEASURES.values():
        _raises(lambda: measure(X, Y[:4]), "(5)", "4 labels")
    _raises(lambda: measures.perturbation_growth(NET, X, X[:3]), "x_adv", "(3, 16)")


# ---- training and prediction -----------------------------------------------------------------
def test_train_refuses_fewer_labels_than_inputs_instead_of_training_on_a_prefix():
    net = MLP([D, 4, K], seed=0)
    theta = net.theta.copy()
    _raises(lambda: train(net, X, Y[:3], epochs=1), "y must hold one label per input row (5)",
            "got 3")
    _raises(lambda: train(net, X[:3], Y, epochs=1), "(3)", "got 5")
    np.testing.assert_array_equal(net.theta, theta)       # nothing was trained


@pytest.mark.parametrize("label", [K, 11, -1, 2.7])
def test_train_refuses_a_label_that_is_not_a_class_before_any_step(label):
    net = MLP([D, 4, K], seed=0)
    _raises(lambda: train(net, X, _y_with(2, label), epochs=1), f"y[2] = {label!r}", f"[0, {K})")


def test_train_checks_the_test_data_and_its_settings():
    net = MLP([D, 4, K], seed=0)
    _raises(lambda: train(net, X, Y, epochs=1, x_test=X, y_test=Y[:2]), "y_test", "(5)", "got 2")
    _raises(lambda: train(net, X, Y, epochs=1, x_test=X[:, :3], y_test=Y), "x_test", "width 3")
    _raises(lambda: train(net, X, Y, epochs=1, x_test=X), "both x_test and y_test")
    _raises(lambda: train(net, X, Y, epochs=-1), "epochs", "-1")
    _raises(lambda: train(net, X, Y, batch_size=0), "batch_size", "0")
    _raises(lambda: train(net, X, Y, batch_size=2.5), "batch_size", "2.5")
    _raises(lambda: train(net, X[:0], Y[:0]), "x is empty")
    _raises(lambda: train(net, X[:, :4], Y), "x has rows of width 4", f"(N, {D})")


def test_train_takes_integral_float_labels_as_the_same_labels():
    a, b = MLP([D, 4, K], seed=0), MLP([D, 4, K], seed=0)
    train(a, X, Y, epochs=2, batch_size=2)
    train(b, X, Y.astype(np.float32), epochs=2, batch_size=2)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_predict_names_the_width_it_expects():
    _raises(lambda: NET.predict(np.zeros((2, 7), dtype=np.float32)), "width 7",
            f"takes {D} inputs")
    _raises(lambda: NET.predict(np.zeros(D, dtype=np.float32)), "shape (N, 16)", "(16,)")
    _raises(lambda: accuracy(NET, X, Y[:2]), "(5)", "got 2")
    _raises(lambda: accuracy(NET, X, [0, 1, 2, 9, 0]), "y[3] = 9")


def test_predict_on_an_empty_batch_is_an_empty_prediction():
    empty = np.zeros((0, D), dtype=np.float32)
    pred = NET.predict(empty)
    assert pred.shape == (0,) and pred.dtype.kind == "i"
    assert NET.logits(empty).shape == (0, K)
    assert math.isnan(accuracy(NET, empty, np.zeros(0, dtype=np.int64)))


def test_network_settings_name_the_problem():
    _raises(lambda: MLP([784, 100, 10], caps=0.1), "caps must be a list", "0.1", "caps=[0.1]")
    _raises(lambda: MLP([784, 2.7, 10]), "sizes[1] = 2.7", "integer >= 1")
    _raises(lambda: MLP([784, 0, 10]), "sizes[1] = 0")
    _raises(lambda: MLP([784]), ">= 2 layer widths")
    _raises(lambda: MLP(784), "sizes must list", "784")
    assert MLP([4.0, np.int64(3), 2]).sizes == [4, 3, 2]


# ---- extreme settings, budgets and memory (issue 26) -------------------------------------------
import inspect  # noqa: E402

import nprelu.attacks as attacks_module  # noqa: E402
from nprelu import checks  # noqa: E402
from nprelu.attacks import _common  # noqa: E402
from nprelu.checks import InsufficientMemoryError  # noqa: E402



def _is_attack(fn):
    """``fn`` is an attack: a function of (net, x, y, ...), or transfer's (source_net,
    target_net, x, y, attack), which gets PGD, fuzzed the same way."""
    if not inspect.isfunction(fn):
        return False
    names = list(inspect.signature(fn).parameters)
    return names[:3] == ["net", "x", "y"] or names[:4] == ["source_net", "target_net", "x", "y"]


#: Every exported attack of ``nprelu.attacks.__all__``.
EXPORTED = {name: getattr(attacks_module, name) for name in attacks_module.__all__
            if _is_attack(getattr(attacks_module, name))}
#: Small budgets, so that each call is a few passes of the tiny network.
SMALL = {"steps": 3, "max_steps": 3, "max_iter": 5, "search_steps": 2, "n_queries": 5,
         "restarts": 1}
#: A value for each required real setting that is not the one being fuzzed.
DEFAULTS = {"eps": 0.1, "step": 0.01}
EXTREME = st.one_of(
    st.sampled_from([5e-324, 1e-45, 1e-46, 1e-30, 1.0, 1e39, 3.5e38, -1e-30, -0.0, 0.0,
                     float(np.nextafter(np.float32(1), np.float32(2))), math.nan, math.inf,
                     -math.inf, -1.0]),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True))


def _params(fn):
    return inspect.signature(fn).parameters


def _call(name, **settings):
    """The exported attack ``name`` on (NET, X, Y) with small budgets and ``settings``."""
    fn = EXPORTED[name]
    if name == "transfer":
        inner = partial(pgd, **{**DEFAULTS, "steps": 2, **settings})
        return fn(NET, NET, X, Y, inner), settings.get("eps", DEFAULTS["eps"])
    kwargs = {k: v for k, v in {**DEFAULTS, **SMALL}.items() if k in _params(fn)}
    kwargs.update(settings)
    eps = kwargs.get("eps")        # None: no ball (CW-L2; zero-gradient PGD without eps)
    if name == "zero_gradient_pgd" and "eps" not in settings:
        kwargs.pop("eps", None)
        eps = None
    return fn(NET, X, Y, **kwargs), eps


def _real_setting(fn, setting):
    """``fn`` takes the real setting ``setting`` (required, or with a float default; PGD's
    ``random_start`` is a flag, CW-L2's a radius)."""
    p = _params(fn).get(setting)
    return p is not None and (p.default is p.empty or isinstance(p.default, float)
                              or (setting == "eps" and p.default is None))


FUZZED = [(name, setting) for name in EXPORTED for setting in _common.RANGES
          if _real_setting(EXPORTED[name], setting)
          or (name == "transfer" and setting in ("eps", "step"))]


def test_every_exported_attack_is_fuzzed():
    assert {name for name, _ in FUZZED} == set(EXPORTED)
    assert {"fgsm", "pgd", "bpda_pgd", "margin_pgd", "apgd", "cw_l2", "square_linf",
            "zero_gradient_pgd", "transfer"} <= set(EXPORTED)


@pytest.mark.parametrize("attack, setting", FUZZED, ids=[f"{a}-{s}" for a, s in FUZZED])
@given(value=EXTREME)
def test_an_extreme_setting_is_refused_by_name_or_gives_finite_images_in_the_ball(attack, setting,
                                                                                  value):
    try:
        out, eps = _call(attack, **{setting: value})
    except ValueError as exc:
        assert str(exc).startswith(setting), str(exc)
        low, high, _, _ = _common.RANGES[setting]
        assert not (low < value < high) or float(np.float32(value)) == low, (value, str(exc))
        return
    low, high, low_open, high_open = _common.RANGES[setting]
    assert math.isfinite(value) and low <= value <= high
    x_adv = getattr(out, "x_adv", getattr(out, "x_final", out))
    assert x_adv.shape == X.shape and np.isfinite(x_adv).all()
    assert ((x_adv >= 0) & (x_adv <= 1)).all()
    if eps is not None:
        assert (np.abs(x_adv - X) <= np.float32(eps) + 1e-6).all()


def test_settings_beyond_float32_or_the_unit_box_are_refused_by_name():
    _raises(lambda: pgd(NET, X, Y, 1e39, 0.01, 3), "eps must be", "in [0, 1]", "1e+39")
    _raises(lambda: pgd(NET, X, Y, 0.1, 1e39, 3), "step must be", "in (0, 1]", "1e+39")
    _raises(lambda: fgsm(NET, X, Y, 1.5), "eps must be", "1.5")
    _raises(lambda: apgd(NET, X, Y, math.inf, steps=3), "eps must be", "inf")
    _raises(lambda: pgd(NET, X, Y, 0.1, 1e-46, 3), "step must be", "float32", "1e-46")
    _raises(lambda: cw_l2(NET, X, Y, lr=1e39, max_iter=2), "lr must be", "(0, 10]")
    _raises(lambda: cw_l2(NET, X, Y, c_init=1e30, max_iter=2), "c_init must be", "(0, 1e+06]")
    _raises(lambda: cw_l2(NET, X, Y, kappa=1e39, max_iter=2), "kappa must be")
    _raises(lambda: cw_l2(NET, X, Y, random_start=2.0, max_iter=2), "random_start must be")
    assert np.isfinite(pgd(NET, X, Y, 1e-30, 1e-45, 3)).all()   # tiny but > 0 in float32


#: Every budget of every exported attack, and each limit.
BUDGETS = [(name, b) for name in EXPORTED for b in _common.LIMITS if b in _params(EXPORTED[name])]


def _no_forward_pass(monkeypatch):
    """Any forward pass of NET fails the test: a refusal must come before the work."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the attack started working before refusing its budget")
    monkeypatch.setattr(NET, "forward", forbidden)


@pytest.mark.parametrize("attack, budget", BUDGETS, ids=[f"{a}-{b}" for a, b in BUDGETS])
@pytest.mark.parametrize("value", [None, 10 ** 9, 10 ** 12])
def test_a_budget_above_its_limit_is_refused_by_name_before_any_work(attack, budget, value,
                                                                     monkeypatch):
    limit = _common.LIMITS[budget]
    value = limit + 1 if value is None else value
    _no_forward_pass(monkeypatch)
    msg = _raises(lambda: _call(attack, **{budget: value}), f"{limit:,}", repr(value))
    assert msg.startswith(f"{budget} must be at most")


def test_the_limits_lie_far_above_what_the_profiles_run():
    from nprelu.runner.config import PROFILES
    from nprelu.paper import SECTION8
    full = PROFILES["full"]
    assert _common.LIMITS["steps"] >= 10 * max(full.checklist_steps)
    assert _common.LIMITS["max_iter"] >= 10 * SECTION8["cw"]["max_iter"]
    assert _common.LIMITS["search_steps"] >= 3 * SECTION8["cw"]["search_steps"]
    assert _common.LIMITS["n_queries"] >= 10 * max(full.adaptive_queries, full.fig12_queries)
    assert _common.LIMITS["max_steps"] >= 10 * full.zero_max_steps
    # c grows 10x per search step until bounded: the largest c must stay finite in float32
    c_max = _common.RANGES["c_init"][1] * 10.0 ** _common.LIMITS["search_steps"]
    assert c_max < float(np.finfo(np.float32).max)


def test_an_attack_that_cannot_fit_in_memory_is_refused_by_name_before_any_work(monkeypatch):
    monkeypatch.setattr(_common, "SMALL_BYTES", 0)
    monkeypatch.setattr(checks, "available_memory", lambda: 1000)
    _no_forward_pass(monkeypatch)
    for run in (lambda: apgd(NET, X, Y, 0.1, steps=3, restarts=2),
                lambda: pgd(NET, X, Y, 0.1, 0.01, 3), lambda: cw_l2(NET, X, Y, max_iter=2),
                lambda: square_linf(NET, X, Y, 0.1, n_queries=2)):
        with pytest.raises(InsufficientMemoryError, match="only 1000 B is available"):
            run()


def test_the_memory_check_weighs_the_estimate_against_the_free_memory():
    free = checks.available_memory()
    assert free > 0
    checks.check_memory("a small thing", 1024)
    with pytest.raises(InsufficientMemoryError, match=r"^a huge thing needs about 7\.28 TiB"):
        checks.check_memory("a huge thing", 8 * 10 ** 12)      # apgd's ask of issue 26
    with pytest.raises(InsufficientMemoryError, match=r"needs about 20,480 TiB of memory"):
        checks.check_memory("more", 20 * 2 ** 50)
    assert issubclass(InsufficientMemoryError, MemoryError)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_predict_refuses_non_finite_inputs_instead_of_labelling_them_class_0(bad):
    _raises(lambda: NET.predict(_x_with(1, 2, bad)), "x must be finite", "1 entry",
            f"x[1, 2] = {bad}")
    x = X.copy()
    x[3:, :] = bad
    _raises(lambda: NET.predict(x), f"{2 * D} entries", f"x[3, 0] = {bad}")
    assert NET.predict(X).shape == (N,)            # finite rows are still labelled
