"""The masking sections beyond the paper: float32 softmax saturation (``masking``) and Figure 7
from data (``landscape``: its three cases, zero gradient at x, search succeeds, search fails).

Two effects are separated, each a paired difference over the seeds with its 95% interval
(:func:`~nprelu.report.intervals.difference`; one seed: Wilson over the test images):

- **the float32 effect**: PGD robust accuracy with cross-entropy in float32 minus in float64,
  the same loss on the same weights and images;
- **the loss effect**: PGD with cross-entropy minus with the logit margin in float64 when the
  block has ``pgd_margin_f64`` (measured since issue 24), else in float32, labelled so.

Figure 6's rise at large caps is PGD's float32 cross-entropy accuracy over the :data:`~.masking_effects.LARGE`
largest evaluation caps minus over :data:`~.masking_effects.BASE` (the caps where the curve is flat before it
rises; ours): the float32 effect's change between the two ranges is the part of the rise float32
explains, the float64 cross-entropy's own change the rest.

The verdict on the saturation hypothesis, over the :data:`~.masking_effects.LARGE` largest caps (each seed's mean):
**supported** when the float32 samples whose input gradient is exactly zero with a saturated
softmax, p_y == 1.0, while the capped layer still passes a signal (cause "softmax"; "both" is
the flat cap's doing as well) have a 95% interval above 0 and the float32 effect holds (clearly
above 0); **refuted** when that share's upper end is below :data:`ABSENT` or the float32 effect
fails (clearly below 0); inconclusive otherwise. The margin loss is no evidence for or against
float32: it changes the loss, not the arithmetic.

No loss has an input gradient where the capped layer passes nothing (every unit outside
(0, beta): causes "cap" and "both"), the margin included: that share is reported as the
margin's zero-gradient share.
"""
from __future__ import annotations

from ..paper import FIG7_CASES as CASES
from .format import Paragraph, fmt, md_table
from .intervals import compare, diff_text, iv_text, mark, seed_blocks, seed_interval, values
from .masking_effects import (_field, _mean, _span, effects_table, has_margin64,
                              margin_zero_line, ranges, rise_lines, saturated)
from .registry import finds, renders

#: Saturation is absent when the upper end of its interval is below this fraction (ours).
ABSENT = 0.01
#: The table's columns: (label, getter of one beta's value from a block, percent?).
COLUMNS = (
    ("cap f32 %", lambda b, i: b["zero_grad_f32"]["cap"][i], True),
    ("softmax f32 %", lambda b, i: b["zero_grad_f32"]["softmax"][i], True),
    ("both f32 %", lambda b, i: b["zero_grad_f32"]["both"][i], True),
    ("any f32 %", lambda b, i: b["zero_grad_f32"]["any"][i], True),
    ("p_y = 1 f32 %", lambda b, i: b["zero_grad_f32"]["saturated"][i], True),
    ("softmax+both f64 %", lambda b, i: (b["zero_grad_f64"]["softmax"][i]
                                         + b["zero_grad_f64"]["both"][i]), True),
    ("any f64 %", lambda b, i: b["zero_grad_f64"]["any"][i], True),
    ("PGD CE f32 %", lambda b, i: b["pgd_ce_f32"][i], True),
    ("PGD margin f32 %", lambda b, i: b["pgd_margin_f32"][i], True),
    ("PGD CE f64 %", lambda b, i: b["pgd_ce_f64"][i], True),
    ("PGD margin f64 %", lambda b, i: b["pgd_margin_f64"][i], True),
    ("clean %", lambda b, i: b["standard"][i], True),
    ("logit gap", lambda b, i: b["logit_gap"][i], False),
)


