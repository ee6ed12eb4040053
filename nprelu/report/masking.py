"""The masking sections beyond the paper: float32 softmax saturation (``masking``) and Figure 7
from data (``landscape``: its three cases, zero gradient at x, search succeeds, search fails).

The verdict on the saturation hypothesis is computed from the numbers, over the
:data:`LARGE` largest evaluation caps (each seed's mean over them):

- **saturation present**: the fraction of samples whose float32 input gradient is exactly zero
  with a saturated softmax, p_y == 1.0, while the capped layer still passes a signal (cause
  "softmax"; "both" is the flat cap's doing as well) has a 95% interval above 0; **absent**
  when its upper end is below
  :data:`ABSENT` (ours);
- **attacks that cannot saturate do better**: PGD robust accuracy with cross-entropy in float32
  minus that with the margin loss (float32), and minus that with cross-entropy in float64, each
  judged on its interval (:func:`~nprelu.report.intervals.compare`: paired over seeds, Wilson
  with one seed).

Supported when saturation is present and both differences hold (are clearly above 0); refuted
when saturation is absent, or both differences fail (clearly below 0); inconclusive otherwise.
"""
from __future__ import annotations

from ..paper import FIG7_CASES as CASES
from .format import Paragraph, fmt, md_table
from .intervals import compare, diff_text, iv_text, mark, seed_blocks, seed_interval, values
from .registry import finds, renders

#: How many of the largest evaluation caps the verdict averages over (ours: 0.13-0.15 of 0.15).
LARGE = 3
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
    ("clean %", lambda b, i: b["standard"][i], True),
    ("logit gap", lambda b, i: b["logit_gap"][i], False),
)


def saturated(block: dict, i: int) -> float:
    """The float32 fraction whose input gradient is exactly zero because the softmax saturated,
    p_y == 1.0, while the capped layer still passes a signal (cause "softmax") at evaluation cap
    ``i``. Cause "both" is left out: the flat capped layer alone zeroes those gradients."""
    return block["zero_grad_f32"]["softmax"][i]


def masking_table(blocks: list, n) -> str:
    """One row per evaluation cap: each column's mean over the seeds with its 95% interval."""
    first = blocks[0]
    rows = []
    for i, beta in enumerate(first["betas_eval"]):
        cells = [fmt(beta, 3)]
        for _, get, pct in COLUMNS:
            iv = seed_interval(values(blocks, lambda b: get(b, i)), n if pct else None)
            cells.append(iv_text(iv, 100.0, 1, pct=True) if pct else iv_text(iv, 1.0, 1))
        rows.append(cells)
    return md_table(["β (eval)"] + [c[0] for c in COLUMNS], rows)


def _large_mean(block: dict, get) -> float:
    idx = range(max(len(block["betas_eval"]) - LARGE, 0), len(block["betas_eval"]))
    return sum(get(block, i) for i in idx) / max(len(idx), 1)


def verdict(blocks: list) -> tuple:
    """``(verdict, lines)``: the hypothesis judged as the module doc says."""
    n = blocks[0]["n"]
    sat = seed_interval(values(blocks, lambda b: _large_mean(b, saturated)), n)
    present = sat is not None and sat.lo > 0.0
    absent = sat is not None and sat.hi < ABSENT
    ce = values(blocks, lambda b: _large_mean(b, lambda c, i: c["pgd_ce_f32"][i]))
    tests = {}
    for key, name in (("pgd_margin_f32", "margin loss, float32"),
                      ("pgd_ce_f64", "cross-entropy, float64")):
        other = values(blocks, lambda b, k=key: _large_mean(b, lambda c, i: c[k][i]))
        tests[name] = compare(ce, other, 1, n)
    verdicts = [v for v, _ in tests.values()]
    if present and all(v == "holds" for v in verdicts):
        result = "supported"
    elif absent or all(v == "fails" for v in verdicts):
        result = "refuted"
    else:
        result = "inconclusive"
    betas = blocks[0]["betas_eval"][-LARGE:]
    lines = [f"Over the {len(betas)} largest evaluation caps (β = {fmt(betas[0], 3)} to "
             f"{fmt(betas[-1], 3)}), per seed averaged: float32 samples whose gradient is "
             f"exactly zero with p_y == 1.0 although the capped layer passes a signal "
             f"{iv_text(sat, 100.0, 2, pct=True)}% — "
             + ("clearly above 0." if present else f"clearly absent (below {100 * ABSENT:g}%)."
                if absent else "not clearly above 0.")]
    for name, (v, diff) in tests.items():
        lines.append(f"PGD robust accuracy with cross-entropy in float32 minus with the {name}: "
                     f"{diff_text(diff)} ({v or 'inconclusive'} for \"clearly lower than "
                     f"float32 cross-entropy's\").")
    return result, lines


