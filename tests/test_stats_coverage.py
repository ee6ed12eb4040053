"""The 95% intervals and the verdict rule of nprelu.stats, checked by simulation against a known
truth (docs/statistics.md, "Checked by simulation"). Seeded; 2,000 draws per case, so a
coverage of 95% is measured to +-1 point (2 standard errors).

Synthetic runs: seeds get a random effect u ~ N(0, 0.3^2) on the logit scale (seed-to-seed
spread of a few points at 50%), test images are Bernoulli draws. Two designs, as in the
experiments: a fresh random subset of n images per seed, and the same n images in every seed
(each image with its own difficulty d_j ~ N(0, 3^2) on the logit scale, shared by all seeds).

Where a method is conservative the test allows [93, 100] and says why:
- Clopper-Pearson is exact-conservative by construction (>= 95% for every p);
- at accuracies near 0 or 1 (a handful of errors in n images) the logit interval falls back on
  the binomial term (seeds that tie) or on Clopper-Pearson (seeds all at 0 or 1), both wide;
- with the same images in every seed the image term is added whole, though part of it (the
  seed x image interaction) is in the seeds' spread already: wide by design (94.5-99.6% here).
"""
import math

import numpy as np
import pytest

from nprelu.stats import (Significance, clopper_pearson, cmh_interval, cmh_paired,
                          family_verdicts, paired_test, positive_interval, prediction_interval,
                          proportion_interval)

DRAWS = 2000
TAU = 0.3                 # seed random effect, logit scale
SPREAD = 3.0              # image difficulty, logit scale (same-images design)
NOMINAL = (0.93, 0.97)
CONSERVATIVE = (0.93, 1.0)

pytestmark = pytest.mark.slow

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(80)
_GH_W = _GH_W / _GH_W.sum()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return math.log(p / (1.0 - p))


def _population_accuracy(mu, u):
    """A seed's accuracy over all images of difficulty d ~ N(0, SPREAD^2)."""
    return float(np.sum(_GH_W * _sigmoid(mu + u + SPREAD * _GH_X)))


def _centre_for(p):
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _population_accuracy(mid, 0.0) < p else (lo, mid)
    return 0.5 * (lo + hi)


def _fresh_subsets(rng, p, seeds, n):
    """(accuracies of seeds + 1 runs) per draw; each run its own n images; truth = p."""
    u = rng.normal(0.0, TAU, (DRAWS, seeds + 1))
    return rng.binomial(n, _sigmoid(_logit(p) + u)) / n, p


def _same_images(rng, p, seeds, n):
    """The same n images in every seed of a draw; truth: the seeds' typical population
    accuracy, logistic(E_u logit A(u)), the quantity the logit interval centres on."""
    mu = _centre_for(p)
    truth = float(_sigmoid(np.sum(_GH_W * np.array(
        [_logit(_population_accuracy(mu, TAU * x)) for x in _GH_X]))))
    acc = np.empty((DRAWS, seeds))
    for i in range(DRAWS):
        d = rng.normal(0.0, SPREAD, n)
        u = rng.normal(0.0, TAU, (seeds, 1))
        acc[i] = (rng.random((seeds, n)) < _sigmoid(mu + u + d)).mean(axis=1)
    return acc, truth


def _coverage(intervals, truth):
    return float(np.mean([iv.lo <= t <= iv.hi for iv, t in zip(intervals, truth)]))


CASES = [(p, m) for p in (0.01, 0.5, 0.99) for m in (2, 3, 5)]


@pytest.mark.parametrize("p, seeds", CASES)
def test_proportion_interval_covers_the_truth_with_a_fresh_subset_per_seed(p, seeds):
    n = 200 if p == 0.5 else 1000          # near 0 or 1: about 10 errors in n images
    rng = np.random.default_rng(1000 * seeds + int(100 * p))
    acc, truth = _fresh_subsets(rng, p, seeds, n)
    cover = _coverage([proportion_interval(list(a[:seeds]), n) for a in acc], [truth] * DRAWS)
    lo, hi = NOMINAL if p == 0.5 or seeds == 5 else CONSERVATIVE
    assert lo <= cover <= hi, cover


@pytest.mark.parametrize("p, seeds", CASES)
def test_prediction_interval_holds_one_new_run(p, seeds):
    n = 200 if p == 0.5 else 1000
    rng = np.random.default_rng(7 + 1000 * seeds + int(100 * p))
    acc, _ = _fresh_subsets(rng, p, seeds, n)
    pis = [prediction_interval(list(a[:seeds]), "proportion", n) for a in acc]
    cover = _coverage(pis, acc[:, seeds])
    lo, hi = NOMINAL if p == 0.5 else CONSERVATIVE     # near 0, 1: ties use the binomial term
    assert lo <= cover <= hi, cover


