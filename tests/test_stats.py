"""The intervals behind every verdict, against hand-computed and tabulated values."""
import math

import pytest
from hypothesis import given, strategies as st

from nprelu.stats import (Interval, paired_interval, separated, t_975, t_interval, verdict,
                          wilson_interval)


@pytest.mark.parametrize("df, exact", [(31, 2.0395), (40, 2.0211), (60, 2.0003), (120, 1.9799),
                                       (1000, 1.9623)])
def test_t_quantile_beyond_the_table_matches_published_values(df, exact):
    assert abs(t_975(df) - exact) < 2e-4


def test_t_quantile_table_and_expansion_meet_at_30():
    assert t_975(2) == 4.303 and t_975(30) == 2.042
    assert abs(t_975(31) - t_975(30)) < 0.005
    with pytest.raises(ValueError, match="df >= 1"):
        t_975(0)


def test_t_interval_of_three_values_by_hand():
    iv = t_interval([1.0, 2.0, 3.0])     # mean 2, s = 1, half-width 4.303 / sqrt(3)
    assert iv.mean == 2.0 and iv.n == 3 and iv.method == "t over seeds"
    assert math.isclose(iv.hi - 2.0, 4.303 / math.sqrt(3)) and math.isclose(2.0 - iv.lo, iv.hi - 2.0)
    one = t_interval([0.7])
    assert (one.lo, one.hi, one.method) == (0.7, 0.7, "none")


@pytest.mark.parametrize("p, n, lo, hi", [(0.5, 100, 0.4038, 0.5962), (0.0, 10, 0.0, 0.2775),
                                          (1.0, 10, 0.7225, 1.0), (0.9, 1000, 0.8798, 0.9171)])
def test_wilson_interval_matches_hand_computed_values(p, n, lo, hi):
    iv = wilson_interval(p, n)
    assert abs(iv.lo - lo) < 1e-4 and abs(iv.hi - hi) < 1e-4 and iv.mean == p


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_stays_in_the_unit_interval_and_holds_p(k, n):
    k = min(k, n)
    iv = wilson_interval(k / n, n)
    assert 0.0 <= iv.lo <= k / n <= iv.hi <= 1.0


def test_paired_differences_decide_what_separate_intervals_cannot():
    a = [0.80, 0.60, 0.70]          # seed noise is large, the paired gain is steady (+0.02)
    b = [0.78, 0.58, 0.68]
    assert separated(t_interval(a), t_interval(b), +1) == "inconclusive"
    assert verdict(paired_interval(a, b), +1) == "holds"
    assert verdict(paired_interval(a, b), -1) == "fails"
    assert verdict(paired_interval([0.8, 0.6, 0.7], [0.7, 0.7, 0.7]), +1) == "inconclusive"
    assert verdict(paired_interval([0.8], [0.7]), +1) == "inconclusive"   # one seed: no interval
    with pytest.raises(ValueError, match="equal lengths"):
        paired_interval([1, 2], [1])


def test_separated_intervals():
    hi, lo = Interval(0.9, 0.85, 0.95, 3, "t"), Interval(0.5, 0.4, 0.6, 3, "t")
    assert separated(hi, lo, +1) == "holds" and separated(lo, hi, +1) == "fails"
    assert separated(lo, hi, -1) == "holds"
