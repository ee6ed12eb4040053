"""The section on the CW-L2 gap (issue 14): which CW variant, if any, gives the paper's Table 1
CW-L2 numbers.

Reads the ``cw_gap`` block. Every number is the mean over the seeds with its 95% interval
(Student t over the seeds; one seed: Wilson over the test images), and every sentence is
computed: a variant *reproduces* the paper's number for a network when the paper's number lies
inside the interval of that variant's accuracy (no L2 bound, Table 1's measure) and that
interval is at most :data:`MAX_WIDTH` wide (ours: a wider one holds the paper's number without
deciding anything, and is reported as inconclusive). The accuracy
at an L2 budget is reported beside it, and also matched, as a second reading (the paper gives
no budget). Percentages here have one decimal.

Agreement is counted only where it can tell the variants apart (:func:`informative`): a network
where every variant's interval holds the paper's number, or lies with it below
:data:`ABOUT_ZERO` (the paper and the variant both about 0), says nothing about which setting
the paper ran, and is left out of the count, with the number left out and why. What the numbers
exclude is said per variant (the informative networks whose interval misses the paper's
number) and per network (none of our variants holds it). The search budget we ran beside the
paper's (``paper.SECTION8["cw"]``) is part of the count's sentence.
"""
from __future__ import annotations

from .. import paper as paper_
from .format import DASH, Paragraph, adv_label, beta_label, md_table, num
from .intervals import iv_text, seed_blocks, seed_interval, values
from .registry import finds, renders


def _iv(summary: dict, i: int, name: str, field: str, k: int | None = None):
    """The interval of row ``i``'s ``variants[name][field]`` (``[k]`` of a list) over seeds."""
    blocks = seed_blocks(summary, "cw_gap")

    def get(b):
        v = b["rows"][i]["variants"][name][field]
        return v if k is None else v[k]
    n = summary["cw_gap"]["n"]
    return seed_interval(values(blocks, get), n if field in ("accuracy", "at_budget") else None)


MAX_WIDTH = 0.10   # widest interval (10 points) that can say "reproduced" (ours)
ABOUT_ZERO = 0.01  # below 1%, the paper's number and a variant's interval are "about 0" (ours)


def holds(iv, value) -> bool:
    """The paper's ``value`` lies in the interval ``iv`` (a point when it has no width)."""
    return iv is not None and value is not None and iv.lo <= float(value) <= iv.hi


def contains(iv, value) -> bool:
    """``value`` lies in ``iv`` and ``iv`` is at most :data:`MAX_WIDTH` wide: reproduced."""
    return holds(iv, value) and iv.hi - iv.lo <= MAX_WIDTH


def network(row: dict) -> str:
    return (f"β = {beta_label(row['beta'], '∞')}, adversarial training "
            f"{adv_label(row['adv_training']) if row['adv_training'] != 'none' else 'none'}")


def accuracy_table(summary: dict) -> str:
    """One row per network: the paper's CW-L2 %, then each variant's accuracy % [interval]."""
    block = summary["cw_gap"]
    names = block["variants"]
    body = []
    for i, r in enumerate(block["rows"]):
        paper = DASH if r["paper_cw"] is None else f"{100.0 * num(r['paper_cw']):.2f}"
        body.append([beta_label(r["beta"]), adv_label(r["adv_training"]), paper]
                    + [iv_text(_iv(summary, i, v, "accuracy"), 100.0, 1, pct=True)
                       for v in names])
    return md_table(["Max val.", "Adv. training", "Paper CW-L2 %"] + [f"{v} %" for v in names],
                    body)


