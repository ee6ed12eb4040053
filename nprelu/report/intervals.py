"""Verdicts from intervals: every claim of the report is "holds", "fails" or "inconclusive".

A claim is tested on the per-seed values (``summary["runs"][seed][key]``, the blocks one seed
gives); a summary without ``runs`` (one seed, an older run) is read as one seed whose block is
``summary[key]``. Each comparison "a is above b" is judged on:

- **2 or more seeds**: the Student t interval of the paired per-seed differences a_i - b_i
  (same seed, same test subset; :func:`nprelu.stats.paired_interval`, :func:`~nprelu.stats.verdict`);
- **one seed, an accuracy**: the two Wilson intervals over the n test images
  (:func:`nprelu.stats.separated`): holds or fails only when they do not overlap;
- **one seed, any other number** (a distance, a sum): no interval, so inconclusive.

A threshold ("a drop of at most 2 points") holds when the whole interval of the difference is
within it, fails when the whole interval is beyond it, and is inconclusive otherwise. With 2 or
more seeds a lone comparison's verdict is the paired t test's at 5% (the t interval excludes 0
exactly when p < 0.05). The paper's claims are judged as families with Holm's correction
(:mod:`.families`); a claim made of many comparisons (:func:`overall`) holds when more than half
of them hold, fails when more than half fail, and is inconclusive otherwise (:data:`RULE`).
"""
from __future__ import annotations

import math
import re
from collections import Counter

from .. import stats
from .families import CLAIM_RULE, NOT_EVIDENCE, claim_verdict, finite_pairs
from .format import DASH, num

VERDICTS = ("holds", "fails", "inconclusive")
RULE = CLAIM_RULE
METHODS = ("Each comparison is tested on the paired per-seed differences (Student t over the "
           "seeds, same seed and test subset on both sides; two-sided p); with one seed, "
           "accuracies by the two-proportion z test over the test images and other numbers "
           "(distances, sums) not at all (inconclusive). A threshold (\"at most 2 points\") is "
           "tested as the difference from it. A sweep over evaluation caps is first averaged "
           "over the caps per seed and tested once. Methods: docs/statistics.md.")
_MARK = re.compile(r"→ \*\*(holds|fails|inconclusive|masked attack: not evidence|"
                   r"holds by construction)\*\*")


def seeds(summary: dict) -> list[str]:
    """The seeds whose blocks the summary keeps (empty without ``runs``)."""
    return sorted(summary.get("runs") or {}, key=int)


def seed_blocks(summary: dict, key: str) -> list:
    """One block per seed that has ``key``; ``[summary[key]]`` without ``runs``."""
    runs = summary.get("runs") or {}
    blocks = [runs[s][key] for s in seeds(summary) if key in runs[s]]
    if blocks:
        return blocks
    return [summary[key]] if summary.get(key) is not None else []


#: The test set's size: a profile whose subset size is None evaluates on all of it.
N_TEST_SET = 10_000


def profile_n(summary: dict, field: str) -> int | None:
    """The test images of one seed's accuracy from the run's profile (``field``: "n_table",
    "n_cw", "n_growth"; None = the whole test set), for older blocks without an ``n``."""
    settings = (summary.get("meta") or {}).get("profile_settings") or {}
    if field not in settings:
        return None
    return settings[field] or N_TEST_SET


def values(blocks: list, get) -> list[float]:
    """``get(block)`` per seed as floats (NaN where missing or the getter fails)."""
    out = []
    for b in blocks:
        try:
            out.append(num(get(b)))
        except (KeyError, IndexError, TypeError):
            out.append(float("nan"))
    return out


def difference(a: list, b: list, n: int | None = None) -> stats.Interval | None:
    """The interval of a - b from per-seed values (module doc); None when no seed has both."""
    pairs = finite_pairs(a, b)
    if not pairs:
        return None
    if len(pairs) >= 2:
        return stats.paired_interval([p[0] for p in pairs], [p[1] for p in pairs])
    x, y = pairs[0]
    if n and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0:
        wa, wb = stats.wilson_interval(x, n), stats.wilson_interval(y, n)
        return stats.Interval(x - y, wa.lo - wb.hi, wa.hi - wb.lo, n,
                              f"Wilson over {n} test images (one seed)")
    return stats.Interval(x - y, x - y, x - y, 1, "none")


