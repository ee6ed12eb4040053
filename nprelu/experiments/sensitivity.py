"""Section 7, Figure 11: the sensitivity map of a digit five for beta = 1, 0.1 and 0.01.

    smap(x) = max(0, dZ_t/dx * sum_{c != t} dZ_c/dx)      (elementwise; Sooksatra & Rivas 2022)

The paper does not say which layer its Figure 11 networks cap; we use the general 392-196
network capped at HL2, the layer Section 8 chooses, so these are the same networks as Table 1's
and Figure 4's HL2 row. The digit is the first five of the test set (whatever the seed). Besides
the maps, we report over a test subset (random, drawn per seed) the mean map sum, which does not
depend on the choice of digit, and ``zero_fraction``: per beta, the fraction of those images
whose map sums to exactly 0. There no gradient reaches the input at all: a small map there is
gradient masking, not robustness.
"""
from __future__ import annotations

from .. import paper
from ..measures import sensitivity_map
from ..outcomes import Outcome
from ..runner.config import GENERAL
from ..runner.store import ModelSpec

BETAS = paper.FIG11["betas"]
DIGIT = paper.FIG11["digit"]


def run(ctx) -> tuple:
    x_all, y_all = ctx.test(None)
    be = ctx.backend
    labels = be.to_host(y_all)
    index = int((labels == DIGIT).nonzero()[0][0])
    x5, y5 = x_all[index:index + 1], y_all[index:index + 1]
    xs, ys = ctx.test(ctx.profile.n_sensitivity)
    maps, sums, means, zeros = [], [], [], []
    for beta in BETAS:
        net = ctx.model(ModelSpec(GENERAL, (None, beta), seed=ctx.seed))
        m, s = sensitivity_map(net, x5, y5)
        maps.append(be.to_host(m)[0].tolist())
        sums.append(float(be.to_host(s)[0]))
        _, s_all = sensitivity_map(net, xs, ys)
        s_all = be.to_host(s_all)
        means.append(float(s_all.mean()))
        zeros.append(Outcome(s_all == 0, ctx.indices(ctx.profile.n_sensitivity)))
    result = {"betas": list(BETAS), "sample_index": index, "label": DIGIT,
              "image": be.to_host(x5)[0].tolist(), "maps": maps, "sums": sums,
              "mean_sum_test": means, "zero_fraction": zeros, "n_test": int(len(ys))}
    return {"fig11": result}, {"network": list(GENERAL), "capped_layer": "HL2", "digit_index": index}
