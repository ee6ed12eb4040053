"""The equal-budget suite: every Table 1 network under one attack suite and one budget, and the
paper's title question answered from the symmetric worst case.

Reads the ``suite`` block (per Table 1 network: clean, PGD as the paper ran it, each attack,
the per-sample worst case), ``eps_curve`` (Figure 13) and ``adaptive_curve`` (Figure 14).
Every sentence is computed from the numbers; the answer to the title question comes from
:mod:`.title`.
"""
from __future__ import annotations

import math

from .. import stats
from .format import DASH, Paragraph, adv_label, beta_label, md_table, num
from .intervals import pct_cell, seed_blocks
from .registry import finds, renders
from .anchors import anchor
from .front import ANSWER
from .title import OPTIONAL, measure, title_answer, twin_verdicts

#: PGD as the paper ran it this many points above the worst case overstates it (ours).
MASK_POINTS = 5.0
#: Settings fields that state the budget when none is stated "in words".
BUDGET_WORDS = ("budget", "restart", "step", "quer")


def _p(v) -> str:
    x = num(v)
    return f"{100.0 * x:.1f}" if math.isfinite(x) else DASH


def network(row: dict) -> str:
    """"β = 0.1, adversarial training fgsm"; β = ∞ for the uncapped network."""
    return f"β = {beta_label(row['beta'], '∞')}, adversarial training {row['adv_training']}"


def strongest(row: dict, attacks: list) -> str:
    """The attack with the lowest robust accuracy on this row (ties: the first listed)."""
    have = [a for a in attacks if math.isfinite(num(row["attacks"].get(a)))]
    return min(have, key=lambda a: num(row["attacks"][a])) if have else DASH


def strongest_cell(row: dict, seed_rows: list) -> str:
    """The strongest single attack per seed (:func:`.title.strongest_single`: the lowest robust
    accuracy of any one attack), averaged over the seeds, with its 95% interval as a proportion
    of the row's n test images (:func:`nprelu.stats.proportion_interval`), in percent."""
    vals = [v for v in (measure(_find(rs, row), "strongest") for rs in seed_rows)
            if math.isfinite(v)]
    if not vals:
        return DASH
    iv = stats.proportion_interval(vals, row.get("n"))
    return pct_cell(iv.mean, [iv.lo, iv.hi])


def suite_table(block: dict, ivs: list, n_seeds: int = 2, seed_rows: list | None = None) -> str:
    """One row per network: clean, PGD as the paper ran it, each attack, the worst case, the
    strongest single attack per seed (:func:`strongest_cell`; ``seed_rows``: one list of rows
    per seed, default the block's rows as one seed), the worst case over the attacks common to
    both twins (a dash where the summary lacks it), each ``mean [lo, hi]`` in percent, and the
    strongest attack on average over the seeds."""
    attacks = block["attacks"]
    seed_rows = seed_rows or [block["rows"]]
    ns = [r["n"] if n_seeds == 1 else None for r in block["rows"]]
    header = (["Max val.", "Adv. training", "Clean %", "PGD (paper) %"]
              + [f"{a} %" for a in attacks]
              + ["Worst case %", "Strongest single attack (per seed) %",
                 "Worst case, attacks common to both twins %", "Strongest"])
    body = []
    for i, r in enumerate(block["rows"]):
        iv = ivs[i] if i < len(ivs) else {}
        c = [pct_cell(r[k], iv.get(k), ns[i]) for k in ("clean", "pgd_paper", "worst_case")]
        common = (pct_cell(r[OPTIONAL], iv.get(OPTIONAL), ns[i]) if OPTIONAL in r else DASH)
        body.append([beta_label(r["beta"]), adv_label(r["adv_training"]), c[0], c[1]]
                    + [pct_cell(r["attacks"].get(a), (iv.get("attacks") or {}).get(a),
                                ns[i] and r.get("n_attacks", ns[i]))
                       for a in attacks]
                    + [c[2], strongest_cell(r, seed_rows), common, strongest(r, attacks)])
    return md_table(header, body)


def _find(rows: list, like: dict) -> dict | None:
    return next((r for r in rows if (r["beta"], r["adv_training"])
                 == (like["beta"], like["adv_training"])), None)


def common_words(summary: dict) -> str:
    """The common attacks as the run recorded them, else the registry's names of today."""
    settings = ((summary.get("meta") or {}).get("settings") or {}).get("suite") or {}
    recorded = settings.get(OPTIONAL) if isinstance(settings, dict) else None
    if isinstance(recorded, str) and ": " in recorded:
        return recorded.split(": ", 1)[1]
    return ("true-gradient APGD-CE, APGD-DLR and APGD-T, margin PGD, Square, transfer from the "
            "uncapped twin")


