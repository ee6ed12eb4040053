r"""Intervals that never leave their quantity's range, and the prediction interval of one run.

**Clopper-Pearson** (1934), k of n: the exact binomial interval from the beta quantiles::

    lo = B^{-1}(0.025; k, n - k + 1)  (0 if k = 0),   hi = B^{-1}(0.975; k + 1, n - k)  (1 if k = n)

It covers at least 95% for every p (conservative: more than 95% in practice, most at p near 0, 1).

**A proportion over seeds x images** (:func:`proportion_interval`): seed i gives k_i of n test
images. On the logit scale, y_i = log((k_i + 1/2) / (n - k_i + 1/2)) (the empirical logit) has
the binomial (delta-method) variance v_i = 1 / (k_i + 1/2) + 1 / (n - k_i + 1/2), and the seeds
add a random effect of variance tau^2. The mean y of m seeds, s^2 their sample variance, v the
mean of the v_i, and the t quantile with m - 1 df (or as below):

- the images differ per seed (a random subset drawn per seed): Var(y_i) = tau^2 + v_i, which
  s^2 estimates, binomial term included: Var(mean) = s^2 / m;
- the same images in every seed (the whole test set): the image sample's error is common to
  all seeds and is not in s^2, so Var(mean) = s^2 / m + v, with Welch-Satterthwaite's df
  (s^2 / m + v)^2 / ((s^2 / m)^2 / (m - 1)) (v is known). This counts the seed x image
  interaction's binomial part twice: it errs wide (tests/test_stats_coverage.py measures by
  how much);
- seeds that tie (s^2 = 0) leave the binomial term v to stand in for s^2.

The interval y +- t sqrt(Var) is mapped back through the logistic function, so it stays in
[0, 1]; it is widened, if need be, to hold the seeds' arithmetic mean, the number reported.
Where every seed scored 0 (or every one n), the logit has no spread to use: Clopper-Pearson on
the pooled counts (m n images when they differ per seed, n when they are the same). One seed:
Clopper-Pearson on its n images. Without n (a rate of unknown denominator): the same logit
interval over seeds alone, on the plain logit of the values clipped to [1e-6, 1 - 1e-6].

**A non-negative quantity** (a distance, an L2 norm, a sum; :func:`positive_interval`): the t
interval of the seeds' log values, mapped back by exp (it covers the seeds' geometric mean, the
typical seed, and stays above 0), widened to hold the arithmetic mean. Where one seed is 0 the
log is undefined: the t interval on the raw values, cut at 0 (cutting an interval to the
range of its parameter never lowers its coverage). All 0: [0, 0].

**The prediction interval of one new run** (:func:`prediction_interval`): where one more seed
would land, to compare with the paper's single run: mean +- t_{m-1} s sqrt(1 + 1/m), on the same
scale as above (logit, log, raw), so bounded the same way. A new run on the same test images
cancels the image term; on a fresh subset its binomial part is in s^2 already. A proportion's
bounds are rounded outwards to whole images of n (a run scores a count). Needs 2 seeds.
Where every seed scored 0 (or every one n) the logit's binomial term at the boundary is far too
wide (3 seeds at 0 of 200 would predict up to 74%): there the new run's count k of n follows the
beta-binomial predictive distribution of the pooled K of N = m n images under Jeffreys' prior,
P(k) = C(n, k) B(k + a, n - k + b) / B(a, b), a = K + 1/2, b = N - K + 1/2, and its 2.5% and
97.5% quantiles are the bounds (:func:`beta_binomial_quantiles`).
"""
from __future__ import annotations

import math

from .core import Interval, t_interval
from .distributions import beta_ppf, t_ppf

P975 = 0.975


def clopper_pearson(k: int, n: int) -> Interval:
    """The Clopper-Pearson 95% interval of k successes in n >= 1 trials."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"Clopper-Pearson needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    lo = 0.0 if k == 0 else beta_ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta_ppf(0.975, k + 1, n - k)
    return Interval(k / n, lo, hi, n, f"Clopper-Pearson over {n} images")


def _logistic(y: float) -> float:
    return 1.0 / (1.0 + math.exp(-y)) if y >= 0 else math.exp(y) / (1.0 + math.exp(y))


def _moments(ys: list[float]) -> tuple[float, float]:
    m = len(ys)
    mean = sum(ys) / m
    return mean, (sum((y - mean) ** 2 for y in ys) / (m - 1) if m > 1 else 0.0)


def _logits(values, n: int | None) -> tuple[list[float], float]:
    """The seeds' (empirical) logits and their mean binomial variance (0 without n)."""
    if n:
        ks = [round(v * n) for v in values]
        ys = [math.log((k + 0.5) / (n - k + 0.5)) for k in ks]
        return ys, sum(1 / (k + 0.5) + 1 / (n - k + 0.5) for k in ks) / len(ks)
    ps = [min(max(v, 1e-6), 1 - 1e-6) for v in values]
    return [math.log(p / (1 - p)) for p in ps], 0.0


def _check_proportions(values) -> list[float]:
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("an interval needs at least one value")
    bad = [x for x in xs if not 0.0 <= x <= 1.0]
    if bad:
        raise ValueError(f"a proportion must lie in [0, 1], got {bad[0]}")
    return xs


