"""The control (issue 24): can a capped ReLU be robust when it is adversarially trained honestly?

Table 1's adversarial training makes its examples with the true gradient, which a small cap
masks, so its capped networks may fall short of their uncapped twins because of that recipe
rather than the activation. The ``control`` block holds the same capped networks trained with
examples made through the cap (BPDA); the ``suite`` block of the same seeds holds the networks
they are compared with, evaluated on the same test images under the same suite. Per capped
network (beta, training attack), on the worst case (correct clean and under every attack):

    d_true = W(trained through the cap, seed s) - W(trained with the true gradient, seed s)
    d_twin = W(trained through the cap, seed s) - W(uncapped twin, same training, seed s)

each paired per seed over the seeds both blocks have (:func:`.intervals.difference`), tested
(:func:`.families.significance`: paired t over the seeds; one seed, the two-proportion z test
over the test images), the six comparisons of each question one family, Holm-corrected
(:class:`.families.Family`), and judged by the symmetric rule (:func:`nprelu.stats.decide`):
above (holds), below (fails) or no difference shown (inconclusive), as the title question is
(:mod:`.title`). Neither question is a claim of the paper: the verdicts are written without
the claim mark, so the report's claim counts stay the paper's.

Where the summary has no ``control`` block (the committed results predate it) the title
question's answer says "not run yet" (:func:`pointer`); without a ``suite`` block the section
gives the control's own numbers and says what it cannot compare.
"""
from __future__ import annotations

from ..experiments import OUTPUTS
from .families import Family, significance
from .format import DASH, Paragraph, adv_label, beta_label, md_table, num
from .intervals import diff_text, difference, pct_cell, seeds
from .registry import finds, renders
from .table1 import row_key

KEY = "control"
#: The two questions: what the comparison is, and its three verdicts in words.
QUESTIONS = {
    "vs_true": ("Does training through the cap change the worst case? (trained through the "
                "cap minus trained with the true gradient)",
                {"holds": "raises the worst case", "fails": "lowers the worst case",
                 "inconclusive": "no difference shown"}),
    "vs_twin": ("Does it reach the uncapped twin? (trained through the cap minus the uncapped "
                "twin)",
                {"holds": "above the uncapped twin", "fails": "below the uncapped twin",
                 "inconclusive": "no difference shown from the uncapped twin"}),
}
NOT_RUN = ("The control, the capped networks adversarially trained with examples made through "
           "the cap (BPDA), is not run yet in this summary (`run_all.py --only control`), so "
           "these numbers cannot say whether the capped networks' adversarially trained worst "
           "case reflects the activation or Table 1's true-gradient training recipe.")


def paired_blocks(summary: dict) -> list[tuple]:
    """``[(control block, suite block or None)]``, one per seed that has the control: the
    seeds of ``runs`` (the two blocks of one seed: same test images), or the one pair of a
    summary without ``runs``."""
    runs = summary.get("runs") or {}
    if runs:
        return [(runs[s][KEY], runs[s].get("suite")) for s in seeds(summary) if KEY in runs[s]]
    return [(summary[KEY], summary.get("suite"))] if summary.get(KEY) else []


def _find(block: dict | None, key: tuple) -> dict | None:
    return next((r for r in (block or {}).get("rows", []) if row_key(r) == key), None)


def verdicts(summary: dict) -> list[dict]:
    """Per row of the control block: ``{"row", "true", "twin"`` (the suite's mean rows, None
    where absent), and per question of :data:`QUESTIONS` ``{"a", "b", "diff", "verdict", "p",
    "p_holm", "family"}`` (verdict None where no seed has both sides)``}`` (module doc)."""
    block = summary.get(KEY)
    if not block:
        return []
    pairs = paired_blocks(summary)
    out = []
    for r in block["rows"]:
        key = row_key(r)
        out.append({"row": r, "true": _find(summary.get("suite"), key),
                    "twin": _find(summary.get("suite"), (None, key[1])), "key": key})
    for q, (name, _) in QUESTIONS.items():
        fam = Family(name)
        for v in out:
            other = v["key"] if q == "vs_true" else (None, v["key"][1])
            a = [num((_find(c, v["key"]) or {}).get("worst_case")) for c, _ in pairs]
            b = [num((_find(s, other) or {}).get("worst_case")) for _, s in pairs]
            v[q] = {"a": a, "b": b, "diff": difference(a, b, v["row"].get("n")),
                    "item": fam.add(significance(a, b, v["row"].get("n")), 1)}
        fam.settle([v[q] for v in out], missing=None)
    return out