def masking_table(blocks: list, n) -> str:
    """One row per evaluation cap: each column's mean over the seeds with its 95% interval."""
    first = blocks[0]
    cols = [c for c in COLUMNS if c[0] != "PGD margin f64 %" or has_margin64(blocks)]
    rows = []
    for i, beta in enumerate(first["betas_eval"]):
        cells = [fmt(beta, 3)]
        for _, get, pct in cols:
            iv = seed_interval(values(blocks, lambda b: get(b, i)), n if pct else None)
            cells.append(iv_text(iv, 100.0, 1, pct=True) if pct else iv_text(iv, 1.0, 1))
        rows.append(cells)
    return md_table(["β (eval)"] + [c[0] for c in cols], rows)


def verdict(blocks: list) -> tuple:
    """``(verdict, lines)``: the hypothesis judged as the module doc says."""
    n = blocks[0]["n"]
    _, large = ranges(blocks[0])
    sat = seed_interval(values(blocks, lambda b: _mean(b, saturated, large)), n)
    present = sat is not None and sat.lo > 0.0
    absent = sat is not None and sat.hi < ABSENT
    ce, ce64 = (values(blocks, lambda b, k=k: _mean(b, _field(k), large))
                for k in ("pgd_ce_f32", "pgd_ce_f64"))
    v, diff = compare(ce, ce64, 1, n)
    if present and v == "holds":
        result = "supported"
    elif absent or v == "fails":
        result = "refuted"
    else:
        result = "inconclusive"
    lines = [f"Over the {len(large)} largest evaluation caps ({_span(blocks[0], large)}), per "
             f"seed averaged: float32 samples whose gradient is exactly zero with p_y == 1.0 "
             f"although the capped layer passes a signal {iv_text(sat, 100.0, 2, pct=True)}% — "
             + ("clearly above 0." if present else f"clearly absent (below {100 * ABSENT:g}%)."
                if absent else "not clearly above 0."),
             f"PGD robust accuracy with cross-entropy, float32 minus float64 (the float32 "
             f"effect): {diff_text(diff)} ({v or 'inconclusive'} for \"clearly above 0\")."]
    return result, lines


def saturation_pointer(summary: dict, network: str) -> str | None:
    """A line for the PGD sweep of ``network`` when the masking study ran on it: its verdict
    and PGD with float32 and float64 cross-entropy and the margin at the largest evaluation cap."""
    block = summary.get("masking")
    if not block or block.get("network") != network:
        return None
    blocks = seed_blocks(summary, "masking")
    result, _ = verdict(blocks)
    n = blocks[0]["n"]
    last = len(block["betas_eval"]) - 1
    ce, ce64, margin = (seed_interval(values(blocks, lambda b, k=k: b[k][last]), n)
                        for k in ("pgd_ce_f32", "pgd_ce_f64", "pgd_margin_f32"))
    return (f"The {network} network capped at {block['capped_layer']}, trained at β="
            f"{fmt(block['trained_beta'], 3)}, at the evaluation cap β="
            f"{fmt(block['betas_eval'][last], 3)}: PGD with float32 cross-entropy leaves "
            f"{iv_text(ce, 100.0, 1, pct=True)}%, with float64 cross-entropy "
            f"{iv_text(ce64, 100.0, 1, pct=True)}%, with the margin loss (float32) "
            f"{iv_text(margin, 100.0, 1, pct=True)}%; that float32 softmax saturation masks the "
            f"gradient at large caps is {result} (section \"a second masking mechanism\").")


