"""The paper's claims about Figures 1, 2, 3 and 11, each tested on our numbers.

One function per claim test (``paper.Claim.test``), registered in ``CLAIM_TESTS``; the claim's
text and thresholds come from the claim. The PGD sweeps and the zero-gradient figures are in
:mod:`.sweeps`, Table 1 in :mod:`.table1_claims`, the adaptive attacks in :mod:`.adaptive`.
"""
from __future__ import annotations

import math

import numpy as np

from ..experiments.summary import beta_key
from .format import fmt, num, pct, signed
from .registry import checks, claim_items, finds
from .stats import agree, beta_trend, share, sigmoid_widths

NORMS = (("linf", "L∞"), ("l2", "L2"))
#: What each series of the sensitivity block measures, for the sentence that tests it.
SENSITIVITY_SERIES = {"sums": "sum of the map for this digit",
                      "mean_sum_test": "mean sum over {n_test} test images"}


# --------------------------------------------------------------------------- Figure 1

def growth_value(block: dict, layer: str, beta, norm: str, hidden: int) -> float:
    """The distance at hidden layer ``hidden`` (0-based) of the network capped at ``layer``
    with ``beta``; NaN when the run has no such network."""
    point = block["capped"].get(layer, {}).get(beta_key(beta))   # keys: the caps that ran
    seq = point[norm] if point else []
    return num(seq[hidden]) if hidden < len(seq) else float("nan")


@checks("growth_trend")
def growth_trend(claim, output, summary: dict) -> list[str]:
    """The distance at hidden layer ``params["layer"]`` falls with beta for every capped
    configuration; and how much it grows through the uncapped network."""
    block, hidden = summary[output.key], claim.params["layer"]
    betas = [float(b) for b in block["betas"]]
    out = []
    for norm, name in NORMS:
        dirs = [(layer, beta_trend(betas, [growth_value(block, layer, b, norm, hidden)
                                           for b in betas])[0])
                for layer in block["capped_layers"]]
        if dirs:
            k = sum(d == -1 for _, d in dirs)
            which = ", ".join(f"{l}: {'falls' if d == -1 else 'rises' if d == 1 else 'no trend'}"
                              for l, d in dirs)
            out.append(f"**{name} distance at HL{hidden + 1} as β falls** — paper: {claim.text}; "
                       f"ours: it falls in {k} of {len(dirs)} capped configurations ({which}) "
                       f"→ {share(k, len(dirs))}.")
        seq = block["uncapped"][norm]
        if len(seq) >= 2 and math.isfinite(num(seq[0])) and math.isfinite(num(seq[-1])):
            grow = num(seq[-1]) / num(seq[0]) if num(seq[0]) > 0 else float("inf")
            out.append(f"Uncapped network, {name} distance: HL1 {fmt(seq[0])} → HL{len(seq)} "
                       f"{fmt(seq[-1])} (×{fmt(grow, 3)}; "
                       f"{'grows' if grow > 1 else 'does not grow'} over the layers).")
    return out


@checks("drop_at_capped_layer")
def drop_at_capped_layer(claim, output, summary: dict) -> list[str]:
    """L∞ at the capped layer itself, smallest beta, relative to the uncapped network."""
    block = summary[output.key]
    seq, betas = block["uncapped"]["linf"], block["betas"]
    drops = []
    for i, ref in enumerate(seq):
        layer = f"HL{i + 1}"
        if layer not in block["capped_layers"] or not betas or not math.isfinite(num(ref)):
            continue
        v = growth_value(block, layer, min(float(b) for b in betas), "linf", i)
        if math.isfinite(v) and num(ref) > 0:
            drops.append((layer, v / num(ref)))
    if not drops:
        return []
    k = sum(r < 1 for _, r in drops)
    return [f"**Distance at the capped layer itself** — paper: {claim.text}; ours, L∞ at the "
            "capped layer for the smallest β relative to the uncapped network: "
            + ", ".join(f"{l} ×{fmt(r, 3)}" for l, r in drops) + f" → {share(k, len(drops))}."]


# --------------------------------------------------------------------------- Figure 2

def _accuracy(block: dict, layer: str, beta) -> float:
    return num(block["accuracy"].get(layer, {}).get(beta_key(beta)))


