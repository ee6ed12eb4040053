r"""Beyond the paper: a second masking mechanism, float32 softmax saturation (issue 14).

Figure 6's equal network (784-784), trained with HL2 capped at beta 0.01 and re-capped after
training at beta = 0.01 ... 0.15, jumps in PGD robust accuracy at the largest caps while its
steps to a zero gradient fall (Figure 10). Hypothesis: a larger cap lets HL2 pass larger
activations, the logits grow, and the float32 softmax saturates: p_y rounds to exactly 1.0 and
every other p_k to 0, so the cross-entropy gradient

    dL/dZ_k = p_k - 1[k = y]

is exactly zero, a zero input gradient that owes nothing to the cap's flat region. Per
evaluation beta, on ``n_zero`` test images (the profile's, as Figures 8-10):

- the fraction of samples whose float32 cross-entropy input gradient is exactly zero, split by
  cause (:func:`nprelu.measures.cause_masks`): the capped layer passes nothing (every HL2
  unit outside (0, beta)), the softmax saturated (p_y rounds to exactly 1.0: dL/dZ_y = 0 and
  the other entries tiny, exactly 0 once they underflow), both; ``any`` (every exactly zero
  gradient) and ``saturated`` (p_y == 1.0, zero gradient or not);
- the same in float64, on a float64 twin of the network (same weights, cast);
- robust accuracy under Figure 6's PGD (eps 0.1, step 0.01, 10 steps, random start) with
  cross-entropy in float32 (Figure 6 itself) and in float64, and with the logit margin
  max_{i != y} Z_i - Z_y in float32 and in float64 (``pgd_margin_f64``; summaries written
  before it lack it). The margin's logit gradient 1[k = o] - 1[k = y] cannot saturate, but its
  input gradient is zero wherever the capped layer passes nothing (causes ``cap`` and ``both``),
  as every loss's is: the float32 - float64 difference at one loss is the float32 effect, the
  cross-entropy - margin difference in one dtype the loss effect;
- the mean logit gap Z_y - max_{i != y} Z_i over the correctly classified clean images, and the
  clean accuracy.

One unit per seed; the network is Figure 6's own (``ctx.model`` reuses it).
"""
from __future__ import annotations

from ..attacks import input_grad_fn, pgd
from ..measures import accuracy_outcome, cause_outcomes, dtype_twin, mean_logit_gap, \
    zero_gradient_causes
from ..runner.config import EVAL_BETAS, caps_for
from ..runner.store import ModelSpec
from .sweeps import CAPPED, NETWORKS, PGD

FIGURE = "fig06"          # whose networks are examined
LAYER = "HL2"             # the capped layer
TRAINED_BETA = 0.01       # the training cap
CAUSES = ("cap", "softmax", "both", "any", "saturated")
#: PGD robust accuracy per (loss, dtype); ``pgd_margin_f64`` since issue 24.
PGD_FIELDS = ("pgd_ce_f32", "pgd_margin_f32", "pgd_ce_f64", "pgd_margin_f64")


def spec(seed) -> ModelSpec:
    """Figure 6's network with HL2 capped at 0.01 in training (``sweeps.specs``' spec)."""
    return ModelSpec(NETWORKS[FIGURE][1], caps_for(CAPPED[LAYER], TRAINED_BETA, 2), seed=seed)


def at_beta(net, net64, beta, x, y, seed, images) -> dict:
    """Every number of one evaluation cap (module doc); ``net64``: the float64 twin; each
    fraction a per-image Outcome on the test images ``images``."""
    caps = caps_for(CAPPED[LAYER], beta, 2)
    capped, capped64 = net.with_caps(caps), net64.with_caps(caps)
    layer = CAPPED[LAYER][0]
    x64 = net64.backend.asarray(x)
    return {
        "f32": cause_outcomes(zero_gradient_causes(capped, x, y, layer), images),
        "f64": cause_outcomes(zero_gradient_causes(capped64, x64, y, layer), images),
        "pgd_ce_f32": accuracy_outcome(capped, pgd(capped, x, y, seed=seed, **PGD), y, images),
        "pgd_margin_f32": accuracy_outcome(
            capped, pgd(capped, x, y, seed=seed, grad_fn=input_grad_fn("margin"), **PGD), y,
            images),
        "pgd_ce_f64": accuracy_outcome(capped64, pgd(capped64, x64, y, seed=seed, **PGD), y,
                                       images),
        "pgd_margin_f64": accuracy_outcome(
            capped64, pgd(capped64, x64, y, seed=seed, grad_fn=input_grad_fn("margin"), **PGD),
            y, images),
        "logit_gap": mean_logit_gap(capped, x, y),
        "standard": accuracy_outcome(capped, x, y, images),
    }


def run(ctx) -> tuple:
    """The ``masking`` block of one seed, and its settings."""
    x, y = ctx.test(ctx.profile.n_zero)
    net = ctx.model(spec(ctx.seed))
    net64 = dtype_twin(net, "float64")
    images = ctx.indices(ctx.profile.n_zero)
    rows = [at_beta(net, net64, beta, x, y, ctx.seed * 1000 + k, images)  # Figure 6's PGD seeds
            for k, beta in enumerate(EVAL_BETAS)]
    gap = [r["logit_gap"] for r in rows]
    block = {"network": NETWORKS[FIGURE][0], "sizes": list(NETWORKS[FIGURE][1]),
             "capped_layer": LAYER, "trained_beta": TRAINED_BETA, "betas_eval": list(EVAL_BETAS),
             "n": int(len(y)), "n_test": int(len(y)),
             "zero_grad_f32": {c: [r["f32"][c] for r in rows] for c in CAUSES},
             "zero_grad_f64": {c: [r["f64"][c] for r in rows] for c in CAUSES},
             **{k: [r[k] for r in rows] for k in PGD_FIELDS + ("standard",)},
             "logit_gap": [None if g != g else g for g in gap]}   # NaN: no image correct
    return {"masking": block}, settings(ctx.profile)


def settings(profile) -> dict:
    return {"network": f"{NETWORKS[FIGURE][0]} (Figure 6's), {LAYER} capped, trained at beta "
                       f"{TRAINED_BETA}, re-capped at each evaluation beta",
            "pgd": PGD, "pgd_losses": "cross-entropy and logit margin, each in float32 and float64",
            "float64": "a float64 twin of the trained float32 network (weights cast); its PGD "
                       "random start is drawn in float64 from the same seed (ours)",
            "zero_gradient_causes": "fractions of all samples with dL/dx exactly 0: cap: every "
                                    "unit of the capped layer outside (0, beta), p_y < 1; "
                                    "softmax: p_y == 1.0 in the dtype, capped layer not flat; "
                                    "both; any: whatever the cause; saturated: p_y == 1.0, "
                                    "zero gradient or not",
            "logit_gap": "mean of Z_y - max_{i != y} Z_i over correctly classified clean images",
            "n": profile.n_zero}