def budget_table(summary: dict) -> str:
    """Per network and variant: the accuracy % at each L2 budget and the median L2 [q1, q3]."""
    block = summary["cw_gap"]
    budgets = block["budgets"]
    body = []
    for r in block["rows"]:
        for v in block["variants"]:
            m = r["variants"][v]
            l2 = (DASH if m["l2_median"] is None else
                  f"{num(m['l2_median']):.3f} [{num(m['l2_q1']):.3f}, {num(m['l2_q3']):.3f}]")
            body.append([beta_label(r["beta"]), adv_label(r["adv_training"]), v]
                        + [f"{100.0 * num(a):.1f}" for a in m["at_budget"]]
                        + [f"{100.0 * num(m['accuracy']):.1f}", l2,
                           DASH if m["l2_mean"] is None else f"{num(m['l2_mean']):.3f}"])
    return md_table(["Max val.", "Adv. training", "Variant"]
                    + [f"% at L2 ≤ {b:g}" for b in budgets]
                    + ["% unbounded", "L2 median [q1, q3]", "L2 mean"], body)


def network_sentence(summary: dict, i: int) -> str:
    """Which variants' accuracy interval holds the paper's number for row ``i`` (or the closest
    one when none does), and which (variant, budget) pairs hold it."""
    block = summary["cw_gap"]
    r = block["rows"][i]
    paper = r["paper_cw"]
    if paper is None:
        return f"{network(r)}: the paper gives no CW-L2 number for this network."
    ivs = {v: _iv(summary, i, v, "accuracy") for v in block["variants"]}
    hits = [v for v, iv in ivs.items() if contains(iv, paper)]
    wide = [v for v, iv in ivs.items() if holds(iv, paper) and v not in hits]
    head = f"{network(r)}, paper {100.0 * float(paper):.2f}%: "
    if hits:
        text = head + "the paper's CW-L2 number is reproduced by " + ", ".join(
            f"{v} ({iv_text(ivs[v], 100.0, 1, pct=True)}%)" for v in hits)
    else:
        near = min((v for v in ivs if ivs[v] is not None),
                   key=lambda v: abs(ivs[v].mean - float(paper)), default=None)
        text = head + "no CW variant we ran reproduces it" + (
            "" if near is None else f"; the closest is {near} at "
            f"{iv_text(ivs[near], 100.0, 1, pct=True)}% "
            f"({100.0 * (ivs[near].mean - float(paper)):+.1f} points)")
    if wide:
        text += ("; inside the interval of " + ", ".join(wide) + f", but one wider than "
                 f"{100 * MAX_WIDTH:g} points (inconclusive)")
    at = [f"{v} at L2 ≤ {b:g}" for v in block["variants"] for k, b in enumerate(block["budgets"])
          if contains(_iv(summary, i, v, "at_budget", k), paper)]
    if at:
        text += "; read as an accuracy at an L2 budget, it lies in the interval of " + ", ".join(at)
    elif not hits:
        text += "; no accuracy at an L2 budget holds it either"
    if not informative(summary, i):
        text += "; not informative (every variant holds it or is about 0 with it): not counted"
    return text + "."


def about_zero(iv, value) -> bool:
    """The variant's interval and the paper's ``value`` both lie below :data:`ABOUT_ZERO`."""
    return iv is not None and value is not None and iv.hi < ABOUT_ZERO and float(value) < ABOUT_ZERO


def informative(summary: dict, i: int) -> bool:
    """Whether row ``i`` can tell the variants apart: some variant's interval neither holds the
    paper's number nor lies, with it, about 0 (module doc)."""
    block = summary["cw_gap"]
    paper = block["rows"][i]["paper_cw"]
    ivs = [_iv(summary, i, v, "accuracy") for v in block["variants"]]
    return paper is not None and any(not (holds(iv, paper) or about_zero(iv, paper))
                                     for iv in ivs)


def budget_text(summary: dict) -> str:
    """"our CW ran 6 search steps × 1,000 iterations where the paper ran 9 × 10,000"."""
    ours = ((summary.get("meta") or {}).get("settings") or {}).get("cw_gap") or {}
    theirs = paper_.SECTION8["cw"]
    if "search_steps" not in ours or "max_iter" not in ours:
        return ""
    return (f"our CW ran {ours['search_steps']} search steps × {ours['max_iter']:,} iterations "
            f"where the paper ran {theirs['search_steps']} × {theirs['max_iter']:,}")


