"""The title question across eps: "does capping help?" at every eps the summary holds.

Eps 0.1 is the suite's own rows (``suite`` block); eps 0.05, 0.15 and 0.2 are the rows of the
``title_eps`` block, the same suite, budget and test images at another radius. At each eps the
nine capped networks are compared with their uncapped twins exactly as at 0.1
(:func:`.title.twin_verdicts`: per measure the paired difference over the seeds, the symmetric
rule, "depends on the attack mix" where the measures disagree).

The family: **each eps is its own family** of the nine twin comparisons per measure, Holm within
it, as at eps 0.1. Each eps asks its own question ("does capping help against attacks of this
size?"), and the per-eps verdict is what the report states. Across eps no correction is made:
a "capping helps" anywhere in the range is then found more easily than in one family of 36, so
the answer "capping helps at no eps of the range" is the conservative side; a "helps" or
"hurts" at one eps is read as that eps's family's verdict (docs/statistics.md).

The one-line answer (:func:`one_line`) names the eps range it covers and is computed from the
verdicts' counts; nothing here is written by hand.
"""
from __future__ import annotations

from .format import DASH, Paragraph, adv_label, beta_label, md_table
from .intervals import diff_text, seed_blocks
from .registry import finds, renders
from .table1 import row_key
from .title import VERDICT_WORDS, twin_verdicts, verdict_counts

KEY = "title_eps"
#: Where each eps's rows come from: the suite's at its own eps, this block's at the others.
SUITE = "suite"
SHORT = {VERDICT_WORDS["holds"]: "helps", VERDICT_WORDS["fails"]: "hurts",
         VERDICT_WORDS["inconclusive"]: "no difference shown",
         VERDICT_WORDS["mixed"]: "depends on the attack mix"}


def eps_rows(summary: dict) -> dict:
    """``{eps: (mean rows, [rows of each seed])}`` for every eps the summary holds, sorted: the
    suite's rows at its eps, the ``title_eps`` rows at each of theirs (the suite wins a tie)."""
    out = {}
    block = summary.get(KEY)
    if block and block.get("rows"):
        seeds = [b["rows"] for b in seed_blocks(summary, KEY)]
        for eps in dict.fromkeys(r["eps"] for r in block["rows"]):
            out[float(eps)] = ([r for r in block["rows"] if r["eps"] == eps],
                               [[r for r in rs if r["eps"] == eps] for rs in seeds])
    suite = summary.get(SUITE)
    if suite and suite.get("rows"):
        out[float(suite["eps"])] = (suite["rows"],
                                    [b["rows"] for b in seed_blocks(summary, SUITE)])
    return dict(sorted(out.items()))


def per_eps(summary: dict) -> dict:
    """``{eps: twin verdicts}`` (:func:`.title.twin_verdicts`, a family per eps), sorted."""
    return {eps: twin_verdicts(rows, seeds) for eps, (rows, seeds) in eps_rows(summary).items()}


def eps_words(eps: list) -> str:
    """"eps 0.1 alone", or "eps 0.05–0.2 (0.05, 0.1, 0.15, 0.2)"."""
    if not eps:
        return "no eps"
    if len(eps) == 1:
        return f"eps {eps[0]:g} alone"
    return f"eps {min(eps):g}–{max(eps):g} ({', '.join(f'{e:g}' for e in eps)})"


def _names(verdicts: list, word: str) -> str:
    """"β=0.01 without adversarial training, β=0.1 with FGSM training": the networks whose
    verdict is ``word``."""
    def training(adv):
        return ("without adversarial training" if adv == "none"
                else f"with {adv_label(adv)} training")
    return ", ".join(f"β={beta_label(v['row']['beta'])} {training(v['row']['adv_training'])}"
                     for v in verdicts if v["verdict"] == word)