def compare(a: list, b: list, sign: int = 1, n: int | None = None):
    """``(verdict, interval of a - b)`` for the claim "a - b has the sign ``sign``"; with one
    seed and an accuracy, :func:`nprelu.stats.separated` on the two Wilson intervals."""
    diff = difference(a, b, n)
    if diff is None:
        return None, None
    if diff.method.startswith("Wilson"):
        (x, y), = finite_pairs(a, b)
        return stats.separated(stats.wilson_interval(x, n), stats.wilson_interval(y, n),
                               sign), diff
    return stats.verdict(diff, sign), diff


def at_most(diff: stats.Interval | None, limit: float) -> str:
    """The verdict on "the difference is at most ``limit``" (same units)."""
    if diff is None or diff.method == "none":
        return "inconclusive"
    return "holds" if diff.hi <= limit else "fails" if diff.lo > limit else "inconclusive"


def overall(counts: Counter) -> str:
    """The claim's verdict from its comparisons' counts (:data:`RULE`, symmetric)."""
    return claim_verdict(counts)


def counts_text(counts: Counter) -> str:
    """"4 hold, 1 fails, 2 inconclusive (of 7)"; the comparisons that hold but are no evidence
    (:data:`~nprelu.report.families.NOT_EVIDENCE`) named where there are any:
    "0 hold, 1 fail, 1 inconclusive, 7 masked attack: not evidence (of 9)"."""
    h, f, i = (counts.get(v, 0) for v in VERDICTS)
    extra = [(counts.get(w, 0), w) for w in NOT_EVIDENCE if counts.get(w, 0)]
    more = "".join(f", {c} {w}" for c, w in extra)
    return f"{h} hold, {f} fail, {i} inconclusive{more} (of {h + f + i + sum(c for c, _ in extra)})"


def mark(verdict: str) -> str:
    """The claim-level verdict as the report writes it: "→ **holds**"."""
    return f"→ **{verdict}**"


def marks(items: list) -> Counter:
    """The claim-level verdicts written in ``items`` (findings strings), counted."""
    return Counter(m for item in items for m in _MARK.findall(str(item)))


def seed_interval(vals: list, n: int | None = None) -> stats.Interval | None:
    """Mean and 95% interval of one number over the seeds (Wilson for one seed's accuracy)."""
    xs = [v for v in vals if math.isfinite(v)]
    if not xs:
        return None
    if len(xs) == 1 and n and 0.0 <= xs[0] <= 1.0:
        return stats.wilson_interval(xs[0], n)
    return stats.t_interval(xs)


def iv_text(iv: stats.Interval | None, scale: float = 1.0, digits: int = 2,
            pct: bool = False) -> str:
    """"mean [lo, hi]" (no brackets when there is no interval); a dash for None."""
    if iv is None:
        return "—"
    f = (lambda v: f"{scale * v:.{digits}f}") if pct else (lambda v: f"{scale * v:.{digits + 2}g}")
    if iv.method == "none" or iv.lo == iv.hi:
        return f(iv.mean)
    lo, hi = (max(iv.lo, 0.0), min(iv.hi, 1.0)) if pct else (iv.lo, iv.hi)  # a proportion
    return f"{f(iv.mean)} [{f(lo)}, {f(hi)}]"


def pct_cell(mean, bounds, n: int | None = None) -> str:
    """A proportion and its interval as a table cell: "mean [lo, hi]" in percent, one decimal
    (the bounds clipped to [0, 100]); the mean alone without an interval. ``n`` (one seed):
    Wilson's interval over n test images where the summary has none."""
    def p(v) -> str:
        x = num(v)
        return f"{100.0 * x:.1f}" if math.isfinite(x) else DASH
    if not (isinstance(bounds, list) and len(bounds) == 2):
        return p(mean)
    if n and bounds[0] == bounds[1] and 0.0 <= num(mean) <= 1.0:
        bounds = [(w := stats.wilson_interval(num(mean), n)).lo, w.hi]
    lo, hi = p(max(bounds[0], 0.0)), p(min(bounds[1], 1.0))
    return p(mean) if lo == hi else f"{p(mean)} [{lo}, {hi}]"


def diff_text(diff: stats.Interval | None, scale: float = 100.0, unit: str = " points") -> str:
    """A difference with its interval: "+3.10 [+0.20, +6.00] points"."""
    if diff is None:
        return "—"
    if diff.method == "none":
        return f"{scale * diff.mean:+.2f}{unit} (one seed, no interval)"
    return (f"{scale * diff.mean:+.2f} [{scale * diff.lo:+.2f}, {scale * diff.hi:+.2f}]{unit}")
