"""The section on CW-L2 at the paper's budget (issue 24 item 5): is the CW gap the budget?

Reads the ``cw_paper`` block (CW-L2 at 9 x 10,000 on Table 1's capped networks without
adversarial training, true gradient ``cw`` and BPDA ``cw_bpda_relu``) and, where the summary
has it, the ``cw_gap`` block of the same seeds (plain CW at the reduced budget on the same test
images). Per network and seed::

    d_budget = A(plain CW, paper's budget, seed s) - A(plain CW, reduced budget, seed s)
    d_grad   = A(BPDA-ReLU CW, paper's budget, seed s) - A(plain CW, paper's budget, seed s)

paired per seed over the seeds that have both (:func:`.intervals.difference`), tested by
:func:`.families.significance` (paired t over the seeds; one seed: the two-proportion z test
over the test images); each question's comparisons (one per network) are one family,
Holm-corrected (:class:`.families.Family`), and judged by the symmetric rule
(:func:`nprelu.stats.decide`) on the claim "lowers the accuracy" (sign -1): lowers (holds),
raises (fails), no difference shown (inconclusive). The paper's single Table 1 number is judged
against our 95% prediction interval of one new run at the paper's budget
(:func:`nprelu.stats.prediction_interval`, logit scale over the block's n images; at least 2
seeds), as the Table 1 section does: inside, below or above. Plain CW at the paper's budget
*reproduces* the paper's number where it lies inside that interval and the interval is at most
:data:`.cw_gap.MAX_WIDTH` wide (inside a wider one: inconclusive, as in the CW gap section);
there the budget can explain the gap, and where it lies outside the budget does not. Neither
question is a claim of the paper: no claim mark.

Where the summary has no ``cw_paper`` block (the committed results predate it) the section says
it is not run yet (:data:`NOT_RUN`); without ``cw_gap`` it gives its own numbers and says what it
cannot compare. The per-image paired comparison of the budgets is in :mod:`.paired`.
"""
from __future__ import annotations

from .. import paper as paper_
from .. import stats
from .cw_gap import MAX_WIDTH
from .families import Family, significance
from .format import DASH, Paragraph, beta_label, md_table, num
from .intervals import diff_text, difference, pct_cell, seeds
from .registry import finds, renders

KEY = "cw_paper"
GAP = "cw_gap"
#: The two questions: (A variant and block, B variant and block), the question, verdict words.
QUESTIONS = {
    "budget": (("cw", KEY), ("cw", GAP),
               "Does the paper's budget lower plain CW's accuracy? (paper's budget minus the "
               "reduced budget)",
               {"holds": "the paper's budget lowers it", "fails": "the paper's budget raises it",
                "inconclusive": "no difference shown between the budgets"}),
    "gradient": (("cw_bpda_relu", KEY), ("cw", KEY),
                 "Does the surrogate gradient lower it at the paper's budget? (BPDA-ReLU minus "
                 "the true gradient)",
                 {"holds": "the surrogate lowers it", "fails": "the surrogate raises it",
                  "inconclusive": "no difference shown between the gradients"}),
}
#: The paper's CW-L2 budget in words.
PAPER_CW = paper_.SECTION8["cw"]
PAPER_BUDGET = (f"{PAPER_CW['search_steps']} binary-search steps × {PAPER_CW['max_iter']:,} "
                f"iterations, lr {PAPER_CW['lr']:g}, initial c {PAPER_CW['c_init']:g}")
NOT_RUN = (f"CW-L2 at the paper's budget ({PAPER_BUDGET}, on the capped "
           "networks without adversarial training) is not run yet in this summary "
           "(`run_all.py --only cw_paper`), so these numbers cannot say whether the CW gap is "
           "the CW gap section's reduced budget.")


