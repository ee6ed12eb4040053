"""The two effects of the masking study (``masking`` block), separated from the numbers:
the float32 effect (float32 - float64 at the same loss) and the loss effect (cross-entropy -
margin in one dtype), per evaluation cap and over the ranges that make Figure 6's rise, and the
share of images where the margin's input gradient is exactly zero (:mod:`.masking` gives the
definitions and renders them).
"""
from __future__ import annotations

from .format import fmt, md_table
from .intervals import diff_text, difference, iv_text, seed_interval, values

#: How many of the largest evaluation caps the verdict averages over (ours: 0.13-0.15 of 0.15).
LARGE = 3
#: The caps where Figure 6's curve is flat before its rise (ours): Figure 6's rise is measured
#: from their mean; without any of them, the (up to 6) caps before the :data:`LARGE` largest.
BASE = (0.06, 0.11)


def margin_zero(block: dict, i: int) -> float:
    """The float32 fraction whose capped layer passes nothing (causes "cap" + "both"): there
    every loss's input gradient is exactly zero, the margin's included."""
    return block["zero_grad_f32"]["cap"][i] + block["zero_grad_f32"]["both"][i]


def saturated(block: dict, i: int) -> float:
    """The float32 fraction whose input gradient is exactly zero because the softmax saturated,
    p_y == 1.0, while the capped layer still passes a signal (cause "softmax") at evaluation cap
    ``i``. Cause "both" is left out: the flat capped layer alone zeroes those gradients."""
    return block["zero_grad_f32"]["softmax"][i]


def has_margin64(blocks: list) -> bool:
    """Whether every seed's block measured PGD with the margin loss in float64."""
    return bool(blocks) and all("pgd_margin_f64" in b for b in blocks)


def effects(blocks: list) -> dict:
    """The effects the module doc defines: ``{name: (label, key a, key b)}``, a - b. Without
    the float64 margin, the loss effect is given in float32 and as float64 cross-entropy minus
    the float32 margin (float32's effect on the cross-entropy taken out), labelled so."""
    out = {"float32": ("float32 − float64, cross-entropy", "pgd_ce_f32", "pgd_ce_f64"),
           "loss_f32": ("cross-entropy − margin, both float32", "pgd_ce_f32", "pgd_margin_f32")}
    if has_margin64(blocks):
        out["loss"] = ("cross-entropy − margin, both float64", "pgd_ce_f64", "pgd_margin_f64")
    else:
        out["loss"] = ("cross-entropy float64 − margin float32 (no float64 margin in this run)",
                       "pgd_ce_f64", "pgd_margin_f32")
    return out


def effects_table(blocks: list) -> str:
    """Per evaluation cap, each effect (points, paired over seeds) and the margin's
    zero-gradient share (float32, causes cap + both)."""
    n, eff = blocks[0]["n"], effects(blocks)
    rows = []
    for i, beta in enumerate(blocks[0]["betas_eval"]):
        cells = [fmt(beta, 3)]
        for _, a, b in eff.values():
            cells.append(diff_text(difference(values(blocks, lambda x, k=a: x[k][i]),
                                              values(blocks, lambda x, k=b: x[k][i]), n), unit=""))
        iv = seed_interval(values(blocks, lambda x: margin_zero(x, i)), n)
        rows.append(cells + [iv_text(iv, 100.0, 1, pct=True)])
    return md_table(["β (eval)"] + [f"{label} (points)" for label, _, _ in eff.values()]
                    + ["margin: zero input gradient % (cap + both, f32)"], rows)


def ranges(block: dict) -> tuple[list, list]:
    """``(base, large)``: the indices of :data:`BASE`'s caps and of the :data:`LARGE` largest."""
    betas = [float(b) for b in block["betas_eval"]]
    large = list(range(max(len(betas) - LARGE, 0), len(betas)))
    base = [i for i, b in enumerate(betas)
            if BASE[0] - 1e-9 <= b <= BASE[1] + 1e-9 and i not in large]
    if not base and large:
        base = list(range(max(large[0] - 6, 0), large[0]))
    return base, large


def _mean(block: dict, get, idx) -> float:
    return sum(get(block, i) for i in idx) / len(idx) if idx else float("nan")


def _field(key):
    return lambda b, i: b[key][i]


def _span(block: dict, idx) -> str:
    betas = block["betas_eval"]
    return (f"β = {fmt(betas[idx[0]], 3)}" if len(idx) == 1
            else f"β = {fmt(betas[idx[0]], 3)}–{fmt(betas[idx[-1]], 3)}")


def _range_diff(blocks, a, b, idx, n):
    return difference(values(blocks, lambda x: _mean(x, _field(a), idx)),
                      values(blocks, lambda x: _mean(x, _field(b), idx)), n)


def _change(blocks, a, b, base, large):
    """The change of a - b from the base caps to the large ones, paired over seeds."""
    def d(idx):
        return values(blocks, lambda x: _mean(x, _field(a), idx) - _mean(x, _field(b), idx))
    return difference(d(large), d(base))