def verdict_words(v: dict, q: str) -> str:
    """The verdict of question ``q`` on one network, in words ("not compared" without it)."""
    verdict = v[q]["verdict"]
    return "not compared" if verdict is None else QUESTIONS[q][1][verdict]


def _p(p: float) -> str:
    return DASH if p != p else "<0.001" if p < 0.001 else f"{p:.3f}"


def _cell(summary: dict, row: dict | None, key: str, i: int | None, field: str) -> str:
    """A mean row's ``field`` with its interval from ``summary["intervals"][key]``."""
    if row is None:
        return DASH
    iv = (summary.get("intervals") or {}).get(key) or {}
    bounds = iv["rows"][i][field] if i is not None and "rows" in iv else None
    return pct_cell(row.get(field), bounds, row.get("n"))


def _index(block: dict | None, row: dict | None) -> int | None:
    rows = (block or {}).get("rows", [])
    return next((i for i, r in enumerate(rows) if r is row), None)


def comparison_table(summary: dict, found: list) -> str:
    """Per network: the worst case trained with the true gradient, through the cap, and the
    uncapped twin's (mean [95% interval] %), then each question's difference, Holm p and
    verdict."""
    suite = summary.get("suite")
    size = found[0]["vs_true"]["family"] if found else 0
    body = []
    for i, v in enumerate(found):
        body.append([beta_label(v["row"]["beta"]), adv_label(v["row"]["adv_training"]),
                     _cell(summary, v["true"], "suite", _index(suite, v["true"]), "worst_case"),
                     _cell(summary, v["row"], KEY, i, "worst_case"),
                     _cell(summary, v["twin"], "suite", _index(suite, v["twin"]), "worst_case")]
                    + [x for q in QUESTIONS for x in (
                        diff_text(v[q]["diff"], unit=""), _p(v[q]["p_holm"]),
                        verdict_words(v, q))])
    return md_table(["Max val.", "Adv. training", "True-gradient training %",
                     "Through the cap %", "Uncapped twin %",
                     "Through − true (points)", f"Holm p (family of {size})", "Verdict",
                     "Through − twin (points)", f"Holm p (family of {size})", "Verdict"], body)


def numbers_table(summary: dict) -> str:
    """The control's own numbers per network: clean, Table 1's PGD, the worst case and the
    worst case over the attacks common to both twins, mean [95% interval] %."""
    fields = ("clean", "pgd_paper", "worst_case", "worst_case_common")
    rows = summary[KEY]["rows"]
    return md_table(["Max val.", "Adv. training", "Clean %", "PGD (Table 1's) %",
                     "Worst case %", "Worst case, common attacks %"],
                    [[beta_label(r["beta"]), adv_label(r["adv_training"])]
                     + [_cell(summary, r, KEY, i, f) for f in fields]
                     for i, r in enumerate(rows)])


