"""The paper's claims about Figures 1, 2, 3 and 11, each tested on our numbers.

One function per claim test (``paper.Claim.test``), registered in ``CLAIM_TESTS``; the claim's
text and thresholds come from the claim. The PGD sweeps and the zero-gradient figures are in
:mod:`.sweeps`, Table 1 in :mod:`.table1_claims`, the adaptive attacks in :mod:`.adaptive`.
"""
from __future__ import annotations

import math


from ..runner.summary import beta_key
from .adaptive import worst_case_pointer
from .format import fmt, num, pct
from .families import CONSTRUCTION, Family, beyond, p_text, significance
from .intervals import counts_text, diff_text, difference, mark, profile_n, seed_blocks, values
from .registry import checks, claim_items, finds
from .stats import sigmoid_widths

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


def widths(summary: dict) -> list | None:
    """Figure 1's layer sizes from the run's settings (input, hidden layers..., output)."""
    settings = ((summary.get("meta") or {}).get("settings") or {}).get("fig01-02") or {}
    net = settings.get("network")
    return list(net) if isinstance(net, (list, tuple)) else None


def by_construction(summary: dict, layer: str, beta: float, norm: str, hidden: int,
                    other: list) -> str | None:
    """:data:`~.families.CONSTRUCTION` when hidden layer ``hidden`` (0-based) is capped in the
    configuration ``layer`` ("HL3", "HL123") at ``beta`` and the cap's bound on the distance
    there lies below every seed's ``other`` value: each unit's output is in [0, beta], so the
    L∞ distance is at most beta and the L2 distance at most beta * sqrt(width), whatever the
    attack. None otherwise (or when the width is unknown)."""
    if str(hidden + 1) not in layer[2:]:
        return None
    if norm == "linf":
        bound = beta
    else:
        sizes = widths(summary)
        if not sizes or hidden + 1 >= len(sizes):
            return None
        bound = beta * math.sqrt(sizes[hidden + 1])
    xs = [v for v in other if math.isfinite(v)]
    return CONSTRUCTION if xs and all(v > bound for v in xs) else None


@checks("growth_trend")
def growth_trend(claim, output, summary: dict) -> list[str]:
    """The distance at hidden layer ``params["layer"]``: smallest beta against the largest,
    paired over seeds, per capped configuration (it must fall); and its growth through the
    uncapped network (means over seeds)."""
    block, hidden = summary[output.key], claim.params["layer"]
    blocks = seed_blocks(summary, output.key)
    betas = sorted(float(b) for b in block["betas"])
    out = []
    for norm, name in NORMS:
        fam, shown = Family(f"{claim.text} ({name})"), []
        for layer in block["capped_layers"] if len(betas) >= 2 else []:
            low, high = (values(blocks, lambda b, beta=beta: growth_value(b, layer, beta, norm,
                                                                          hidden))
                         for beta in (betas[0], betas[-1]))
            item = fam.add(significance(low, high), -1, not_evidence=by_construction(
                summary, layer, betas[0], norm, hidden, high))
            if item:
                shown.append((layer, difference(low, high), item))
        if shown:
            fam.judge()
            parts = [f"{layer} {diff_text(diff, 1.0, '')} ({p_text(item)})"
                     for layer, diff, item in shown]
            out.append(f"**{name} distance at HL{hidden + 1}, β={beta_key(betas[0])} minus "
                       f"β={beta_key(betas[-1])}** — paper: {claim.text}; ours: "
                       f"{'; '.join(parts)}: {counts_text(fam.counts())} {mark(fam.verdict())} "
                       f"{fam.tag()}.")
        seq = block["uncapped"][norm]
        if len(seq) >= 2 and math.isfinite(num(seq[0])) and math.isfinite(num(seq[-1])):
            grow = num(seq[-1]) / num(seq[0]) if num(seq[0]) > 0 else float("inf")
            out.append(f"Uncapped network, {name} distance (mean over seeds): HL1 {fmt(seq[0])} "
                       f"→ HL{len(seq)} {fmt(seq[-1])} (×{fmt(grow, 3)}; "
                       f"{'grows' if grow > 1 else 'does not grow'} over the layers).")
    return out


@checks("drop_at_capped_layer")
def drop_at_capped_layer(claim, output, summary: dict) -> list[str]:
    """L∞ at the capped layer itself, smallest beta against the uncapped network (paired)."""
    block = summary[output.key]
    blocks = seed_blocks(summary, output.key)
    betas = block["betas"]
    fam, shown = Family(claim.text), []
    for i in range(len(block["uncapped"]["linf"])):
        layer = f"HL{i + 1}"
        if layer not in block["capped_layers"] or not betas:
            continue
        low = min(float(b) for b in betas)
        a = values(blocks, lambda b: growth_value(b, layer, low, "linf", i))
        b_ = values(blocks, lambda b: num(b["uncapped"]["linf"][i]))
        item = fam.add(significance(a, b_), -1,
                       not_evidence=by_construction(summary, layer, low, "linf", i, b_))
        if item:
            shown.append((layer, difference(a, b_), item))
    if not shown:
        return []
    fam.judge()
    parts = [f"{layer} {diff_text(diff, 1.0, '')} ({p_text(item)})" for layer, diff, item in shown]
    return [f"**Distance at the capped layer itself** — paper: {claim.text}; ours, L∞ at the "
            "capped layer for the smallest β minus the uncapped network's: " + "; ".join(parts)
            + f": {counts_text(fam.counts())} {mark(fam.verdict())} {fam.tag()}. At a layer "
            f"capped at β every output lies in [0, β], so its L∞ distance is at most β="
            f"{min(float(b) for b in betas):g} whatever the attack: the drop there holds by "
            "construction and is no evidence that capping stops the perturbation."]


