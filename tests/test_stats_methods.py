"""The bounded intervals, the tests and the verdict rule of nprelu.stats, against hand-computed
values and (where SciPy is installed, a test-only dependency) against SciPy."""
import math

import pytest
from hypothesis import given, strategies as st

from nprelu import stats
from nprelu.stats import (beta_ppf, betainc, clopper_pearson, cmh_paired, decide,
                          family_verdicts, holm, paired_test, positive_interval,
                          prediction_interval, proportion_interval, t_ppf, t_sf2)

try:
    from scipy import special as sp_special, stats as sp_stats
except ImportError:                       # SciPy is for these checks only, not a dependency
    sp_special = sp_stats = None
needs_scipy = pytest.mark.skipif(sp_stats is None, reason="SciPy not installed")


@needs_scipy
@pytest.mark.parametrize("a, b", [(0.5, 0.5), (1.0, 3.0), (5.0, 596.0), (2500.0, 7500.0),
                                  (9991.0, 10.0), (0.3, 40.0)])
def test_incomplete_beta_and_its_inverse_match_scipy(a, b):
    for x in (1e-6, 0.001, 0.1, 0.5, 0.9, 0.999):
        assert abs(betainc(a, b, x) - sp_special.betainc(a, b, x)) < 1e-10
    for q in (0.025, 0.5, 0.975):
        assert abs(beta_ppf(q, a, b) - sp_stats.beta.ppf(q, a, b)) < 1e-9


@needs_scipy
@pytest.mark.parametrize("df", [1, 1.5, 2, 3, 4, 7.3, 30, 200])
def test_t_quantile_and_tail_match_scipy(df):
    for p in (0.6, 0.975, 0.999):
        assert math.isclose(t_ppf(p, df), sp_stats.t.ppf(p, df), rel_tol=1e-9)
    for t in (0.3, 2.0, 12.0):
        assert abs(t_sf2(t, df) - 2 * sp_stats.t.sf(t, df)) < 1e-12


@needs_scipy
@pytest.mark.parametrize("k, n", [(0, 600), (5, 600), (600, 600), (1, 2), (9800, 10000)])
def test_clopper_pearson_matches_scipy_beta_quantiles(k, n):
    iv = clopper_pearson(k, n)
    lo = 0.0 if k == 0 else sp_stats.beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else sp_stats.beta.ppf(0.975, k + 1, n - k)
    assert abs(iv.lo - lo) < 1e-12 and abs(iv.hi - hi) < 1e-12


def test_clopper_pearson_by_hand():
    iv = clopper_pearson(5, 600)        # the example: 5 of 600 is [0.27%, 1.93%]
    assert round(100 * iv.lo, 2) == 0.27 and round(100 * iv.hi, 2) == 1.93
    zero = clopper_pearson(0, 600)      # 0 of 600: upper bound 1 - 0.025^(1/600) = 0.61%
    assert zero.lo == 0.0 and math.isclose(zero.hi, 1 - 0.025 ** (1 / 600), rel_tol=1e-9)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(7, 5)


@given(st.lists(st.integers(0, 600), min_size=1, max_size=5), st.booleans(),
       st.sampled_from([None, 600]))
def test_proportion_interval_stays_in_the_unit_interval_and_holds_the_mean(ks, same, n):
    values = [k / 600 for k in ks]
    iv = proportion_interval(values, n, same_images=same)
    assert 0.0 <= iv.lo <= iv.mean <= iv.hi <= 1.0
    assert iv.n == len(values) and f"{len(values)} seed" in iv.method or iv.method == "none"


def test_an_all_zero_cell_gets_clopper_pearson_on_the_pooled_counts():
    iv = proportion_interval([0.0, 0.0, 0.0], 200)            # 0 of 600 pooled images
    assert iv.lo == 0.0 and math.isclose(iv.hi, clopper_pearson(0, 600).hi)
    shared = proportion_interval([1.0, 1.0], 10_000, same_images=True)   # the same 10,000
    assert shared.hi == 1.0 and math.isclose(shared.lo, clopper_pearson(10_000, 10_000).lo)
    one = proportion_interval([0.32], 200)                   # one seed: its own images
    assert (one.lo, one.hi) == (clopper_pearson(64, 200).lo, clopper_pearson(64, 200).hi)


def test_same_images_add_the_image_term_that_seeds_cannot_average_away():
    seeds = [0.9800, 0.9805, 0.9810]                          # seeds agree to 0.05 points
    shared = proportion_interval(seeds, 10_000, same_images=True)
    t_only = stats.t_interval(seeds)
    assert shared.hi - shared.lo > 2 * (t_only.hi - t_only.lo)     # binomial sd 0.14 points
    assert "the same in every seed" in shared.method


def test_positive_interval_never_goes_below_zero():
    iv = positive_interval([0.05, 0.4, 0.9])                  # t would give a negative bound
    assert stats.t_interval([0.05, 0.4, 0.9]).lo < 0 < iv.lo < iv.mean < iv.hi
    assert "log-scale" in iv.method
    with_zero = positive_interval([0.0, 0.0, 660.0])
    assert with_zero.lo == 0.0 and with_zero.hi > 660 and "cut at 0" in with_zero.method
    assert positive_interval([0.0, 0.0]).hi == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        positive_interval([-1.0, 2.0])