@renders(KEY)
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was trained and why, the figure, the comparison and the control's own numbers."""
    block = summary.get(KEY)
    lines = ["Table 1's adversarial training makes its FGSM and PGD examples with the true "
             "gradient, which a small cap masks (its derivative, 1[0 < z < β], is 0 wherever "
             "the unit is saturated): at β = 0.01 the examples barely move and the training is "
             "close to clean training. Here the same capped networks are adversarially trained "
             "with examples made through the cap (BPDA, the cap's derivative replaced by "
             "ReLU's), the forward pass and everything else as in Table 1, and evaluated on the "
             "same test images under the same suite as the suite section's networks.", ""]
    for output in group:
        lines += figure_line(output)
    if not (block and block["rows"]):
        return lines + [NOT_RUN, ""]
    found = verdicts(summary)
    if summary.get("suite"):
        n_seeds = len(paired_blocks(summary))
        how = (f"paired over {n_seeds} seeds (t test of the differences)" if n_seeds > 1
               else "on one seed (two-proportion z test over the test images)")
        lines += [f"Worst case per network (percent, mean [95% interval]) and the differences "
                  f"{how}, each question's {len(found)} comparisons Holm-corrected together:",
                  "", comparison_table(summary, found), ""]
    else:
        lines += ["The suite block, which holds the networks this one is compared with (the "
                  "true-gradient adversarially trained capped networks and the uncapped twins), "
                  "is not in this summary (`run_all.py --only suite` with the same seeds): no "
                  "comparison.", ""]
    return lines + ["The networks trained through the cap, under the suite (percent, mean "
                    "[95% interval]):", "", numbers_table(summary), ""]


@finds(KEY)
def control_findings(group, summary: dict) -> list[str]:
    """The answer in counts, then one line per network."""
    block = summary.get(KEY)
    if not (block and block["rows"]):
        return [Paragraph(NOT_RUN)]
    found = verdicts(summary)
    if not summary.get("suite"):
        return [Paragraph("_The control is in this summary but the suite block it is compared "
                          "with is not: no verdict._")]
    return [Paragraph(answer(found))] + [network_line(v) for v in found]


def network_line(v: dict) -> str:
    """"β = 0.01, PGD: through the cap − true gradient +30.1 [..] points (Holm p 0.004):
    **raises the worst case**; through the cap − uncapped twin ...: **below the twin**"."""
    r = v["row"]
    parts = [f"{what} {diff_text(v[q]['diff'])} (Holm p {_p(v[q]['p_holm'])}): "
             f"**{verdict_words(v, q)}**"
             for q, what in (("vs_true", "through the cap − true-gradient training"),
                             ("vs_twin", "through the cap − uncapped twin"))]
    return f"β = {beta_label(r['beta'])}, {adv_label(r['adv_training'])}: " + "; ".join(parts)


def answer(found: list) -> str:
    """The two questions answered from the verdicts' counts only."""
    def count(q, verdict):
        return sum(v[q]["verdict"] == verdict for v in found)
    total = len(found)
    raised, lowered = count("vs_true", "holds"), count("vs_true", "fails")
    above, below = count("vs_twin", "holds"), count("vs_twin", "fails")
    text = (f"_Can a capped ReLU be robust when it is trained honestly?_ Of {total} capped "
            f"networks, training through the cap instead of with the true gradient raises the "
            f"worst case in {raised}, lowers it in {lowered} and shows no difference in "
            f"{total - raised - lowered}; trained through the cap, {above} are above their "
            f"uncapped twin, {below} below it and {total - above - below} show no difference "
            "from it. ")
    if raised > total - raised:
        text += ("For most of them Table 1's recipe, not the cap alone, held the worst case "
                 "down. ")
    if below > total - below:
        text += "Even trained through the cap, most stay below the uncapped twin."
    elif above + (total - above - below) == total:
        text += "Trained through the cap, none is shown below the uncapped twin."
    return text.strip()


def pointer(summary: dict, anchors: dict) -> str:
    """One line for the title question: the control's counts with a link to its section, or
    :data:`NOT_RUN`."""
    block = summary.get(KEY)
    if not (block and block["rows"]):
        return NOT_RUN
    if not summary.get("suite"):
        return "The control is in this summary without the suite block: no comparison."
    title = OUTPUTS[KEY].title
    where = f"[the control](#{anchors[title][0]})" if title in anchors else "the control"
    return f"From {where}: " + answer(verdicts(summary))
