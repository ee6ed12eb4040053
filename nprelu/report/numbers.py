"""The "key numbers" table under each figure, one function per output kind.

Each takes the output's (mean) block and its per-seed blocks (``blocks``; the block alone for a
single seed) and returns a Markdown table, or None when there is nothing to show. Accuracies
are written in percent, distances and sums with 4 significant digits; where a number has an
interval over the seeds (or Wilson's over the test images, one seed) it follows in brackets.
"""
from __future__ import annotations

import numpy as np

from ..runner.summary import beta_key
from .format import DASH, fmt, md_table, pct
from .registry import tabulates
from .stats import nanmean, sigmoid_widths
from .intervals import iv_text, seed_interval, values
from .sweeps import curve, curve_mean_interval, init_keys


def _padded(seq, n: int) -> list[str]:
    return [fmt(v) for v in (list(seq) + [None] * n)[:n]]


@tabulates("growth")
def growth_numbers(block: dict, blocks=None) -> str | None:
    """L∞ and L2 distance at each hidden layer, uncapped and per capped layer and beta."""
    n = len(block["uncapped"]["linf"])
    header = (["Network"] + [f"L∞ HL{i + 1}" for i in range(n)]
              + [f"L2 HL{i + 1}" for i in range(n)])
    body = [["uncapped"] + _padded(block["uncapped"]["linf"], n)
            + _padded(block["uncapped"]["l2"], n)]
    for layer in block["capped_layers"]:
        for b in block["betas"]:
            v = block["capped"].get(layer, {}).get(beta_key(b))
            if v:
                body.append([f"{layer} β={beta_key(b)}"] + _padded(v["linf"], n)
                            + _padded(v["l2"], n))
    return md_table(header, body)


@tabulates("accuracy")
def accuracy_numbers(block: dict, blocks=None) -> str | None:
    """Clean accuracy per capped layer and beta, and the uncapped network's."""
    betas = block["betas"]
    if not betas:
        return None
    blocks, n = blocks or [block], block.get("n_test")

    def cell(get):
        return iv_text(seed_interval(values(blocks, get), n), 100.0, 2, pct=True)

    body = [[layer] + [cell(lambda x, b=b: x["accuracy"][layer][beta_key(b)]) for b in betas]
            for layer in block["capped_layers"]]
    body.append(["uncapped"] + [cell(lambda x: x["uncapped"])] * len(betas))
    return md_table(["Capped layer (accuracy %)"] + [f"β={beta_key(b)}" for b in betas], body)


@tabulates("sigmoid")
def sigmoid_numbers(block: dict, blocks=None) -> str | None:
    widths = sigmoid_widths(block)
    return md_table(["c", "width of the 0.1–0.9 band in z"],
                    [[c, fmt(w, 3)] for c, w in widths]) if widths else None


@tabulates("pgd_sweep")
def pgd_numbers(block: dict, blocks=None) -> str | None:
    """Per initial cap and capped layer: means over the evaluation caps, and the best one."""
    eval_b = block["betas_eval"]
    body = []
    for init in init_keys(block):
        for layer in block["capped_layers"]:
            std, rob, suc = (curve(block, layer, init, k)
                             for k in ("standard", "robust", "success"))
            if not rob.size:
                continue
            j = int(np.nanargmax(rob)) if np.isfinite(rob).any() else None
            mean_rob = curve_mean_interval(blocks or [block], layer, init, "robust")
            body.append([init, layer, pct(nanmean(std)), iv_text(mean_rob, 100.0, 2, pct=True),
                         pct(nanmean(suc)),
                         fmt(eval_b[j]) if j is not None and j < len(eval_b) else DASH,
                         pct(rob[j]) if j is not None else DASH,
                         pct(std[j]) if j is not None and j < std.size else DASH])
    return md_table(["Initial β", "Capped", "Mean standard %", "Mean robust %",
                     "Mean success %", "Best eval β", "Robust % there", "Standard % there"],
                    body) if body else None


@tabulates("zero_gradient")
def zero_gradient_numbers(block: dict, blocks=None) -> str | None:
    """Per initial cap and capped layer, means over the evaluation caps with their interval
    over seeds: the found fraction, the paper's mean distance over the samples found, and the
    distance on the samples common to the configurations and censored at the step limit."""
    blocks = blocks or [block]
    cols = ("found_fraction", "distance", "distance_common", "distance_censored")
    body = []
    for init in init_keys(block):
        for layer in block["capped_layers"]:
            if not any(curve(block, layer, init, k).size for k in cols):
                continue
            ivs = [curve_mean_interval(blocks, layer, init, k) for k in cols]
            body.append([init, layer, iv_text(ivs[0], 100.0, 1, pct=True)]
                        + [iv_text(iv, digits=2) for iv in ivs[1:]])
    return md_table(["Initial β", "Capped", "Found %", "Mean distance over found (paper's)",
                     "Distance on common samples", "Distance, not found censored"],
                    body) if body else None


@tabulates("sensitivity")
def sensitivity_numbers(block: dict, blocks=None) -> str | None:
    """The sum of the sensitivity map per beta: for the one digit drawn, and the test mean."""
    sums, means = block["sums"], block["mean_sum_test"]
    blocks = blocks or [block]

    def cell(key, i):
        return iv_text(seed_interval(values(blocks, lambda x: x[key][i])), digits=2)

    body = [[beta_key(b), cell("sums", i) if i < len(sums) else DASH,
             cell("mean_sum_test", i) if i < len(means) else DASH]
            for i, b in enumerate(block["betas"])]
    return md_table(["β", f"Sum of map (test index {block['sample_index']})",
                     f"Mean sum over {block['n_test']} test images"], body) if body else None
