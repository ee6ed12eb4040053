"""Table 1 beside the paper's: the Markdown tables, ``table1.md`` and the report's Table 1 section.

Our rows are fractions in [0, 1]; the paper's (``paper.TABLE1``) are percent. Rows come in the
paper's order (adversarial training, then beta ∞, 1, 0.1, 0.01); rows the paper lacks come last.
The claims tested on Table 1 are in :mod:`.table1_claims`.
"""
from __future__ import annotations

import math

from .. import paper, stats
from .format import DASH, adv_label, beta_cell, fmt, md_table, num, signed
from .intervals import seed_blocks
from .registry import renders

HEADING = ("Table 1: accuracy of MNIST two-hidden-layer classifiers with general and capped "
           "ReLU, on clean, FGSM, PGD and CW-L2 test samples")
METRIC_LABELS = {"clean": "Clean", "fgsm": "FGSM", "pgd": "PGD", "cw": "CW-L2"}
LEGEND = ("Each cell: **ours (paper, ours − paper)**, in percent. Max val. is the cap β of HL2 "
          "(— = general ReLU); Adv. training — = none.")


def row_key(row: dict) -> tuple:
    """(beta, adversarial training) of a row, with beta rounded so that 0.1 matches 0.1."""
    beta = row["beta"]
    return (None if beta is None else round(float(beta), 9), str(row["adv_training"]).lower())


def sorted_rows(rows: list) -> list:
    """``rows`` in the paper's order; rows the paper lacks last, in their own order."""
    order = {row_key(r): i for i, r in enumerate(paper.TABLE1)}
    return [r for _, r in sorted(enumerate(rows),
                                 key=lambda ir: (order.get(row_key(ir[1]), len(order)), ir[0]))]


def _cell(row: dict, metric: str, paper_row: dict | None, iv=None) -> str:
    ours = num(row[metric])
    if not math.isfinite(ours):
        cell = DASH
    else:
        cell = f"{100.0 * ours:.2f}"
        std = num(row.get(f"{metric}_std"))   # rows of the old Table 1 over seeds
        bounds = iv.get(metric) if isinstance(iv, dict) else None
        if isinstance(bounds, list) and len(bounds) == 2 and bounds[0] != bounds[1]:
            cell += f" [{100.0 * num(bounds[0]):.2f}, {100.0 * num(bounds[1]):.2f}]"
        elif math.isfinite(std):
            cell += f" ± {100.0 * std:.2f}"
    if paper_row is not None:
        theirs = paper_row[metric]
        cell += (f" ({theirs:.2f}, {signed(100.0 * ours - theirs)})" if math.isfinite(ours)
                 else f" ({theirs:.2f})")
    return cell


def table1_markdown(rows: list, intervals: list | None = None) -> str:
    """Table 1 in Markdown; each cell "ours (paper, ours − paper)" in percent, 2 decimals.

    With ``intervals`` (the rows' interval block, each number ``[lo, hi]``) a cell reads
    "mean [lo, hi] (paper, diff)"; with ``<metric>_std`` keys (the old rows averaged over seeds)
    "ours ± std (paper, diff)". Rows the paper lacks show ours only; missing values a dash.
    """
    ivs = {id(r): iv for r, iv in zip(rows, intervals or [])}
    header = ["Max val.", "Adv. training"] + [f"{METRIC_LABELS[m]} %"
                                              for m in paper.TABLE1_METRICS]
    body = []
    for row in sorted_rows(rows):
        theirs = paper.table1_row(row["beta"], row["adv_training"])
        body.append([beta_cell(row["beta"]), adv_label(row["adv_training"])]
                    + [_cell(row, m, theirs, ivs.get(id(row))) for m in paper.TABLE1_METRICS])
    return md_table(header, body)


def cw_table(rows: list) -> str:
    """The CW-L2 details per row: mean L2 norm of the perturbations found, samples attacked."""
    body = [[beta_cell(r["beta"]), adv_label(r["adv_training"]), fmt(r["cw_mean_l2"]),
             str(r["n_cw"])] for r in sorted_rows(rows)]
    return md_table(["Max val.", "Adv. training", "CW mean L2 of adversarials", "CW samples"],
                    body)


def _seed_suffix(summary: dict) -> str:
    meta = summary.get("meta")          # absent in synthetic summaries
    run_seeds = (meta or {}).get("seeds") or sorted(summary.get("runs") or {}, key=int)
    if len(run_seeds) >= 2:
        return f": mean over seeds {', '.join(str(s) for s in run_seeds)}"
    return f" (seed {meta['seed']})" if meta else ""