def test_prediction_interval_is_wider_than_the_mean_interval_and_bounded():
    xs = [0.181, 0.202, 0.195]
    pi = prediction_interval(xs, "proportion", 10_000)
    ci = proportion_interval(xs, 10_000)
    assert pi.lo < ci.lo and pi.hi > ci.hi and 0.0 < pi.lo and pi.hi < 1.0
    raw = prediction_interval([1.0, 2.0, 3.0])           # 2 +- 4.303 * 1 * sqrt(4/3)
    assert math.isclose(raw.hi - 2.0, 4.303 * math.sqrt(4 / 3), rel_tol=1e-3)
    assert prediction_interval([0.1, 0.5, 0.9], "positive").lo > 0.0
    assert prediction_interval([0.7], "proportion", 100).method == "none"


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, max(., 3*0.03), max(., 2*0.04), 0.5
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9]) and holm([]) == []
    with pytest.raises(ValueError, match="p-values"):
        holm([1.5])


@needs_scipy
def test_paired_t_test_matches_scipy():
    a, b = [0.81, 0.62, 0.74, 0.70], [0.78, 0.60, 0.69, 0.69]
    test = paired_test(a, b)
    ref = sp_stats.ttest_rel(a, b)
    assert math.isclose(test.p, ref.pvalue, rel_tol=1e-9) and test.df == 3


def test_paired_test_edge_cases():
    assert paired_test([0.5], [0.4]).p == 1.0                 # one seed: no test
    steady = paired_test([0.8, 0.6], [0.7, 0.5])              # the same +0.1 in each seed
    assert steady.p < 1e-9 and steady.diff == pytest.approx(0.1)
    assert paired_test([0.5, 0.6], [0.5, 0.6]).p == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_test([1, 2], [1])


def test_verdict_rule_is_symmetric():
    assert decide(+0.02, 0.01, +1) == "holds" and decide(-0.02, 0.01, +1) == "fails"
    assert decide(-0.02, 0.01, -1) == "holds" and decide(+0.02, 0.01, -1) == "fails"
    assert decide(+0.02, 0.2, +1) == decide(-0.02, 0.2, +1) == "inconclusive"
    tests = [stats.Significance(0.1, 0.01, 3.0, 2, "t"),
             stats.Significance(-0.1, 0.02, -3.0, 2, "t")]
    # Holm: 2 * 0.01 = 0.02 and max(0.02, 1 * 0.02) = 0.02: both below 0.05
    assert family_verdicts(tests, [+1, +1]) == [("holds", 0.02), ("fails", 0.02)]


def test_cmh_on_paired_outcomes_by_hand():
    # seed 0: b = 10 right only under A, c = 4 right only under B, 6 concordant;
    # seed 1: b = 8, c = 2, 10 concordant. chi2 = (6 + 6)^2 / (14 + 10) = 6, p = erfc(sqrt(3))
    a0 = [1] * 10 + [0] * 4 + [1] * 3 + [0] * 3
    b0 = [0] * 10 + [1] * 4 + [1] * 3 + [0] * 3
    a1 = [1] * 8 + [0] * 2 + [1] * 10
    b1 = [0] * 8 + [1] * 2 + [1] * 10
    test = cmh_paired([a0, a1], [b0, b1])
    assert test.statistic == pytest.approx(6.0)
    assert test.p == pytest.approx(math.erfc(math.sqrt(3.0)))      # 0.01431
    assert test.diff == pytest.approx(12 / 40) and test.df == 40
    assert cmh_paired([a0, a1], [b0, b1], correction=True).statistic == pytest.approx(121 / 24)
    assert cmh_paired([[1, 0]], [[1, 0]]).p == 1.0            # no discordant pair


def test_prediction_interval_of_seeds_all_at_zero_is_a_few_images_not_the_logit_blowup():
    """3 seeds at 0 of 200: the empirical logit's binomial term would predict up to 74%; the
    beta-binomial predictive of the 600 pooled images gives at most 2 of 200."""
    from nprelu.stats.bounded import prediction_interval
    iv = prediction_interval([0.0, 0.0, 0.0], "proportion", n=200)
    assert iv.lo == 0.0 and 0.0 < iv.hi <= 0.01
    top = prediction_interval([1.0, 1.0, 1.0], "proportion", n=200)
    assert top.hi == 1.0 and 0.99 <= top.lo < 1.0


def test_beta_binomial_quantiles_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    from nprelu.stats.bounded import beta_binomial_quantiles
    for k, total, n in ((0, 600, 200), (300, 600, 200), (17, 30000, 10000), (999, 1000, 50)):
        dist = scipy_stats.betabinom(n, k + 0.5, total - k + 0.5)
        assert beta_binomial_quantiles(k, total, n) == (int(dist.ppf(0.025)), int(dist.ppf(0.975)))