def words(v) -> str:
    """A recorded setting in words: dicts as "key: value; ...", lists joined by commas."""
    if isinstance(v, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {words(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(words(x) for x in v)
    return str(v)


def budget_lines(settings) -> list[str]:
    """The budget as ``meta.settings["suite"]`` records it: its attacks and every field stated
    "in words" (at the top level or one level down); without those, every field naming an
    attack, restarts, steps or queries. Printed as recorded: no number here is ours."""
    if not isinstance(settings, dict):
        return ["The budget was not recorded in this summary.", ""]
    stated = {k: v for k, v in settings.items() if "words" in k}
    stated.update({f"{k}.{k2}": v2 for k, v in settings.items() if isinstance(v, dict)
                   for k2, v2 in v.items() if "words" in k2})
    if not stated:
        stated = {k: v for k, v in settings.items() if k != "attacks"
                  and any(w in k.lower() for w in BUDGET_WORDS)}
    attacks = settings.get("attacks")
    lines = ([f"- attacks ({len(attacks)}): {words(attacks)}"] if isinstance(attacks, list)
             else []) + [f"- {k}: {words(v)}" for k, v in stated.items()]
    if not lines:
        return ["The recorded settings name no attack budget.", ""]
    return ["The budget, the same for every network (as the experiment recorded it):", ""] \
        + lines + [""]


# --------------------------------------------------------------------------- the figures

def eps_curve_lines(block: dict) -> list[str]:
    """Per network of Figure 13: whether the worst case reaches 0 by the largest eps; a masked
    gradient when PGD as the paper ran it still keeps more than :data:`MASK_POINTS` points
    there, a weaker attack when it only exceeds the worst case by that much somewhere."""
    eps, out = block["eps"], []
    for net in block["networks"]:
        worst, pgd = [num(v) for v in net["worst_case"]], [num(v) for v in net["pgd_paper"]]
        zero = next((e for e, w in zip(eps, worst) if math.isfinite(w) and w <= 0.0), None)
        gaps = [100.0 * (p - w) if math.isfinite(p - w) else -math.inf for p, w in zip(pgd, worst)]
        text = (f"{network(net)}: the worst case "
                + (f"reaches 0 at eps {zero:g}" if zero is not None else
                   f"does not reach 0 by eps {eps[-1]:g} ({_p(worst[-1])}% left)")
                + f"; PGD as the paper ran it {_p(pgd[-1])}% at eps {eps[-1]:g}")
        if zero is not None and 100.0 * pgd[-1] > MASK_POINTS:
            text += " — PGD stays high where the worst case is 0: a masked gradient."
        elif max(gaps, default=-math.inf) > MASK_POINTS:
            at = eps[gaps.index(max(gaps))]
            text += (f", up to {max(gaps):.1f} points above the worst case (eps {at:g}): PGD "
                     "overstates robustness there, a weaker attack than the suite.")
        else:
            text += f", within {MASK_POINTS:g} points of the worst case at every eps."
        out.append(text)
    return out


def adaptive_curve_lines(output, block: dict) -> list[str]:
    """Figure 14: per training cap, how far plain PGD exceeds the suite's worst case."""
    out = []
    for b0, c in block["curves"].items():
        gaps = [100.0 * (p - w) for p, w in zip(c["pgd"], c["worst_case"])]
        if gaps:
            out.append(f"Figure {output.number}, trained with β = {b0}: over evaluation caps "
                       f"{block['betas_eval'][0]}–{block['betas_eval'][-1]}, PGD exceeds the "
                       f"suite's worst case by {min(gaps):.1f} to {max(gaps):.1f} points.")
    return out


# --------------------------------------------------------------------------- the section

def _blocks(group, summary: dict, kind: str) -> list:
    return [(o, summary[o.key]) for o in group if o.kind == kind and summary.get(o.key)]


def figure_parts(group, summary: dict, figure_line) -> list[str]:
    """Figures 13 and 14 with their captions, and what Figure 13 shows network by network."""
    lines = []
    for output, curve in _blocks(group, summary, "eps_curve"):
        lines += figure_line(output)
        lines += [f"{output.title}: robust accuracy against eps on {curve['n']} test images per "
                  "seed; dashed: PGD as the paper ran it, solid: the worst case over the suite. "
                  "A dashed curve that stays high where the solid one falls is a masked "
                  "gradient.", ""] + [f"- {t}" for t in eps_curve_lines(curve)] + [""]
    for output, curve in _blocks(group, summary, "adaptive_curve"):
        lines += figure_line(output)
        lines += [f"{output.title}: the {curve['network']} network capped at "
                  f"{curve['capped_layer']}, re-capped at evaluation, eps {curve['eps']:g}, "
                  f"{curve['n_test']} test images; plain PGD against the worst case of the "
                  "suite.", ""]
    return lines


def figure_findings(group, summary: dict) -> list[str]:
    """What Figures 13 and 14 show, counted over the networks (also the suite's findings)."""
    out = []
    for output, curve in _blocks(group, summary, "eps_curve"):
        lines = eps_curve_lines(curve)
        out.append(f"Figure {output.number}: the worst case reaches 0 by eps "
                   f"{curve['eps'][-1]:g} for {sum('reaches 0' in l for l in lines)} of "
                   f"{len(lines)} networks; PGD as the paper ran it stays above "
                   f"{MASK_POINTS:g}% there (a masked gradient) for "
                   f"{sum('masked gradient' in l for l in lines)} and overstates the worst case "
                   f"by more than {MASK_POINTS:g} points elsewhere for "
                   f"{sum('weaker attack' in l for l in lines)}.")
    for output, curve in _blocks(group, summary, "adaptive_curve"):
        out += adaptive_curve_lines(output, curve)
    return out


@renders("suite")
def section_body(group, summary: dict, figure_line) -> list[str]:
    """The budget, the table, Figures 13 and 14; the title question's table is at the top of the
    report (:func:`.front.answer`), linked from here."""
    block = summary.get("suite")
    settings = ((summary.get("meta") or {}).get("settings") or {}).get("suite")
    where = "above" if summary.get("adaptive") else "(not in this summary)"
    lines = ["Every Table 1 network faces the same attacks with the same restarts, steps and "
             "queries, capped or not, so capped and uncapped networks are compared on equal "
             f"terms. This is the symmetric counterpart of the adaptive section {where}, which "
             "aimed its surrogate attacks at the capped networks only.", ""]
    lines += budget_lines(settings)
    if block:
        seed_rows = [b["rows"] for b in seed_blocks(summary, "suite")]
        lines += [f"Robust accuracy at eps {block['eps']:g} on {block['rows'][0]['n']} test "
                  "images per seed, percent (mean [95% interval]); the worst case counts an "
                  "image as robust only if it is classified correctly and every attack fails on "
                  "it; the strongest single attack is, per seed, the lowest robust accuracy of "
                  "any one attack (a worst case over more, and more diverse, attacks is lower by "
                  "construction: on an uncapped network every surrogate run is the true-gradient "
                  "attack again); the worst case over the attacks common to both twins is the "
                  "same, over only the attacks that are the same on a capped network and its "
                  "uncapped twin (" + common_words(summary)
                  + "); \"Strongest\": the attack with the lowest mean robust accuracy:", "",
                  suite_table(block, ((summary.get("intervals") or {}).get("suite") or {})
                              .get("rows", []), len(seed_rows), seed_rows),
                  ""] if block["rows"] else []
        if block["rows"] and not all(OPTIONAL in r for rs in seed_rows for r in rs):
            lines += ["This summary does not record the worst case over the attacks common to "
                      "both twins: it needs each image's outcome under each attack, which the "
                      f"suite records as `{OPTIONAL}` only from this version on. The twin "
                      "comparisons below rest on the other two measures.", ""]
        wins = [strongest(r, block["attacks"]) for r in block["rows"]]
        if wins:
            best = max(dict.fromkeys(wins), key=wins.count)
            lines += [f"The strongest single attack is {best} on {wins.count(best)} of "
                      f"{len(wins)} networks.", ""]
    lines += figure_parts(group, summary, figure_line)
    if block and block["rows"]:
        lines += ["The paper's title question, network by network, is answered from these "
                  f"worst cases at the top of this report: [{ANSWER}](#{anchor(ANSWER)}).", ""]
    return lines


@finds("suite")
def suite_findings(group, summary: dict) -> list[str]:
    """Each capped network's verdict against its twin, the counts, and the figures' gaps."""
    block = summary.get("suite")
    out = []
    if block and block["rows"]:
        seed_rows = [b["rows"] for b in seed_blocks(summary, "suite")]
        verdicts = twin_verdicts(block["rows"], seed_rows)
        out.append(Paragraph(title_answer(verdicts, len(seed_rows))))
    return out + figure_findings(group, summary)
