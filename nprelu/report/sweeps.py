"""Figures 4-6 (PGD over a range of evaluation caps) and 8-10 (distance to zero gradients).

The paper compares capped layers pairwise (``pairwise`` claims: "capping HL2 outperforms
capping HL1..."). Each claim is a family (:mod:`.families`) of one comparison per (initial cap,
pair): the sweep over the evaluation caps in the claim's range is summarised per seed by its
mean over those caps, then tested once on the per-seed values (not once per evaluation cap: the
re-caps of one network are not independent); on Figures 4-6 by robust accuracy (higher is
better); Figures 8-10
re-test their PGD partner's claims (``output.partner``) on the distance to a zero gradient
(smaller is better, the paper's reading in Section 6), on every sample with "not found" censored
at the step limit (``distance_censored``) and on the samples where every configuration found
one (``distance_common``): the paper's mean over the samples found (``distance``) compares
different samples from one configuration to the next (its found fraction ranges widely).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..experiments import OUTPUTS
from ..runner.summary import beta_key
from .format import fmt, num
from .families import Family, significance
from .intervals import counts_text, mark, seed_blocks, seed_interval, values
from .masking import saturation_pointer
from .registry import checks, claim_items, finds
from .stats import beta_trend, nanmean, share

#: Distances the zero-gradient claims are re-tested on, in the order the report gives them.
DISTANCES = (("distance_censored", "every sample, not found censored at the step limit"),
             ("distance_common", "the samples where every configuration found one"),
             ("distance", "the paper's mean over the samples found"))


def curve(block: dict, layer: str, init: str, key: str) -> np.ndarray:
    """One curve over the evaluation caps (NaN for null points; empty when not run)."""
    c = block["curves"].get(layer, {}).get(init)
    return np.asarray([num(v) for v in (c.get(key, []) if c else [])], dtype=float)


def init_keys(block: dict) -> list[str]:
    return [beta_key(b) for b in block["initial_betas"]]


def _in_range(eval_b, j: int, lo, hi) -> bool:
    if j >= len(eval_b):
        return lo is None and hi is None
    return not ((lo is not None and not eval_b[j] > lo + 1e-9)
                or (hi is not None and not eval_b[j] < hi - 1e-9))


def pairwise_verdicts(summary: dict, key: str, claim, field: str = "robust",
                      higher_is_better: bool = True) -> Family:
    """The claim's family, judged: one comparison per initial cap (``params["initial"]``, None:
    all) and (better, worse) pair of capped layers, on the per-seed mean over the evaluation
    caps in the open range ``params["eval"]`` ((low, high), either None: unbounded; None:
    all)."""
    fam = Family(claim.text)
    blocks = seed_blocks(summary, key)
    if not blocks:
        return fam
    block = blocks[0]
    eval_b = [num(b) for b in block["betas_eval"]]
    n = block.get("n_test") if field in ("robust", "standard") else None
    lo, hi = claim.params["eval"] or (None, None)
    for init in claim.params["initial"] or init_keys(block):
        for better, worse in claim.params["pairs"]:
            size = min(curve(block, better, init, field).size, curve(block, worse, init, field).size)
            caps = [j for j in range(size) if _in_range(eval_b, j, lo, hi)]
            if not caps:
                continue
            a = values(blocks, lambda b: nanmean(curve(b, better, init, field)[caps]))
            b = values(blocks, lambda b: nanmean(curve(b, worse, init, field)[caps]))
            fam.add(significance(a, b, n), 1 if higher_is_better else -1,
                    f"{better} vs {worse}, initial β={init}")
    return fam.judge()


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


def curve_mean_interval(blocks: list, layer: str, init: str, key: str):
    """The mean of a curve over the evaluation caps, per seed, then its interval over seeds."""
    return seed_interval([nanmean(curve(b, layer, init, key)) for b in blocks])


# --------------------------------------------------------------------------- Figures 4-6

@checks("pairwise")
def pairwise(claim, output, summary: dict) -> list[str]:
    fam = pairwise_verdicts(summary, output.key, claim)
    return [f"Paper: {claim.text}. Ours (robust accuracy, per initial β and pair, each seed's "
            f"mean over the evaluation β): {counts_text(fam.counts())} {mark(fam.verdict())} "
            f"{fam.tag()}."]


def figure_count(output, summary: dict, field: str, higher: bool, claims) -> Counter:
    """The verdicts of every pairwise comparison of ``claims`` (each judged in its family)."""
    total = Counter()
    for claim in claims:
        if claim.test == "pairwise":
            total += pairwise_verdicts(summary, output.key, claim, field, higher).counts()
    return total


@finds("pgd_sweep")
def pgd_findings(group, summary: dict) -> list[str]:
    """The claims, the figure's count, then each initial cap's ranking and the curves' trend."""
    output = group[0]
    block = summary[output.key]
    out = claim_items(output, summary)
    out.append(f"Figure {output.number}, every pairwise comparison of its claims: "
               f"{counts_text(figure_count(output, summary, 'robust', True, output.claims))}.")
    for init in init_keys(block):
        means = layer_means(block, init, "robust")
        if means:
            out.append(f"Initial β={init}: mean robust accuracy (mean over seeds) "
                       + " > ".join(f"{k} ({100 * means[k]:.2f}%)"
                                    for k in sorted(means, key=lambda k: -means[k])) + ".")
    eval_b = [num(b) for b in block["betas_eval"]]
    directions = [beta_trend(eval_b[: c.size], c)[0]
                  for layer in block["capped_layers"] for init in init_keys(block)
                  for c in [curve(block, layer, init, "robust")] if c.size >= 2 and eval_b]
    if directions:
        out.append(f"Robust accuracy (mean over seeds) rises as the evaluation max value falls "
                   f"in {sum(d == 1 for d in directions)} of {len(directions)} curves.")
    pointer = saturation_pointer(summary, block.get("network", ""))
    if pointer:
        out.append(pointer)
    return out