def paired_blocks(summary: dict) -> list[tuple]:
    """``[(cw_paper block, cw_gap block or None)]``, one per seed that has ``cw_paper``."""
    runs = summary.get("runs") or {}
    if runs:
        return [(runs[s][KEY], runs[s].get(GAP)) for s in seeds(summary) if KEY in runs[s]]
    return [(summary[KEY], summary.get(GAP))] if summary.get(KEY) else []


def _row(block: dict | None, beta) -> tuple:
    """``(i, row)`` of ``block``'s row without adversarial training capped at ``beta``."""
    for i, r in enumerate((block or {}).get("rows", [])):
        if r["adv_training"] == "none" and r["beta"] is not None \
                and abs(float(r["beta"]) - float(beta)) < 1e-12:
            return i, r
    return None, None


def _acc(block, beta, variant: str) -> float:
    return num(((_row(block, beta)[1] or {}).get("variants") or {}).get(variant, {}).get(
        "accuracy"))


def prediction(summary: dict, beta, variant: str):
    """Our 95% prediction interval of one new run of ``variant`` at the paper's budget on the
    network capped at ``beta``; None with fewer than 2 seeds."""
    vals = [v for v in (_acc(c, beta, variant) for c, _ in paired_blocks(summary)) if v == v]
    if len(vals) < 2:
        return None
    return stats.prediction_interval(vals, "proportion", summary[KEY]["n"])


def where(pi, value) -> str:
    """"inside", "below" or "above" the interval ``pi`` (a dash without one)."""
    if pi is None or value is None:
        return DASH
    v = float(value)
    return "inside" if pi.lo <= v <= pi.hi else ("below" if v < pi.lo else "above")


def verdicts(summary: dict) -> list[dict]:
    """Per row of the ``cw_paper`` block: ``{"row", "i", "pi"`` (plain CW's prediction interval),
    ``"pi_bpda"``, and per question of :data:`QUESTIONS` ``{"a", "b", "diff", "verdict", "p",
    "p_holm", "family"}`` (verdict None where no seed has both sides)``}`` (module doc)."""
    block = summary.get(KEY)
    if not block:
        return []
    pairs = paired_blocks(summary)
    n = block["n"]
    out = [{"row": r, "i": i, "pi": prediction(summary, r["beta"], "cw"),
            "pi_bpda": prediction(summary, r["beta"], "cw_bpda_relu")}
           for i, r in enumerate(block["rows"])]
    for q, ((va, ka), (vb, kb), name, _) in QUESTIONS.items():
        fam = Family(name)
        for v in out:
            beta = v["row"]["beta"]
            pick = {KEY: 0, GAP: 1}
            a = [_acc(p[pick[ka]], beta, va) for p in pairs]
            b = [_acc(p[pick[kb]], beta, vb) for p in pairs]
            v[q] = {"a": a, "b": b, "diff": difference(a, b, n),
                    "item": fam.add(significance(a, b, n), -1)}
        fam.settle([v[q] for v in out], missing=None)
    return out


def verdict_words(v: dict, q: str) -> str:
    return "not compared" if v[q]["verdict"] is None else QUESTIONS[q][3][v[q]["verdict"]]


def judged(v: dict) -> str | None:
    """The paper's number against plain CW's prediction interval at the paper's budget:
    "reproduced" (inside one at most :data:`.cw_gap.MAX_WIDTH` wide), "wide" (inside a wider
    one), "below" or "above"; None where it cannot be judged (no number, one seed)."""
    paper, pi = v["row"]["paper_cw"], v["pi"]
    if paper is None or pi is None:
        return None
    side = where(pi, paper)
    if side != "inside":
        return side
    return "reproduced" if pi.hi - pi.lo <= MAX_WIDTH else "wide"