def rise_lines(blocks: list) -> list[str]:
    """Which part of Figure 6's rise each effect explains, from the numbers (module doc)."""
    n, first = blocks[0]["n"], blocks[0]
    base, large = ranges(first)
    if not base or not large:
        return []
    at = {"base": f"over {_span(first, base)}", "large": f"over {_span(first, large)}"}
    rise, rise64 = (difference(values(blocks, lambda x, k=k: _mean(x, _field(k), large)),
                               values(blocks, lambda x, k=k: _mean(x, _field(k), base)))
                    for k in ("pgd_ce_f32", "pgd_ce_f64"))
    eff = effects(blocks)
    level = {name: {w: _range_diff(blocks, a, b, idx, n) for w, idx in
                    (("base", base), ("large", large))} for name, (_, a, b) in eff.items()}
    f32_change = _change(blocks, "pgd_ce_f32", "pgd_ce_f64", base, large)
    without = ("" if rise64 is None or rise64.method == "none" else
               "without float32 the curve falls: the rise is float32's" if rise64.hi < 0 else
               "without float32 the curve does not clearly rise" if rise64.lo <= 0 else
               "float64 cross-entropy rises too: float32 explains only part of the rise")
    lines = [f"Figure 6's rise: PGD robust accuracy with float32 cross-entropy {at['large']} "
             f"minus {at['base']}: {diff_text(rise)}. The float32 effect (float32 − float64, "
             f"cross-entropy) is {diff_text(level['float32']['base'])} {at['base']} and "
             f"{diff_text(level['float32']['large'])} {at['large']}: its change, "
             f"{diff_text(f32_change)}, is the part of the rise float32 explains; float64 "
             f"cross-entropy itself changes by {diff_text(rise64)}"
             + (f" ({without})." if without else ".")]
    quiet = sum(max(x["zero_grad_f32"]["softmax"][i] for x in blocks) == 0 for i in base)
    for name in ("loss_f32", "loss"):
        label, a, b = eff[name]
        lines.append(f"Loss effect, {label}: {diff_text(level[name]['base'])} {at['base']} "
                     f"(the softmax zeroes no float32 gradient at {quiet} of these "
                     f"{len(base)} caps) and {diff_text(level[name]['large'])} {at['large']} "
                     f"(change {diff_text(_change(blocks, a, b, base, large))}).")
    big, f32, loss = level["loss_f32"]["large"], level["float32"]["large"], level["loss"]["large"]
    if big and f32 and loss:
        share = "mostly the loss" if loss.mean > f32.mean else "mostly float32"
        lines.append(f"So the gap between cross-entropy and margin PGD in float32 {at['large']}, "
                     f"{100 * big.mean:+.1f} points, is the float32 effect on the cross-entropy "
                     f"({100 * f32.mean:+.1f}) and the loss effect ({100 * loss.mean:+.1f}, "
                     f"{eff['loss'][0].split(' (')[0]}), which is already "
                     f"{100 * level['loss']['base'].mean:+.1f} {at['base']}: {share}.")
    return lines + small_cap_lines(blocks)


def small_cap_lines(blocks: list) -> list[str]:
    """Caps below the largest where the float32 effect is clearly above 0 although no float32
    gradient is zeroed by the softmax (in any seed): float32 inflates PGD's accuracy there by a
    route other than exactly zero gradients."""
    n, (_, large) = blocks[0]["n"], ranges(blocks[0])
    hits = []
    for i, beta in enumerate(blocks[0]["betas_eval"]):
        if i in large or max(b["zero_grad_f32"]["softmax"][i] for b in blocks) > 0:
            continue
        diff = difference(values(blocks, lambda x: x["pgd_ce_f32"][i]),
                          values(blocks, lambda x: x["pgd_ce_f64"][i]), n)
        if diff is not None and diff.method != "none" and diff.lo > 0:
            hits.append(f"β = {fmt(beta, 3)}: {diff_text(diff)}")
    if not hits:
        return []
    return [f"The float32 effect is also clearly above 0 where no float32 gradient is zeroed by "
            f"the softmax ({'; '.join(hits)}): there float32 raises PGD's accuracy by another "
            f"route than an exactly zero gradient."]


def margin_zero_line(blocks: list) -> str:
    """The margin's zero-gradient share (causes cap + both, float32) at the smallest and the
    largest evaluation cap."""
    n, betas = blocks[0]["n"], blocks[0]["betas_eval"]
    ends = [0, len(betas) - 1] if len(betas) > 1 else [0]
    ivs = {i: seed_interval(values(blocks, lambda x, i=i: margin_zero(x, i)), n) for i in ends}
    parts = [f"{iv_text(ivs[i], 100.0, 1, pct=True)}% at β = {fmt(betas[i], 3)}" for i in ends]
    return ("The margin loss's logit gradient 1[k = o] − 1[k = y] cannot saturate, but its "
            "input gradient is exactly zero wherever the capped layer passes nothing (causes "
            "cap + both, float32): " + " and ".join(parts) + " of the images.")