# --------------------------------------------------------------------------- Figure 2

def _accuracy(block: dict, layer: str, beta) -> float:
    return num(block["accuracy"].get(layer, {}).get(beta_key(beta)))


@checks("underfit")
def underfit(claim, output, summary: dict) -> list[str]:
    """Accuracy at the smallest beta more than ``params["points"]`` below the best beta (the
    best by the mean over seeds), on the interval of the difference."""
    block, limit = summary[output.key], claim.params["points"]
    blocks = seed_blocks(summary, output.key)
    n = block.get("n_test") or profile_n(summary, "n_growth")
    betas = sorted(float(b) for b in block["betas"])
    if len(betas) < 2:
        return []
    low, shown, fam = betas[0], [], Family(claim.text)
    for layer in block["capped_layers"]:
        best = max(betas[1:], key=lambda b: num(_accuracy(block, layer, b)))
        a = values(blocks, lambda b: _accuracy(b, layer, best))
        b_ = values(blocks, lambda b: _accuracy(b, layer, low))
        gap = difference(a, b_, n)
        item = fam.add(beyond(a, b_, limit / 100.0), +1)     # the gap minus the limit > 0
        if gap is None or item is None:
            continue
        shown.append((layer, gap, item))
    if not shown:
        return []
    fam.judge()
    parts = [f"{layer} {diff_text(gap)} ({p_text(item)})" for layer, gap, item in shown]
    return [f"**Underfitting at a very low max value** — paper: {claim.text}; ours, accuracy "
            f"at the best β minus at β={beta_key(low)}: {'; '.join(parts)}; more than "
            f"{limit:g} point{'' if limit == 1 else 's'}: {counts_text(fam.counts())} "
            f"{mark(fam.verdict())} {fam.tag()}."]


@checks("all_layers_lower")
def all_layers_lower(claim, output, summary: dict) -> list[str]:
    """Accuracy with every hidden layer capped at ``params["beta"]`` against each single layer
    capped there (paired over seeds)."""
    block, beta = summary[output.key], claim.params["beta"]
    blocks = seed_blocks(summary, output.key)
    n = block.get("n_test") or profile_n(summary, "n_growth")
    layers = block["capped_layers"]
    all_layer = next((l for l in layers if l.startswith("HL") and len(l) > 3), None)
    singles = [l for l in layers if l != all_layer]
    if not (all_layer and singles and any(abs(float(b) - beta) < 1e-9 for b in block["betas"])):
        return []
    a_all = values(blocks, lambda b: _accuracy(b, all_layer, beta))
    fam, shown = Family(claim.text), []
    for l in singles:
        single = values(blocks, lambda b: _accuracy(b, l, beta))
        item = fam.add(significance(a_all, single, n), -1)
        if item:
            shown.append((l, difference(a_all, single, n), item))
    if not shown:
        return []
    fam.judge()
    parts = [f"{l} {diff_text(diff)} ({p_text(item)})" for l, diff, item in shown]
    return [f"**Capping all hidden layers at β={beta_key(beta)}** — paper: {claim.text}; ours, "
            f"{all_layer} minus each single layer: {'; '.join(parts)}: "
            f"{counts_text(fam.counts())} {mark(fam.verdict())} {fam.tag()}."]


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
            + f" (exact curves, no seeds) {mark('holds' if narrows else 'fails')}."]


# --------------------------------------------------------------------------- Figure 11

@checks("trend")
def trend(claim, output, summary: dict) -> list[str]:
    """Each series ``params["series"]``: smallest beta against the largest, paired over seeds,
    in the direction ``params["direction"]`` (+1: rises as beta falls, -1: falls). PGD-free,
    but a small map may be a masked gradient: the adaptive worst case is pointed to."""
    block = summary[output.key]
    blocks = seed_blocks(summary, output.key)
    betas = [float(b) for b in block["betas"]]
    if len(betas) < 2:
        return []
    lo_i, hi_i = betas.index(min(betas)), betas.index(max(betas))
    out, fam, shown = [], Family(claim.text), []
    for key in claim.params["series"]:
        if len(block[key]) < len(betas):
            continue
        a = values(blocks, lambda b: b[key][lo_i])
        b_ = values(blocks, lambda b: b[key][hi_i])
        item = fam.add(significance(a, b_), claim.params["direction"])
        shown.append((key, difference(a, b_), item))
    fam.judge()
    for key, diff, item in shown:
        what = SENSITIVITY_SERIES.get(key, key).format(**block)
        v = item["verdict"] if item else None
        out.append(f"**Sensitivity as β falls** ({what}) — paper: {claim.text}; ours ("
                   + ", ".join(f"β={beta_key(b)}: {fmt(x)}" for b, x in zip(betas, block[key]))
                   + f"), β={beta_key(betas[lo_i])} minus β={beta_key(betas[hi_i])}: "
                   f"{diff_text(diff, 1.0, '')} ({p_text(item)}) {mark(v)} {fam.tag()}"
                   + worst_case_pointer(summary, sorted(set(betas)), "none") + ".")
    zero = block.get("zero_fraction")
    if zero:
        out.append("Inputs with an exactly zero gradient (a map of zeros: masking, not "
                   "robustness): " + ", ".join(f"β={beta_key(b)}: {pct(z)}%"
                                               for b, z in zip(betas, zero)) + ".")
    return out