@renders("masking")
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was measured, the figure, the per-beta table and the effects' table."""
    lines = ["Hypothesis (from Figures 6 and 10): larger caps scale the logits until the "
             "float32 softmax saturates (p_y rounds to 1.0), so the cross-entropy gradient "
             "dL/dZ = p - onehot(y) is 0 in its y entry and tiny elsewhere (exactly 0 once "
             "exp(-gap) underflows, a gap above about 104 in float32, or lost in the backward "
             "products): a masking mechanism apart from the cap's flat region. Exactly zero "
             "input gradients are split by cause: the capped layer passes nothing (cap), the "
             "softmax saturated (softmax: p_y == 1.0), or both; 'any' counts every exactly zero "
             "input gradient, 'p_y = 1' every saturated softmax, zero gradient or not. PGD is "
             "Figure 6's, run with cross-entropy and with the logit margin, in float32 and on a "
             "float64 twin of the network (the margin in float64 since issue 24). The margin's "
             "logit gradient cannot saturate, but no loss has an input gradient where the "
             "capped layer passes nothing (cap + both). The float32 effect is float32 − float64 "
             "at the same loss, the loss effect cross-entropy − margin in one dtype, each "
             "paired per seed. The logit gap Z_y − max_{i≠y} Z_i is averaged over correctly "
             "classified clean images.", ""]
    for output in group:
        lines += figure_line(output)
        blocks = seed_blocks(summary, output.key)
        if blocks:
            lines += [f"Per evaluation cap (mean over {len(blocks)} seed(s), 95% interval; "
                      f"{blocks[0]['n']} test images per seed):", "",
                      masking_table(blocks, blocks[0]["n"]), "",
                      "The effects per evaluation cap (PGD robust accuracy, points, paired "
                      "over the seeds, 95% interval), and the share of images where the margin's "
                      "input gradient is exactly zero:", "", effects_table(blocks), ""]
    return lines


@finds("masking")
def masking_findings(group, summary: dict) -> list[str]:
    blocks = seed_blocks(summary, group[0].key)
    if not blocks:
        return []
    result, lines = verdict(blocks)
    word = {"supported": "holds", "refuted": "fails"}.get(result, "inconclusive")
    return ([Paragraph(f"_Does float32 softmax saturation mask the gradient at large caps? "
                       f"Computed from the numbers: the hypothesis is {result}_ "
                       f"{mark(word)}")] + lines + rise_lines(blocks)
            + [margin_zero_line(blocks)])


#: How the findings name Figure 7's cases: ``landscape.CASES``' words, capitalised.
CASE_NAMES = {case: words[0].upper() + words[1:] for case, words in CASES.items()}


def case_line(case: str, land, n_test: int, eps) -> str:
    """One case of Figure 7: the image chosen and why, the plateau's share of its slice, plain
    PGD's result and the search's, with its steps."""
    if land is None:
        return f"{CASE_NAMES[case]}: no image of the {n_test} in the subset meets it."
    zero = (f"found an exactly zero gradient after {land['zero_steps']} step(s)"
            if land["zero_found"] else f"found no zero gradient in {land['zero_steps']} steps")
    return (f"{CASE_NAMES[case]}: test image #{land['index']} of the subset (label "
            f"{land['label']}), chosen as: {land['selection']}. The exactly-zero-gradient "
            f"plateau covers {100.0 * land['plateau_fraction']:.1f}% of its "
            f"{len(land['a'])} × {len(land['b'])} slice (u: {land['u']}). Plain PGD (eps "
            f"{eps}) {'succeeded' if land['pgd_success'] else 'failed'} on its path "
            f"({len(land['pgd_path']) - 1} steps; in the batch run: "
            f"{'succeeded' if land['pgd_batch_success'] else 'failed'}); the zero-gradient "
            f"search {zero}.")


@finds("landscape")
def landscape_findings(group, summary: dict) -> list[str]:
    """Per case of the first seed's block, the image chosen, the plateau's share of the slice
    and which path succeeded; then the subset's counts that justify the picks."""
    out = []
    for output in group:
        blocks = seed_blocks(summary, output.key)
        if not blocks:
            continue
        block, n = blocks[0], blocks[0]["n_test"]
        out.append(f"Figure {output.number}, the first seed's network and its {n}-image subset:")
        out += [case_line(case, block["cases"].get(case), n, block["eps"])
                for case in CASE_NAMES]
        out.append(f"Over the subset: {block['n_correct']:g} of {n} correctly classified; "
                   f"{block['n_zero_at_x']:g} of them with an exactly zero gradient at x; of "
                   f"those with a nonzero gradient at x, the search found a zero gradient "
                   f"(after >= 1 step) on {block['n_search_found']:g} and none on "
                   f"{block['n_search_failed']:g}.")
    return out