@checks("underfit")
def underfit(claim, output, summary: dict) -> list[str]:
    """Accuracy at the smallest beta more than ``params["points"]`` below the best beta."""
    block, limit = summary[output.key], claim.params["points"]
    betas = sorted(float(b) for b in block["betas"])
    if not betas:
        return []
    low, parts, k = betas[0], [], 0
    for layer in block["capped_layers"]:
        others = [a for a in (_accuracy(block, layer, b) for b in betas[1:]) if math.isfinite(a)]
        at_low = _accuracy(block, layer, low)
        if not math.isfinite(at_low) or not others:
            continue
        gap = 100.0 * (max(others) - at_low)
        k += gap > limit
        parts.append(f"{layer} {signed(-gap)}")
    if not parts:
        return []
    return [f"**Underfitting at a very low max value** — paper: {claim.text}; ours, accuracy at "
            f"β={beta_key(low)} relative to the best β (points): {', '.join(parts)}; more than "
            f"{limit:g} point{'' if limit == 1 else 's'} lower in {k} of {len(parts)} → "
            f"{share(k, len(parts))}."]


@checks("all_layers_lower")
def all_layers_lower(claim, output, summary: dict) -> list[str]:
    """Accuracy with every hidden layer capped at ``params["beta"]`` against one layer capped."""
    block, beta = summary[output.key], claim.params["beta"]
    layers = block["capped_layers"]
    all_layer = next((l for l in layers if l.startswith("HL") and len(l) > 3), None)
    singles = [l for l in layers if l != all_layer]
    if not (all_layer and singles and any(abs(float(b) - beta) < 1e-9 for b in block["betas"])):
        return []
    a_all = _accuracy(block, all_layer, beta)
    a_one = [a for a in (_accuracy(block, l, beta) for l in singles) if math.isfinite(a)]
    if not (math.isfinite(a_all) and a_one):
        return []
    if a_all < min(a_one):
        verdict = "holds (below every single-layer cap)"
    elif a_all < float(np.mean(a_one)):
        verdict = "holds in part (below the single-layer mean)"
    else:
        verdict = "does not hold"
    return [f"**Capping all hidden layers at β={beta_key(beta)}** — paper: {claim.text}; ours: "
            f"{all_layer} {pct(a_all)}% vs single layers {', '.join(pct(a) for a in a_one)}% "
            f"→ {verdict}."]


@finds("accuracy")
def accuracy_findings(group, summary: dict) -> list[str]:
    output = group[0]
    return claim_items(output, summary) + [
        f"Uncapped network accuracy: {pct(summary[output.key]['uncapped'])}%."]


# --------------------------------------------------------------------------- Figure 3

@checks("sigmoid_narrows")
def sigmoid_narrows(claim, output, summary: dict) -> list[str]:
    """The width of sigmoid(c z)'s 0.1-0.9 band shrinks as c grows."""
    widths = sigmoid_widths(summary[output.key])
    if len(widths) < 2:
        return []
    ws = [w for _, w in widths]
    narrows = all(b < a for a, b in zip(ws, ws[1:]))
    return [f"**Sigmoid narrows as c grows** — paper: {claim.text}; ours, width of the 0.1–0.9 "
            "band: " + ", ".join(f"c={c}: {fmt(w, 3)}" for c, w in widths)
            + f" → {'holds' if narrows else 'does not hold'}."]


# --------------------------------------------------------------------------- Figure 11

@checks("trend")
def trend(claim, output, summary: dict) -> list[str]:
    """Each series ``params["series"]`` of the block against beta, in the direction
    ``params["direction"]`` (+1: rises as beta falls, -1: falls)."""
    block = summary[output.key]
    betas = [float(b) for b in block["betas"]]
    out = []
    for key in claim.params["series"]:
        vals = block[key]
        if not vals or len(betas) < 2:
            continue
        d, txt = beta_trend(betas[: len(vals)], vals[: len(betas)])
        what = SENSITIVITY_SERIES.get(key, key).format(**block)
        out.append(f"**Sensitivity as β falls** ({what}) — paper: {claim.text}; ours: it {txt} ("
                   + ", ".join(f"β={beta_key(b)}: {fmt(v)}" for b, v in zip(betas, vals))
                   + f") → {agree(claim.params['direction'], d)}.")
    return out