def one_line(summary: dict) -> str:
    """The title question's answer in one sentence, naming the eps range it covers (module doc);
    computed from the verdicts' counts at each eps."""
    found = per_eps(summary)
    if not found or not any(found.values()):
        return ("The title question across eps: no capped network with an uncapped twin in this "
                "summary (experiments `suite`, `title_eps`).")
    eps = list(found)
    counts = {e: verdict_counts(v) for e, v in found.items()}
    size = max(len(v) for v in found.values())
    helps = VERDICT_WORDS["holds"]
    at = [e for e in eps if counts[e][helps]]
    if not at:
        head = ("capping helps no capped network at " + ("this eps" if len(eps) == 1
                                                         else "any of these eps"))
    else:
        head = "capping helps " + "; ".join(
            f"{counts[e][helps]} at eps {e:g} ({_names(found[e], helps)})" for e in at)
        head += ", none at the other eps" if len(at) < len(eps) else ""

    def series(word):
        return ", ".join(str(counts[e][word]) for e in eps)
    which = "at each eps" if len(eps) > 1 else f"at eps {eps[0]:g}"
    where = f"Across {eps_words(eps)}" if len(eps) > 1 else f"At {eps_words(eps)}"
    return (f"**{where}:** {head}; of the {size} capped networks {which}, "
            f"capping hurts {series(VERDICT_WORDS['fails'])}, shows no difference in "
            f"{series(VERDICT_WORDS['inconclusive'])} and depends on the attack mix in "
            f"{series(VERDICT_WORDS['mixed'])} (each eps its own family of its twin "
            f"comparisons, Holm within it, per measure).")


def missing_note(summary: dict) -> str:
    """What the summary lacks for the answer across eps ("" when it has the block)."""
    if summary.get(KEY) and summary[KEY].get("rows"):
        return ""
    return ("This summary has no `title_eps` block: the answer stands at the suite's eps "
            "alone; eps 0.05, 0.15 and 0.2 come from `run_all.py --only title_eps`.")


def eps_table(found: dict) -> str:
    """One row per capped network, one column per eps: the worst case's capped − uncapped
    difference in points (mean [95% interval]) and the verdict at that eps."""
    eps = list(found)
    nets = list(dict.fromkeys(row_key(v["row"]) for vs in found.values() for v in vs))
    by = {(e, row_key(v["row"])): v for e, vs in found.items() for v in vs}
    body = []
    for key in nets:
        v0 = next(by[(e, key)] for e in eps if (e, key) in by)
        cells = [f"{diff_text(by[(e, key)]['diff'], unit='')}: "
                 f"{SHORT[by[(e, key)]['verdict']]}" if (e, key) in by else DASH for e in eps]
        body.append([beta_label(v0["row"]["beta"]), adv_label(v0["row"]["adv_training"])]
                    + cells)
    return md_table(["Max val.", "Adv. training"] + [f"eps {e:g}: capped − uncapped (points), "
                                                     "verdict" for e in eps], body)


def answer_lines(summary: dict) -> list[str]:
    """The one-line answer and what is missing: the title question's answer across eps at the
    top of the report (:func:`.front.answer`)."""
    return [" ".join(t for t in (one_line(summary), missing_note(summary)) if t), ""]


def table_lines(summary: dict) -> list[str]:
    """The table per eps with its heading sentence ([] when no eps has a twin comparison)."""
    found = per_eps(summary)
    if not (found and any(found.values())):
        return []
    return ["Per eps, the worst case of each capped network minus its uncapped twin's (paired "
            "per seed) and the verdict on every measure the summary has at that eps (strongest "
            "single attack and, where recorded, the worst case over the attacks common to both "
            "twins):", "", eps_table(found), ""]


@renders(KEY)
def section_body(group, summary: dict, figure_line) -> list[str]:
    """The figure, the one-line answer (also at the top of the report, :func:`.front.answer`)
    and the table per eps."""
    own = (f"eps {summary[SUITE]['eps']:g}: the suite's own rows" if summary.get(SUITE)
           else "the suite's own eps is not in this summary")
    lines = ["The title question at more than one eps: the suite section's twelve networks, "
             "its attacks, budget and test images, at eps "
             + ", ".join(f"{e:g}" for e in summary[KEY]["eps"]) + f" ({own}).", ""]
    for output in group:
        lines += figure_line(output)
    return lines + [one_line(summary), ""] + table_lines(summary)


@finds(KEY)
def eps_findings(group, summary: dict) -> list:
    """The one-line answer across eps."""
    return [Paragraph(one_line(summary))]