def explains(v: dict) -> str:
    """Whether the paper's budget explains the gap of one network, in words (module doc)."""
    if v["row"]["paper_cw"] is None:
        return "the paper gives no CW-L2 number"
    verdict = judged(v)
    if verdict is None:
        return "not judged (one seed: no prediction interval)"
    if verdict == "reproduced":
        return ("plain CW at the paper's budget reproduces the paper's number (inside our "
                "prediction interval): the budget can explain the gap")
    if verdict == "wide":
        return (f"the paper's number is inside our prediction interval at its budget, but one "
                f"wider than {100 * MAX_WIDTH:g} points: inconclusive")
    return (f"the paper's number is {verdict} our prediction interval at its budget: the budget "
            "does not explain the gap")


def _p(p: float) -> str:
    return DASH if p != p else "<0.001" if p < 0.001 else f"{p:.3f}"


def _cell(summary: dict, key: str, beta, variant: str) -> str:
    i, r = _row(summary.get(key), beta)
    if r is None:
        return DASH
    iv = ((summary.get("intervals") or {}).get(key) or {}).get("rows")
    bounds = iv[i]["variants"][variant]["accuracy"] if iv else None
    return pct_cell(r["variants"][variant]["accuracy"], bounds, summary[key].get("n"))


def _pi_cell(pi, paper) -> str:
    return DASH if pi is None else f"[{100 * pi.lo:.1f}, {100 * pi.hi:.1f}] ({where(pi, paper)})"


def accuracy_table(summary: dict, found: list) -> str:
    """Per network: the paper's number, plain CW at the reduced budget, plain and BPDA-ReLU CW
    at the paper's budget (mean [95% interval] %), and the paper's number against our
    prediction intervals."""
    body = []
    for v in found:
        r, beta = v["row"], v["row"]["beta"]
        paper = r["paper_cw"]
        body.append([beta_label(beta), DASH if paper is None else f"{100 * float(paper):.2f}",
                     _cell(summary, GAP, beta, "cw"), _cell(summary, KEY, beta, "cw"),
                     _cell(summary, KEY, beta, "cw_bpda_relu"), _pi_cell(v["pi"], paper),
                     _pi_cell(v["pi_bpda"], paper)])
    return md_table(["Max val.", "Paper CW-L2 %", "Plain CW, reduced budget %",
                     "Plain CW, paper's budget %", "BPDA-ReLU CW, paper's budget %",
                     "Prediction interval, plain % (paper)", "Prediction interval, BPDA % "
                     "(paper)"], body)


def comparison_table(found: list) -> str:
    """Per network, each question's difference (points), Holm p and verdict."""
    size = {q: found[0][q]["family"] if found else 0 for q in QUESTIONS}
    return md_table(["Max val.", "Paper's − reduced budget, plain (points)",
                     f"Holm p (family of {size['budget']})", "Verdict", "BPDA − true gradient, "
                     "paper's budget (points)", f"Holm p (family of {size['gradient']})",
                     "Verdict"],
                    [[beta_label(v["row"]["beta"])]
                     + [x for q in QUESTIONS for x in (
                         diff_text(v[q]["diff"], unit=""), _p(v[q]["p_holm"]),
                         verdict_words(v, q))] for v in found])


def budget_line(block: dict) -> str:
    """"the paper's budget, 9 search steps × 10,000 iterations", or the budget the block ran
    where it is not the paper's (the quick profile) with the paper's beside it."""
    ran = f"{block['search_steps']} search steps × {block['max_iter']:,} iterations"
    if (block["search_steps"], block["max_iter"]) == (PAPER_CW["search_steps"],
                                                      PAPER_CW["max_iter"]):
        return f"the paper's budget, {ran}"
    return (f"{ran}, not the paper's budget ({PAPER_CW['search_steps']} × "
            f"{PAPER_CW['max_iter']:,}: this profile runs a smaller one)")


