"""Figures 4-6 (PGD over a range of evaluation caps) and 8-10 (distance to zero gradients).

The paper compares capped layers pairwise (``pairwise`` claims: "capping HL2 outperforms
capping HL1..."). On Figures 4-6 a pair is compared by robust accuracy (higher is better) at
each initial and evaluation cap the claim covers; Figures 8-10 re-test their PGD partner's
claims (``output.partner``) on the distance to a zero gradient (smaller is better, the paper's
reading in Section 6).
"""
from __future__ import annotations

import math

import numpy as np

from ..experiments import OUTPUTS
from ..experiments.summary import beta_key
from .format import fmt, num
from .registry import checks, claim_items, finds
from .stats import beta_trend, nanmean, share, tally


def curve(block: dict, layer: str, init: str, key: str) -> np.ndarray:
    """One curve over the evaluation caps (NaN for null points; empty when not run)."""
    c = block["curves"].get(layer, {}).get(init)
    return np.asarray([num(v) for v in (c[key] if c else [])], dtype=float)


def init_keys(block: dict) -> list[str]:
    return [beta_key(b) for b in block["initial_betas"]]


def pairwise_counts(block: dict, claim, key: str = "robust",
                    higher_is_better: bool = True) -> tuple[int, int, int]:
    """(wins, losses, ties) of the claim's (better, worse) pairs of capped layers over its
    initial caps (``params["initial"]``, None: all) and the evaluation caps in the open range
    ``params["eval"]`` ((low, high), either None: unbounded; None: all)."""
    eval_b = np.asarray([num(b) for b in block["betas_eval"]])
    params = claim.params
    lo, hi = params["eval"] or (None, None)
    wins = losses = ties = 0
    for init in params["initial"] or init_keys(block):
        for better, worse in params["pairs"]:
            a, b = curve(block, better, init, key), curve(block, worse, init, key)
            for j in range(min(a.size, b.size)):
                if j < eval_b.size:
                    if (lo is not None and not eval_b[j] > lo + 1e-9) or (
                            hi is not None and not eval_b[j] < hi - 1e-9):
                        continue
                elif lo is not None or hi is not None:
                    continue
                if not (math.isfinite(a[j]) and math.isfinite(b[j])):
                    continue
                diff = (a[j] - b[j]) if higher_is_better else (b[j] - a[j])
                if abs(diff) <= 1e-12:
                    ties += 1
                elif diff > 0:
                    wins += 1
                else:
                    losses += 1
    return wins, losses, ties


def layer_means(block: dict, init: str, key: str) -> dict[str, float]:
    """Mean of each capped layer's curve, over the evaluation caps where every layer has data
    (over each curve's own finite points when they share none)."""
    curves = {l: curve(block, l, init, key) for l in block["capped_layers"]}
    curves = {l: c for l, c in curves.items() if c.size and np.isfinite(c).any()}
    if not curves:
        return {}
    n = min(c.size for c in curves.values())
    common = np.all([np.isfinite(c[:n]) for c in curves.values()], axis=0)
    if common.any():
        return {l: float(c[:n][common].mean()) for l, c in curves.items()}
    return {l: nanmean(c) for l, c in curves.items()}


# --------------------------------------------------------------------------- Figures 4-6

@checks("pairwise")
def pairwise(claim, output, summary: dict) -> list[str]:
    w, l, t = pairwise_counts(summary[output.key], claim)
    return [f"Paper: {claim.text}. Ours (robust accuracy): {tally(w, l, t)}."]


@finds("pgd_sweep")
def pgd_findings(group, summary: dict) -> list[str]:
    """The claims, then each initial cap's ranking of the capped layers and the curves' trend."""
    output = group[0]
    block = summary[output.key]
    out = claim_items(output, summary)
    for init in init_keys(block):
        means = layer_means(block, init, "robust")
        if means:
            out.append(f"Initial β={init}: mean robust accuracy "
                       + " > ".join(f"{k} ({100 * means[k]:.2f}%)"
                                    for k in sorted(means, key=lambda k: -means[k])) + ".")
    eval_b = [num(b) for b in block["betas_eval"]]
    directions = [beta_trend(eval_b[: c.size], c)[0]
                  for layer in block["capped_layers"] for init in init_keys(block)
                  for c in [curve(block, layer, init, "robust")] if c.size >= 2 and eval_b]
    if directions:
        out.append(f"Robust accuracy rises as the evaluation max value falls in "
                   f"{sum(d == 1 for d in directions)} of {len(directions)} curves.")
    return out


# --------------------------------------------------------------------------- Figures 8-10

@finds("zero_gradient")
def zero_gradient_findings(group, summary: dict) -> list[str]:
    """How distances are read, the partner figure's claims re-tested on distance, then this
    output's own claims."""
    output = group[0]
    partner = OUTPUTS[output.partner]
    block = summary[output.key]
    where = ", ".join(sorted({f"Section {c.section}" for c in output.claims}))
    out = [f"Reading (paper{', ' + where if where else ''}): a smaller mean distance to a zero "
           "gradient counts as more robust."]
    for claim in partner.claims:
        if claim.test == "pairwise":
            w, l, t = pairwise_counts(block, claim, "distance", higher_is_better=False)
            out.append(f"Paper's Fig. {partner.number} statement \"{claim.text}\", tested on "
                       f"distance (smaller = better): {tally(w, l, t)}.")
    return out + claim_items(output, summary)


@checks("aligned_with_pgd")
def aligned_with_pgd(claim, output, summary: dict) -> list[str]:
    """Per initial cap, the capped layer with the closest zero gradients against the one with
    the highest PGD robust accuracy in the partner figure."""
    block, pgd_block = summary[output.key], summary.get(output.partner)
    out, consistent, n = [], 0, 0
    for init in init_keys(block):
        dist = layer_means(block, init, "distance")
        found = layer_means(block, init, "found_fraction")
        if not dist:
            out.append(f"Initial β={init}: no zero gradient found for any capped layer.")
            continue
        best_d = min(dist, key=dist.get)
        text = (f"Initial β={init}: closest zero gradients with {best_d} ("
                + ", ".join(f"{k} {fmt(v)}" for k, v in sorted(dist.items())) + ")")
        if found:
            text += "; found for " + ", ".join(f"{k} {100 * v:.0f}%"
                                              for k, v in sorted(found.items()))
        rob = {k: v for k, v in layer_means(pgd_block, init, "robust").items()
               if k in dist} if pgd_block else {}
        if rob:
            best_r = max(rob, key=rob.get)
            n += 1
            consistent += best_r == best_d
            text += (f"; highest PGD robust accuracy with {best_r} → "
                     f"{'consistent' if best_r == best_d else 'inconsistent'}")
        out.append(text + ".")
    head = "**Zero-gradient results against the PGD experiment** — paper: " + claim.text
    if n:
        out.append(f"{head}; ours: the best layer agrees for {consistent} of {n} initial max "
                   f"values → {share(consistent, n)}.")
    else:
        out.append(f"{head}; not testable here (no PGD robust accuracy of Figure "
                   f"{OUTPUTS[output.partner].number} to compare with).")
    return out
