r"""Tests of a difference, Holm's correction within a family, and the one verdict rule.

**Paired t test over seeds** (:func:`paired_test`): the claim "a - b has sign s" is tested on
the per-seed differences d_i = a_i - b_i; within a seed both sides were measured on the same
test images (the same subset draw), so the image sample's noise largely cancels in d_i and
what is left varies from seed to seed. t = mean(d) / (s_d / sqrt(m)) with m - 1 df, two-sided p.
All d_i equal and non-zero: p = 0 (no spread to doubt the sign); all 0: p = 1. One seed: p = 1
(no test: the verdict is inconclusive).

**Holm's step-down correction** (Holm 1979; :func:`holm`): the m p-values of a family, sorted
p_(1) <= ... <= p_(m), adjusted to max_{j <= i} min(1, (m - j + 1) p_(j)). Rejecting where the
adjusted p < 0.05 keeps the family-wise error (any false rejection) at or below 5%.

**The verdict rule** (:func:`decide`), symmetric: a comparison **holds** where its corrected
two-sided p < 0.05 and the difference has the claimed sign, **fails** where p < 0.05 and it has
the opposite sign, and is **inconclusive** otherwise.

**Cochran-Mantel-Haenszel on paired binary outcomes** (Cochran 1954; Mantel & Haenszel 1959;
:func:`cmh_paired`): per image, both sides' outcomes (correct or not) on the same image; in
stratum (seed) s, b_s images are right under A and wrong under B, c_s the reverse. Each pair is
a 2 x 2 table; summed within and over the strata the statistic is McNemar's, combined:
chi^2 = (sum_s (b_s - c_s))^2 / sum_s (b_s + c_s), 1 df (no continuity correction unless asked).
The difference in accuracy is sum_s (b_s - c_s) / sum_s n_s; its 95% interval
(:func:`cmh_interval`) is the normal one with the strata's McNemar variances summed, each
stratum's 2 x 2 table first given 0.5 in every cell (Agresti & Min 2005), so that a stratum
with no discordant image still has some spread, and cut to [-1, 1]::

    d = sum_s (b_s - c_s) / N~,   var = sum_s [(b~_s + c~_s) - (b~_s - c~_s)^2 / n~_s] / N~^2,
    b~ = b + 0.5, c~ = c + 0.5, n~ = n + 2, N~ = sum_s n~_s.

Both condition on the trained networks of each seed (seeds are strata): they measure the test
images' noise, paired; the seed-to-seed spread is what the paired t over seeds measures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .core import Z_975, Interval
from .distributions import chi2_sf1, t_sf2

ALPHA = 0.05


@dataclass(frozen=True)
class Significance:
    """A difference ``diff`` (a - b), its two-sided ``p``, the statistic, its df (or n) and the
    method in words."""

    diff: float
    p: float
    statistic: float
    df: float
    method: str


def paired_test(a, b) -> Significance:
    """The paired t test of a - b over the seeds (module doc); NaN pairs are dropped."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    d = [float(x) - float(y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    m = len(d)
    if m == 0:
        raise ValueError("a paired test needs at least one seed with both values")
    mean = sum(d) / m
    if m == 1:
        return Significance(mean, 1.0, 0.0, 0, "one seed: no test")
    s = math.sqrt(sum((x - mean) ** 2 for x in d) / (m - 1))
    method = f"paired t over {m} seeds"
    if s == 0.0:
        stat = math.copysign(math.inf, mean) if mean else 0.0
        return Significance(mean, 0.0 if mean != 0 else 1.0, stat, m - 1, method)
    t = mean / (s / math.sqrt(m))
    return Significance(mean, t_sf2(t, m - 1), t, m - 1, method)


def holm(pvalues) -> list[float]:
    """Holm's adjusted p-values, in the order given (module doc)."""
    ps = [float(p) for p in pvalues]
    if any(not 0.0 <= p <= 1.0 for p in ps):
        raise ValueError(f"p-values must lie in [0, 1], got {ps}")
    m = len(ps)
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: ps[j])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def decide(diff: float, p_corrected: float, sign: int, alpha: float = ALPHA) -> str:
    """"holds", "fails" or "inconclusive" for the claim "diff has the sign ``sign``"."""
    if not (p_corrected < alpha) or diff == 0 or not math.isfinite(diff):
        return "inconclusive"
    return "holds" if (diff > 0) == (sign > 0) else "fails"


def family_verdicts(tests: list[Significance], signs: list[int],
                    alpha: float = ALPHA) -> list[tuple]:
    """``(verdict, corrected p)`` for each test of one family, Holm-corrected together."""
    if len(tests) != len(signs):
        raise ValueError(f"{len(tests)} tests but {len(signs)} signs")
    adjusted = holm([t.p for t in tests])
    return [(decide(t.diff, q, s, alpha), q) for t, q, s in zip(tests, adjusted, signs)]


def discordant(a, b) -> tuple[int, int]:
    """(b, c) of paired binary outcomes: right under ``a`` and wrong under ``b``, and reverse."""
    a, b = [bool(x) for x in a], [bool(x) for x in b]
    if len(a) != len(b):
        raise ValueError(f"paired outcomes need equal lengths, got {len(a)} and {len(b)}")
    return sum(x and not y for x, y in zip(a, b)), sum(y and not x for x, y in zip(a, b))


def cmh_paired(strata_a, strata_b, correction: bool = False) -> Significance:
    """The CMH test of paired binary outcomes (module doc): ``strata_a[s]``, ``strata_b[s]``
    the per-image outcomes of seed s under A and B, on the same images in the same order."""
    if len(strata_a) != len(strata_b) or not strata_a:
        raise ValueError("CMH needs the same number (>= 1) of strata on both sides")
    pairs = [discordant(a, b) for a, b in zip(strata_a, strata_b)]
    n = sum(len(a) for a in strata_a)
    net, total = sum(b - c for b, c in pairs), sum(b + c for b, c in pairs)
    method = f"Cochran-Mantel-Haenszel over {len(pairs)} seeds, {n} paired images"
    if total == 0:
        return Significance(0.0, 1.0, 0.0, n, method)
    stat = max(abs(net) - (1 if correction else 0), 0) ** 2 / total
    return Significance(net / n, chi2_sf1(stat), stat, n, method)


def cmh_interval(strata_a, strata_b) -> Interval:
    """The 95% interval of the pooled paired difference of accuracy, A - B, over strata (seeds)
    of per-image outcomes on the same images (module doc; Agresti-Min cells, cut to [-1, 1])."""
    if len(strata_a) != len(strata_b) or not strata_a:
        raise ValueError("a paired interval needs the same number (>= 1) of strata on both sides")
    pairs = [discordant(a, b) for a, b in zip(strata_a, strata_b)]
    sizes = [len(a) + 2.0 for a in strata_a]
    total = sum(sizes)
    d = sum(b - c for b, c in pairs) / total
    var = sum((b + c + 1.0) - (b - c) ** 2 / n for (b, c), n in zip(pairs, sizes)) / total ** 2
    half = Z_975 * math.sqrt(max(var, 0.0))
    n = sum(len(a) for a in strata_a)
    raw = sum(b - c for b, c in pairs) / n if n else 0.0
    return Interval(raw, max(-1.0, d - half), min(1.0, d + half), n,
                    f"paired per image, {len(pairs)} seeds as strata (Agresti-Min, normal)")
