r"""Uncertainty of the numbers we report: 95% intervals over seeds and over test images.

Over seeds (the spread of everything a seed changes: initialisation, shuffle, random starts,
test subset), the Student t interval of the mean of n values x_1 .. x_n::

    mean +- t_{0.975, n-1} * s / sqrt(n),      s^2 = sum_i (x_i - mean)^2 / (n - 1)

With 3 seeds t = 4.303: intervals are wide, and the report says so rather than hiding it.

Over the test images of one run, for a proportion p = k / n (an accuracy), Wilson's score
interval, which stays inside [0, 1] and behaves at p = 0 or 1 where p +- z sqrt(p(1-p)/n) does
not::

    (p + z^2 / 2n  +-  z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n),     z = 1.96

A difference between two configurations of the same seeds is judged on the paired differences
d_i = a_i - b_i (same seed, same test subset), whose interval is tighter than the two separate
ones: :func:`paired_interval`.

Host-side, pure Python: these run on a handful of numbers. The bounded intervals, tests and
the verdict rule the report uses are in :mod:`.bounded` and :mod:`.testing`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Z_975 = 1.959963984540054          # the standard normal's 0.975 quantile

# t_{0.975, df} for df = 1 .. 30 (the usual table, to 3 decimals); beyond it the Cornish-Fisher
# expansion below is within 1e-4 of the exact quantile.
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
          2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
          2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"Student's t needs df >= 1, got {df}")
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = Z_975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


@dataclass(frozen=True)
class Interval:
    """A mean (or proportion) with its 95% interval [lo, hi], the ``n`` it rests on and the
    ``method`` that made it ("t over seeds", "Wilson over test images", or "none")."""

    mean: float
    lo: float
    hi: float
    n: int
    method: str

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside the interval (a difference from it is significant)."""
        return value < self.lo or value > self.hi

    def as_dict(self) -> dict:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "n": self.n,
                "method": self.method}


def t_interval(values) -> Interval:
    """Mean of ``values`` with its Student t 95% interval over them (one value: no interval,
    lo = hi = the value, method "none")."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("t_interval needs at least one value")
    mean = sum(xs) / n
    if n == 1:
        return Interval(mean, mean, mean, 1, "none")
    s = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_975(n - 1) * s / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, "t over seeds")


def wilson_interval(p: float, n: int) -> Interval:
    """Wilson's 95% score interval of a proportion ``p`` observed on ``n`` >= 1 test images."""
    if n < 1:
        raise ValueError(f"a proportion needs n >= 1 observations, got {n}")
    p = float(p)
    z2 = Z_975 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return Interval(p, min(lo, p), max(hi, p), n, "Wilson over test images")  # p = 0, 1: rounding


def paired_interval(a, b) -> Interval:
    """The t interval of the paired differences a_i - b_i (same seeds, same test subsets)."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    return t_interval([x - y for x, y in zip(a, b)])


def verdict(diff: Interval, expected_sign: int) -> str:
    """"holds" when the interval of a difference lies on the claimed side of 0, "fails" when
    it lies on the other side, "inconclusive" when it contains 0 (or rests on one value)."""
    if diff.method == "none" or not (diff.excludes(0.0)):
        return "inconclusive"
    return "holds" if (diff.mean > 0) == (expected_sign > 0) else "fails"


def separated(a: Interval, b: Interval, expected_sign: int) -> str:
    """The verdict on "a - b has the sign ``expected_sign``" from two separate intervals (when
    no paired values exist): "holds" or "fails" when they do not overlap, else "inconclusive"."""
    if a.lo > b.hi:
        return "holds" if expected_sign > 0 else "fails"
    if a.hi < b.lo:
        return "fails" if expected_sign > 0 else "holds"
    return "inconclusive"