@renders(KEY)
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was run and why, the figure, the accuracies and the two comparisons."""
    block = summary.get(KEY)
    lines = ["The CW gap section runs its CW variants at a reduced budget, so the gap between "
             "our CW-L2 accuracy and the paper's Table 1 number could be that budget. Here each "
             "capped network of Table 1 without adversarial training is attacked by CW-L2 at "
             f"the paper's own budget (Section 8: {PAPER_BUDGET}), with the true gradient and "
             "through the cap (BPDA, the capped layer's derivative replaced by ReLU's), on the "
             "same test images as the CW gap section.", ""]
    for output in group:
        lines += figure_line(output)
    if not (block and block["rows"]):
        return lines + [NOT_RUN, ""]
    found = verdicts(summary)
    lines += [f"Accuracy under CW-L2 on {block['n']} test images per seed (percent, mean [95% "
              f"interval]; CW ran {budget_line(block)}), and the paper's number "
              "against our 95% prediction interval of one new run (inside, below or above):",
              "", accuracy_table(summary, found), ""]
    n_seeds = len(paired_blocks(summary))
    how = (f"paired over {n_seeds} seeds (t test of the differences)" if n_seeds > 1
           else "on one seed (two-proportion z test over the test images)")
    if not any(g for _, g in paired_blocks(summary)):
        lines += ["The cw_gap block, which holds plain CW at the reduced budget on the same "
                  "images, is not in this summary (`run_all.py --only cw_gap` with the same "
                  "seeds): the budgets are not compared.", ""]
    lines += [f"Differences {how}, each question's {len(found)} comparisons Holm-corrected "
              "together (claim: lowers the accuracy):", "", comparison_table(found), ""]
    return lines


def network_line(v: dict) -> str:
    """"β = 0.01, paper x%: paper's − reduced budget ... : **...**; ...; the budget ..."."""
    r = v["row"]
    paper = "" if r["paper_cw"] is None else f", paper {100 * float(r['paper_cw']):.2f}%"
    parts = [f"{what} {diff_text(v[q]['diff'])} (Holm p {_p(v[q]['p_holm'])}): "
             f"**{verdict_words(v, q)}**"
             for q, what in (("budget", "paper's − reduced budget, plain CW"),
                             ("gradient", "BPDA-ReLU − true gradient at the paper's budget"))]
    return f"β = {beta_label(r['beta'])}{paper}: " + "; ".join(parts) + f"; {explains(v)}."


def answer(found: list) -> str:
    """The question answered from the counts only."""
    total = len(found)
    lower = sum(v["budget"]["verdict"] == "holds" for v in found)
    compared = sum(v["budget"]["verdict"] is not None for v in found)
    text = (f"_Is the CW gap the budget?_ Of {total} capped networks without adversarial "
            f"training, " + (f"the paper's budget lowers plain CW's accuracy below the reduced "
                             f"budget's in {lower} of the {compared} compared" if compared else
                             "none is compared with the reduced budget (no cw_gap block)"))
    verdicts_ = [judged(v) for v in found]
    n_judged = sum(j is not None for j in verdicts_)
    if n_judged:
        counts = {w: verdicts_.count(w) for w in ("reproduced", "wide", "below", "above")}
        text += (f"; plain CW at the paper's budget reproduces the paper's number (inside our "
                 f"prediction interval) in {counts['reproduced']} of {n_judged}, misses it in "
                 f"{counts['below'] + counts['above']} and is inconclusive (an interval wider "
                 f"than {100 * MAX_WIDTH:g} points) in {counts['wide']}")
        text += (": the paper's budget can explain the gap." if counts["reproduced"] == n_judged
                 else ": the budget does not explain the gap where it misses it." if
                 counts["below"] + counts["above"] else ".")
    else:
        text += "; with one seed there is no prediction interval to judge the paper's number by."
    return text


@finds(KEY)
def cw_paper_findings(group, summary: dict) -> list[str]:
    block = summary.get(KEY)
    if not (block and block["rows"]):
        return [Paragraph(NOT_RUN)]
    found = verdicts(summary)
    return [Paragraph(answer(found))] + [network_line(v) for v in found]