# --------------------------------------------------------------------------- Figures 8-10

@finds("zero_gradient")
def zero_gradient_findings(group, summary: dict) -> list[str]:
    """How distances are read, the partner figure's claims re-tested on each distance, the
    survivorship, then this output's own claims."""
    output = group[0]
    partner = OUTPUTS[output.partner]
    block = summary[output.key]
    where = ", ".join(sorted({f"Section {c.section}" for c in output.claims}))
    out = [f"Reading (paper{', ' + where if where else ''}): a smaller mean distance to a zero "
           "gradient counts as more robust."]
    present = [(f, what) for f, what in DISTANCES
               if any(curve(block, l, i, f).size for l in block["capped_layers"]
                      for i in init_keys(block))]
    for claim in partner.claims:
        if claim.test != "pairwise":
            continue
        for i, (field, what) in enumerate(present):
            fam = pairwise_verdicts(summary, output.key, claim, field, higher_is_better=False)
            verdict = (f"{mark(fam.verdict())} {fam.tag()}" if i == 0
                       else f"({fam.verdict()}, family of {fam.size}, Holm)")
            out.append(f"Paper's Fig. {partner.number} statement \"{claim.text}\", tested on "
                       f"distance over {what} (smaller = better): {counts_text(fam.counts())} "
                       f"{verdict}.")
    field = present[0][0] if present else "distance"
    out.append(f"Figure {output.number}, every pairwise comparison of Fig. {partner.number}'s "
               f"claims on distance ({field}): "
               f"{counts_text(figure_count(output, summary, field, False, partner.claims))}.")
    found = [num(v) for l in block["capped_layers"] for i in init_keys(block)
             for v in curve(block, l, i, "found_fraction")]
    found = [v for v in found if math.isfinite(v)]
    if found:
        out.append(f"Survivorship: a zero gradient was found for {100 * min(found):.0f}% to "
                   f"{100 * max(found):.0f}% of the samples across configurations (mean over "
                   "seeds); the paper's mean over the samples found compares different samples, "
                   "so the marked verdicts above rest on the censored distance (every sample); "
                   "the common-sample and found-only readings follow, their verdicts in "
                   "brackets.")
    return out + claim_items(output, summary)


@checks("aligned_with_pgd")
def aligned_with_pgd(claim, output, summary: dict) -> list[str]:
    """Per initial cap, the capped layer with the closest zero gradients against the one with
    the highest PGD robust accuracy in the partner figure (on the means over seeds)."""
    block, pgd_block = summary[output.key], summary.get(output.partner)
    field = next((f for f, _ in DISTANCES if any(curve(block, l, i, f).size
                  for l in block["capped_layers"] for i in init_keys(block))), "distance")
    out, consistent, n = [], 0, 0
    for init in init_keys(block):
        dist = layer_means(block, init, field)
        if not dist:
            out.append(f"Initial β={init}: no zero gradient found for any capped layer.")
            continue
        best_d = min(dist, key=dist.get)
        text = (f"Initial β={init}: closest zero gradients ({field}) with {best_d} ("
                + ", ".join(f"{k} {fmt(v)}" for k, v in sorted(dist.items())) + ")")
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
        verdict = "holds" if consistent == n else "fails" if consistent == 0 else "inconclusive"
        out.append(f"{head}; ours: the best layer agrees for {consistent} of {n} initial max "
                   f"values (on the means; {share(consistent, n)}) {mark(verdict)}.")
    else:
        out.append(f"{head}; not testable here (no PGD robust accuracy of Figure "
                   f"{OUTPUTS[output.partner].number} to compare with).")
    return out