def _legend(summary: dict) -> str:
    method = (summary.get("interval_methods") or {}).get("table1")
    if not method:
        return LEGEND
    return (f"Each cell: **mean [95% interval] (paper, mean − paper)**, in percent; intervals: "
            f"{method}. Max val. is the cap β of HL2 (— = general ReLU); Adv. training — = none.")


def prediction_cells(summary: dict) -> list[tuple]:
    """Per paper cell: ``(row, metric, paper %, prediction interval)``, the 95% prediction
    interval of one new run from our seeds (:func:`nprelu.stats.prediction_interval`, logit
    scale over the n test images of the column), the right reference for the paper's single
    run (the interval of our mean is not). Empty with fewer than 2 seeds."""
    blocks = seed_blocks(summary, "table1")
    if len(blocks) < 2:
        return []
    out = []
    for row in sorted_rows(blocks[0]):
        theirs = paper.table1_row(row["beta"], row["adv_training"])
        if theirs is None:
            continue
        per = [next((r for r in b if row_key(r) == row_key(row)), None) for b in blocks]
        for metric in paper.TABLE1_METRICS:
            vals = [num(r[metric]) for r in per if r is not None]
            vals = [v for v in vals if math.isfinite(v)]
            if len(vals) < 2 or not all(0.0 <= v <= 1.0 for v in vals):
                continue
            n = row.get("n_cw") if metric == "cw" else row.get("n")
            out.append((row, metric, theirs[metric],
                        stats.prediction_interval(vals, "proportion", n)))
    return out


def prediction_lines(summary: dict) -> list[str]:
    """The paper's numbers against our prediction intervals of one new run, as a table."""
    cells = prediction_cells(summary)
    if not cells:
        return []
    inside = sum(pi.lo <= p / 100.0 <= pi.hi for _, _, p, pi in cells)
    body = []
    for row in sorted_rows(list({id(c[0]): c[0] for c in cells}.values())):
        line = [beta_cell(row["beta"]), adv_label(row["adv_training"])]
        for metric in paper.TABLE1_METRICS:
            c = next((c for c in cells if c[0] is row and c[1] == metric), None)
            if c is None:
                line.append(DASH)
                continue
            _, _, p, pi = c
            where = "inside" if pi.lo <= p / 100.0 <= pi.hi else (
                "below" if p / 100.0 < pi.lo else "above")
            line.append(f"[{100 * pi.lo:.2f}, {100 * pi.hi:.2f}] ({p:.2f}: {where})")
        body.append(line)
    n_seeds = len(seed_blocks(summary, "table1"))
    return [f"The paper's single run against our **95% prediction interval of one new run** "
            f"(from {n_seeds} seeds, logit scale; docs/statistics.md): the paper's number lies "
            f"inside it in **{inside} of {len(cells)}** cells. Each cell: [interval] (paper: "
            "inside, below or above), in percent.", "",
            md_table(["Max val.", "Adv. training"] + [f"{METRIC_LABELS[m]} %"
                                                      for m in paper.TABLE1_METRICS], body), ""]


def table1_lines(summary: dict, level: str = "##") -> list[str]:
    """Our Table 1 (one seed) and its CW details, then the mean over seeds, when present."""
    lines = []
    rows = summary.get("table1")
    if rows:
        ivs = (summary.get("intervals") or {}).get("table1")
        lines += [f"{level} Our run{_seed_suffix(summary)}", "", _legend(summary), "",
                  table1_markdown(rows, ivs), "",
                  "CW-L2 details (mean L2 norm of the CW perturbations found, and the number of "
                  "test samples attacked with CW):", "", cw_table(rows), ""]
        lines += prediction_lines(summary)
    seeds = summary.get("table1_seeds")       # older summaries: Table 1 over seeds apart
    if seeds and seeds["rows"]:
        lines += [f"{level} Mean ± standard deviation over {seeds['n_seeds']} seeds", "",
                  "Each cell: **mean ± std (paper, mean − paper)**, in percent.", "",
                  table1_markdown(seeds["rows"]), ""]
    return lines


def has_table1(summary: dict) -> bool:
    """Whether ``summary`` holds Table 1 rows (one seed, or the mean over seeds)."""
    seeds = summary.get("table1_seeds")
    return bool(summary.get("table1") or (seeds and seeds["rows"]))


def table1_text(summary: dict) -> str:
    """The text of ``table1.md``."""
    return "\n".join([f"# {HEADING}", ""] + table1_lines(summary)).rstrip() + "\n"


@renders("table1")
def section_body(output, summary: dict, figure_line) -> list[str]:
    return table1_lines(summary, "###")