def saturation_pointer(summary: dict, network: str) -> str | None:
    """A line for the PGD sweep of ``network`` when the masking study ran on it: its verdict
    and PGD with cross-entropy against the margin loss at the largest evaluation cap."""
    block = summary.get("masking")
    if not block or block.get("network") != network:
        return None
    blocks = seed_blocks(summary, "masking")
    result, _ = verdict(blocks)
    n = blocks[0]["n"]
    last = len(block["betas_eval"]) - 1
    ce, margin = (seed_interval(values(blocks, lambda b, k=k: b[k][last]), n)
                  for k in ("pgd_ce_f32", "pgd_margin_f32"))
    return (f"The {network} network capped at {block['capped_layer']}, trained at β="
            f"{fmt(block['trained_beta'], 3)}, at the evaluation cap β="
            f"{fmt(block['betas_eval'][last], 3)}: PGD with cross-entropy leaves "
            f"{iv_text(ce, 100.0, 1, pct=True)}%, PGD with the margin loss "
            f"{iv_text(margin, 100.0, 1, pct=True)}%; that float32 softmax saturation masks the "
            f"gradient at large caps is {result} (section \"a second masking mechanism\").")


@renders("masking")
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was measured, the figure and the per-beta table with intervals."""
    lines = ["Hypothesis (from Figures 6 and 10): larger caps scale the logits until the "
             "float32 softmax saturates (p_y rounds to 1.0), so the cross-entropy gradient "
             "dL/dZ = p - onehot(y) is 0 in its y entry and tiny elsewhere (exactly 0 once "
             "exp(-gap) underflows, a gap above about 104 in float32, or lost in the backward "
             "products): a masking mechanism apart from the cap's flat region. Exactly zero "
             "input gradients are split by cause: the capped layer passes nothing (cap), the "
             "softmax saturated (softmax: p_y == 1.0), or both; 'any' counts every exactly zero "
             "input gradient, 'p_y = 1' every saturated softmax, zero gradient or not. PGD is "
             "Figure 6's, run with cross-entropy (float32 and on a float64 twin of the "
             "network) and with the logit margin, whose gradient never vanishes. The logit "
             "gap Z_y − max_{i≠y} Z_i is averaged over correctly classified clean images.", ""]
    for output in group:
        lines += figure_line(output)
        blocks = seed_blocks(summary, output.key)
        if blocks:
            lines += [f"Per evaluation cap (mean over {len(blocks)} seed(s), 95% interval; "
                      f"{blocks[0]['n']} test images per seed):", "",
                      masking_table(blocks, blocks[0]["n"]), ""]
    return lines


@finds("masking")
def masking_findings(group, summary: dict) -> list[str]:
    blocks = seed_blocks(summary, group[0].key)
    if not blocks:
        return []
    result, lines = verdict(blocks)
    word = {"supported": "holds", "refuted": "fails"}.get(result, "inconclusive")
    return [Paragraph(f"_Does float32 softmax saturation mask the gradient at large caps? "
                      f"Computed from the numbers: the hypothesis is {result}_ "
                      f"{mark(word)}")] + lines


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
