r"""The distribution functions the intervals and tests need, hand-written (no SciPy).

- The **regularized incomplete beta** I_x(a, b) = B(x; a, b) / B(a, b), from its continued
  fraction (evaluated by the modified Lentz method; for x above the mean (a + 1) / (a + b + 2)
  the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast region), and its
  inverse :func:`beta_ppf` by bisection (60 halvings: 2^-60 of the unit interval).
- **Student's t**: the two-sided tail P(|T| >= t) = I_{df / (df + t^2)}(df / 2, 1 / 2), and the
  quantile :func:`t_ppf` by Newton steps on it (bisection as a safeguard); any real df > 0,
  df = inf is the normal.
- The **normal** and **chi-square with 1 df** tails through ``math.erfc``.

Checked against SciPy in tests/test_stats_methods.py (SciPy is a test-only dependency).
"""
from __future__ import annotations

import math

_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (without its prefactor), modified Lentz."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    f = d
    for m in range(1, 10_000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            f *= d * c
        if abs(d * c - 1.0) < 1e-15:
            return f
    raise ArithmeticError(f"incomplete beta: no convergence at a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError(f"the incomplete beta needs a, b > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The q quantile of the Beta(a, b) distribution: x with I_x(a, b) = q, by bisection."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile needs 0 <= q <= 1, got {q}")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def norm_sf2(z: float) -> float:
    """The normal's two-sided tail P(|Z| >= |z|)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def chi2_sf1(x: float) -> float:
    """The chi-square (1 df) upper tail P(X >= x) = P(|Z| >= sqrt(x))."""
    return norm_sf2(math.sqrt(max(x, 0.0)))


def t_sf2(t: float, df: float) -> float:
    """Student's t two-sided tail P(|T| >= |t|) with ``df`` > 0 degrees of freedom."""
    if df <= 0:
        raise ValueError(f"Student's t needs df > 0, got {df}")
    if math.isinf(df) or df > 1e7:
        return norm_sf2(t)
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def _t_pdf(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


def _norm_ppf(p: float) -> float:
    """The normal's p quantile, 0.5 <= p < 1, by bisection on erfc."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > 1.0 - p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def t_ppf(p: float, df: float) -> float:
    """The p quantile of Student's t (0 < p < 1, any real df > 0; df = inf: the normal)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a t quantile needs 0 < p < 1, got {p}")
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    z = _norm_ppf(p)
    if math.isinf(df) or df > 1e7:
        return z
    tail = 2.0 * (1.0 - p)                       # the two-sided tail the quantile leaves
    lo, hi = 0.0, max(2.0 * z, 1.0)
    while t_sf2(hi, df) > tail:
        hi *= 2.0
    t = z + (z ** 3 + z) / (4 * df) if df > 2 else 0.5 * (lo + hi)
    t = min(max(t, lo), hi)
    for _ in range(100):
        err = t_sf2(t, df) - tail                # decreasing in t
        if abs(err) < 1e-14 * tail:
            return t
        if err > 0:
            lo = t
        else:
            hi = t
        step = t + err / (2.0 * _t_pdf(t, df))   # Newton on the two-sided tail
        t = step if lo < step < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-13 * hi:
            break
    return t