def overall(summary: dict) -> list[str]:
    """Per variant, on the informative networks (:func:`informative`): in how many its interval
    holds the paper's number; the networks left out and why; what the numbers exclude."""
    block = summary["cw_gap"]
    rows = [i for i, r in enumerate(block["rows"]) if r["paper_cw"] is not None]
    kept = [i for i in rows if informative(summary, i)]
    left = [i for i in rows if i not in kept]
    ivs = {(i, v): _iv(summary, i, v, "accuracy") for i in rows for v in block["variants"]}
    counts = {v: sum(contains(ivs[i, v], block["rows"][i]["paper_cw"]) for i in kept)
              for v in block["variants"]}
    parts = ", ".join(f"{v} {c} of {len(kept)}" for v, c in counts.items())
    budget = budget_text(summary)
    full = [v for v, c in counts.items() if kept and c == len(kept)]
    head = (f"The paper's CW-L2 numbers are reproduced by {', '.join(full)} on every informative "
            f"network" if full else "No CW variant we ran reproduces the paper's CW-L2 numbers "
            "on every informative network")
    out = [f"{head}{' (' + budget + ')' if budget else ''}: the paper's number lies inside a "
           f"variant's interval for {parts} informative networks."]
    if left:
        out.append(f"{len(left)} of the {len(rows)} networks are left out of that count ("
                   + "; ".join(network(block["rows"][i]) for i in left) + "): there every "
                   f"variant's interval holds the paper's number or lies with it below "
                   f"{100 * ABOUT_ZERO:g}%, so agreement there cannot tell which setting the "
                   f"paper ran.")
    excluded = []
    for v in block["variants"]:
        miss = [i for i in kept if ivs[i, v] is not None
                and not holds(ivs[i, v], block["rows"][i]["paper_cw"])]
        if miss:
            excluded.append(f"{v} on {len(miss)} of {len(kept)}")
    nobody = [i for i in kept if not any(holds(ivs[i, v], block["rows"][i]["paper_cw"])
                                         for v in block["variants"])]
    if excluded:
        text = ("What the numbers exclude: the paper's number lies outside the interval of "
                + ", ".join(excluded) + " informative networks")
        if nobody:
            text += ("; no variant we ran gives the paper's " + ", ".join(
                f"{100.0 * float(block['rows'][i]['paper_cw']):.2f}% at "
                f"{network(block['rows'][i])}" for i in nobody))
        out.append(text + (f" ({budget}: a larger budget may close part of the gap)"
                           if budget else "") + ".")
    return out


@renders("cw_gap")
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was run, the figure, and the two tables."""
    block = summary.get("cw_gap")
    lines = ["Table 1's CW-L2 column is far below ours on the capped networks. Each network "
             "trained without or with PGD is attacked by plain CW-L2 and by CW-L2 through BPDA "
             "(the capped layer's derivative replaced by ReLU's or the identity) and from "
             "random starts, all with the same reduced search budget (the settings below); "
             "a sample counts as robust at an L2 budget unless CW broke it within that "
             "distance.", ""]
    for output in group:
        lines += figure_line(output)
    if block and block["rows"]:
        lines += [f"Accuracy under each CW variant on {block['n']} test images per seed "
                  "(percent, mean [95% interval]), beside the paper's Table 1:", "",
                  accuracy_table(summary), "",
                  "Accuracy at L2 budgets and the L2 of the successful examples (means over "
                  "seeds):", "", budget_table(summary), ""]
    return lines


@finds("cw_gap")
def cw_gap_findings(group, summary: dict) -> list[str]:
    block = summary.get("cw_gap")
    if not block or not block["rows"]:
        return []
    return ([Paragraph("_Which CW setting gives the paper's CW-L2 numbers? Computed from the "
                       "intervals above:_")] + overall(summary)
            + [network_sentence(summary, i) for i in range(len(block["rows"]))])
