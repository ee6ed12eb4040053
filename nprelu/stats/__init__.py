"""Uncertainty of the numbers we report: intervals, tests and the verdict rule (docs/statistics.md).

- :mod:`.core`: the Student t and Wilson intervals and paired differences over seeds;
- :mod:`.distributions`: the incomplete beta, Student's t, normal and chi-square tails, by hand;
- :mod:`.bounded`: intervals that stay in their quantity's range (Clopper-Pearson; proportions
  over seeds x images on the logit scale; non-negative numbers on the log scale) and the
  prediction interval of one new run;
- :mod:`.testing`: the paired t test over seeds, Holm's correction, the symmetric verdict rule
  and the Cochran-Mantel-Haenszel test on paired per-image outcomes.

``from nprelu import stats`` gives all of them.
"""
from .core import (Z_975, Interval, paired_interval, separated, t_975, t_interval, verdict,
                   wilson_interval)
from .distributions import beta_ppf, betainc, chi2_sf1, norm_sf2, t_ppf, t_sf2
from .bounded import clopper_pearson, positive_interval, prediction_interval, proportion_interval
from .testing import (ALPHA, Significance, cmh_interval, cmh_paired, decide, discordant, family_verdicts,
                      holm, paired_test)

__all__ = ["Z_975", "Interval", "paired_interval", "separated", "t_975", "t_interval", "verdict",
           "wilson_interval", "beta_ppf", "betainc", "chi2_sf1", "norm_sf2", "t_ppf", "t_sf2",
           "clopper_pearson", "positive_interval", "prediction_interval", "proportion_interval",
           "ALPHA", "Significance", "cmh_interval", "cmh_paired", "decide", "discordant", "family_verdicts",
           "holm", "paired_test"]