@pytest.mark.parametrize("p, seeds", CASES)
def test_proportion_interval_with_the_same_images_in_every_seed_is_never_narrow(p, seeds):
    rng = np.random.default_rng(99 + 1000 * seeds + int(100 * p))
    acc, truth = _same_images(rng, p, seeds, 500)
    cover = _coverage([proportion_interval(list(a), 500, same_images=True) for a in acc],
                      [truth] * DRAWS)
    assert CONSERVATIVE[0] <= cover <= CONSERVATIVE[1], cover


@pytest.mark.parametrize("p", [0.01, 0.5, 0.99])
def test_clopper_pearson_covers_at_least_95_percent(p):
    rng = np.random.default_rng(int(1000 * p))
    ks = rng.binomial(200, p, DRAWS)
    inside = {k: (iv := clopper_pearson(int(k), 200)).lo <= p <= iv.hi for k in set(ks.tolist())}
    cover = float(np.mean([inside[k] for k in ks.tolist()]))
    assert 0.95 - 0.01 <= cover <= 1.0, cover


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_positive_interval_covers_the_seeds_geometric_mean(seeds):
    rng = np.random.default_rng(seeds)
    truth = 0.25                                        # e.g. an L2 distance
    xs = truth * np.exp(rng.normal(0.0, 0.4, (DRAWS, seeds)))
    cover = _coverage([positive_interval(list(x)) for x in xs], [truth] * DRAWS)
    assert NOMINAL[0] <= cover <= NOMINAL[1], cover


def test_holm_keeps_the_family_wise_error_of_the_verdict_rule_at_5_percent():
    """9 comparisons, none with a real difference (3 seeds each, paired differences of a few
    points with seed noise): the share of draws where any verdict is not inconclusive."""
    rng = np.random.default_rng(25)
    errors = 0
    for _ in range(DRAWS):
        base = rng.normal(0.5, 0.05, (9, 3))
        other = base + rng.normal(0.0, 0.02, (9, 3))    # the same mean: no effect
        tests = [paired_test(a, b) for a, b in zip(base, other)]
        verdicts = family_verdicts(tests, [+1] * 9)
        errors += any(v != "inconclusive" for v, _ in verdicts)
    fwer = errors / DRAWS
    assert fwer <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / DRAWS), fwer


def test_a_p_of_4_percent_alone_holds_but_not_in_a_family_of_9():
    one = Significance(0.1, 0.04, 2.0, 2, "paired t")
    assert family_verdicts([one], [+1]) == [("holds", 0.04)]
    assert family_verdicts([one] * 9, [+1] * 9)[0] == ("inconclusive", pytest.approx(0.36))


def _paired_strata(rng, p10, p01, n, seeds):
    """Per seed, n images' outcomes under A and B: (1, 0) with probability p10, (0, 1) with p01,
    equal otherwise (both right or both wrong)."""
    a, b = [], []
    for _ in range(seeds):
        u = rng.random(n)
        a.append((u < p10) | (u >= p10 + p01)), b.append(u >= p10)
    return a, b


@pytest.mark.parametrize("p10,p01,seeds", [(0.10, 0.05, 3), (0.02, 0.0, 5), (0.30, 0.30, 2),
                                           (0.0, 0.0, 3)])
def test_the_paired_per_image_interval_covers_the_difference_of_the_networks(p10, p01, seeds):
    """Conditional on the trained networks (seeds as strata), the per-image paired difference
    A - B = p10 - p01 is covered by cmh_interval in about 95% of draws (at p10 = p01 = 0, where
    every draw gives 0, the interval still has width and covers it)."""
    rng = np.random.default_rng([7, int(p10 * 100), int(p01 * 100), seeds])
    truth, hits = p10 - p01, 0
    for _ in range(DRAWS):
        iv = cmh_interval(*_paired_strata(rng, p10, p01, 200, seeds))
        assert -1.0 <= iv.lo <= iv.hi <= 1.0
        hits += iv.lo <= truth <= iv.hi
    lo, hi = CONSERVATIVE if p10 * p01 == 0 else NOMINAL
    assert lo <= hits / DRAWS <= hi, hits / DRAWS


def test_the_cmh_test_keeps_its_level_under_no_difference():
    """At p10 = p01 (no difference between A and B), CMH rejects at 5% in about 5% of draws."""
    rng = np.random.default_rng(11)
    rejected = sum(cmh_paired(*_paired_strata(rng, 0.1, 0.1, 200, 3)).p < 0.05
                   for _ in range(DRAWS))
    assert rejected / DRAWS <= 0.065, rejected / DRAWS