def proportion_interval(values, n: int | None = None, same_images: bool = False) -> Interval:
    """The 95% interval of a proportion from the seeds' ``values`` (each k_i / n); module doc.
    ``same_images``: every seed was evaluated on the same n images."""
    xs = _check_proportions(values)
    m, mean = len(xs), sum(xs) / len(xs)
    images = f"{n} test images" + (" (the same in every seed)" if same_images else "")
    if n and (m == 1 or all(x == 0.0 for x in xs) or all(x == 1.0 for x in xs)):
        pooled = n if same_images else m * n
        k = round(mean * pooled)
        cp = clopper_pearson(k, pooled)
        return Interval(mean, min(cp.lo, mean), max(cp.hi, mean), m,
                        f"Clopper-Pearson on the pooled counts of {m} seed{'s' * (m > 1)} "
                        f"x {images}")
    if m == 1:
        return Interval(mean, mean, mean, 1, "none")
    ys, v = _logits(xs, n)
    centre, s2 = _moments(ys)
    s2 = s2 if s2 > 0 else v                        # the seeds tie: the binomial term stands in
    df = m - 1
    if not n:
        var, what = s2 / m, "seeds only (no image count)"
    elif same_images:
        var = s2 / m + v
        df = var ** 2 / ((s2 / m) ** 2 / (m - 1))    # Welch-Satterthwaite
        what = f"seeds + the binomial term of {images}"
    else:
        var = s2 / m
        what = f"seeds, each with the binomial term of {images}"
    half = t_ppf(P975, df) * math.sqrt(var)
    lo, hi = _logistic(centre - half), _logistic(centre + half)
    return Interval(mean, min(lo, mean), max(hi, mean), m,
                    f"logit-scale interval over {m} seeds: {what}")


def positive_interval(values) -> Interval:
    """The 95% interval of a non-negative quantity over the seeds (module doc)."""
    xs = [float(v) for v in values]
    if any(x < 0 for x in xs):
        raise ValueError(f"a non-negative quantity got {min(xs)}")
    m, mean = len(xs), sum(xs) / max(len(xs), 1)
    if m < 2:
        return t_interval(xs)
    if all(x == 0.0 for x in xs):
        return Interval(0.0, 0.0, 0.0, m, f"all {m} seeds 0")
    if any(x == 0.0 for x in xs):
        iv = t_interval(xs)
        return Interval(mean, max(iv.lo, 0.0), iv.hi, m,
                        f"t over {m} seeds (one is 0: raw scale, cut at 0)")
    centre, s2 = _moments([math.log(x) for x in xs])
    half = t_ppf(P975, m - 1) * math.sqrt(s2 / m)
    return Interval(mean, min(math.exp(centre - half), mean), max(math.exp(centre + half), mean),
                    m, f"log-scale t over {m} seeds")


def prediction_interval(values, kind: str = "signed", n: int | None = None) -> Interval:
    """Where one new run would land with 95% probability (module doc): ``kind`` "proportion"
    (logit scale; ``n`` images per run), "positive" (log scale) or "signed" (raw)."""
    xs = [float(v) for v in values]
    m = len(xs)
    mean = sum(xs) / max(m, 1)
    if m < 2:
        return Interval(mean, mean, mean, m, "none")
    if kind == "proportion":
        xs = _check_proportions(xs)
        if n and (all(x == 0.0 for x in xs) or all(x == 1.0 for x in xs)):
            k_lo, k_hi = beta_binomial_quantiles(round(sum(xs) * n), m * n, n)
            return Interval(mean, k_lo / n, k_hi / n, m,
                            f"95% prediction interval of one new run from {m} seeds "
                            "(beta-binomial on the pooled images: every seed at the boundary)")
        ys, v = _logits(xs, n)
        centre, s2 = _moments(ys)
        s2 = s2 if s2 > 0 else v                    # the seeds tie: the binomial term stands in
        back = _logistic
    elif kind == "positive" and all(x > 0 for x in xs):
        centre, s2 = _moments([math.log(x) for x in xs])
        back = math.exp
    elif kind in ("positive", "signed"):
        centre, s2 = _moments(xs)
        back = float
    else:
        raise ValueError(f"unknown kind {kind!r} (proportion, positive, signed)")
    half = t_ppf(P975, m - 1) * math.sqrt(s2 * (1 + 1 / m))
    lo, hi = back(centre - half), back(centre + half)
    if kind == "positive":
        lo = max(lo, 0.0)
    if kind == "proportion" and n:                  # a run's accuracy is a count of n images
        lo, hi = math.floor(lo * n + 1e-9) / n, math.ceil(hi * n - 1e-9) / n
    return Interval(mean, min(lo, mean), max(hi, mean), m,
                    f"95% prediction interval of one new run from {m} seeds")


def beta_binomial_quantiles(k: int, total: int, n: int) -> tuple[int, int]:
    """The 2.5% and 97.5% quantiles of a new count of ``n`` trials, predicted from ``k``
    successes of ``total`` under Jeffreys' prior: the beta-binomial with a = k + 1/2,
    b = total - k + 1/2 (module doc). Summed in log space, exact for any n."""
    a, b = k + 0.5, total - k + 0.5
    log_b_ab = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    cdf, lo, hi = 0.0, None, n
    for j in range(n + 1):
        log_p = (math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                 + math.lgamma(j + a) + math.lgamma(n - j + b) - math.lgamma(n + a + b)
                 - log_b_ab)
        cdf += math.exp(log_p)
        if lo is None and cdf >= 1 - P975:
            lo = j
        if cdf >= P975:
            hi = j
            break
    return (0 if lo is None else lo), hi
