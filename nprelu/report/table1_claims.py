"""The paper's claims about Table 1 (``paper.CLAIMS["table1"]``), each tested on our rows.

One function per claim test, registered under the claim's ``test``. Each reads the rows averaged
over seeds when the summary has them, else the single run's rows (fractions); the paper's rows
come from ``paper.TABLE1`` (percent) and the thresholds from the claim's ``params``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import paper
from ..experiments.summary import beta_key
from .format import (DASH, Paragraph, adv_label, arrows, beta_label, beta_text, finite,
                     md_table, num, signed)
from .registry import checks
from .stats import agree, beta_trend
from .table1 import METRIC_LABELS, row_key, sorted_rows

#: The trends spelled out one by one (adversarial training, metric), before the full table.
HEADLINES = {("none", "pgd"): "Robust accuracy under PGD without adversarial training",
             ("none", "clean"): "Clean accuracy without adversarial training"}


def rows_of(summary: dict) -> list:
    """The rows the claims are tested on: the mean over seeds when present, else one run."""
    seeds = summary.get("table1_seeds")
    if seeds and seeds["rows"]:
        return seeds["rows"]
    return summary.get("table1") or []


def _series(rows, adv: str, metric: str, scale: float) -> list[tuple]:
    """(beta, value * scale) of the rows trained with ``adv``, from beta ∞ down."""
    pts = [(r["beta"], num(r[metric]) * scale) for r in rows
           if str(r["adv_training"]).lower() == adv]
    return sorted(pts, key=lambda p: -(math.inf if p[0] is None else float(p[0])))


def _capped(rows, adv: str, metric: str) -> list:
    return [r for r in rows if str(r["adv_training"]).lower() == adv and r["beta"] is not None
            and finite(r[metric])]


@checks("table1_trends")
def trends(claim, output, summary: dict) -> list[str]:
    """Each column's trend as beta falls, ours against the paper's, per adversarial training."""
    rows = rows_of(summary)
    table, lines, caps = [], {}, []
    for adv in paper.ADV_TRAININGS:
        for metric in paper.TABLE1_METRICS:
            ours = [p for p in _series(rows, adv, metric, 100.0) if math.isfinite(p[1])]
            if len(ours) < 2:
                continue
            theirs = _series(paper.TABLE1, adv, metric, 1.0)
            pdir, ptxt = beta_trend(*zip(*theirs))
            odir, otxt = beta_trend(*zip(*ours))
            seq = arrows(v for _, v in ours)
            betas = ", ".join(beta_label(b, "∞") for b, _ in ours)
            caps = max(caps, [b for b, _ in ours], key=len)
            table.append([adv if adv == "none" else adv_label(adv), METRIC_LABELS[metric], ptxt,
                          otxt, f"{seq} (β = {betas})", agree(pdir, odir)])
            if (adv, metric) == ("none", "pgd"):
                lines[adv, metric] = (f"**{HEADLINES[adv, metric]}** — paper: {ptxt} "
                                      f"({arrows(v for _, v in theirs)}); ours: {otxt} ({seq} "
                                      f"for β = {betas}) → {agree(pdir, odir)}.")
            elif (adv, metric) in HEADLINES:
                lines[adv, metric] = (f"**{HEADLINES[adv, metric]}** — paper: {ptxt}; ours: "
                                      f"{otxt} ({seq}) → {agree(pdir, odir)}.")
    if not table:
        return []
    falling = " → ".join(beta_label(b, "∞") for b in caps)
    return [lines[k] for k in HEADLINES if k in lines] + [Paragraph(
        f"Trend of every column as β falls ({falling}), paper vs ours:\n\n"
        + md_table(["Adv. training", "Column", "Paper", "Ours", "Our values (%)", "Verdict"],
                   table))]


@checks("clean_cost")
def clean_cost(claim, output, summary: dict) -> list[str]:
    """Clean accuracy at the smallest cap against the uncapped network, per adversarial
    training; the claim holds when the drop is at most ``params["points"]``."""
    rows, limit = rows_of(summary), claim.params["points"]
    by_key = {row_key(r): r for r in rows}
    out = []
    for adv in paper.ADV_TRAININGS:
        unc, capped = by_key.get((None, adv)), _capped(rows, adv, "clean")
        if unc is None or not capped or not finite(unc["clean"]):
            continue
        low = min(capped, key=lambda r: float(r["beta"]))
        drop = 100.0 * (num(unc["clean"]) - num(low["clean"]))
        p_unc, p_low = paper.table1_row(None, adv), paper.table1_row(low["beta"], adv)
        p_drop = signed(p_low["clean"] - p_unc["clean"]) if p_unc and p_low else DASH
        verdict = ("holds" if drop <= limit else
                   f"does not hold (a drop of more than {limit:g} points)")
        out.append(f"**Clean-accuracy cost of capping** ({'no' if adv == 'none' else adv_label(adv)}"
                   f" adversarial training): clean accuracy at β={beta_key(low['beta'])} is "
                   f"{signed(-drop)} points against the uncapped network (paper: {p_drop}); "
                   f"\"{claim.text}\" {verdict}.")
    return out


@checks("beyond_adv_training")
def beyond_adv_training(claim, output, summary: dict) -> list[str]:
    """Per adversarial training, the best capped network's PGD accuracy against the general
    (uncapped) network trained the same way."""
    rows = rows_of(summary)
    by_key = {row_key(r): r for r in rows}
    out = []
    for adv in paper.ADV_TRAININGS:
        unc, capped = by_key.get((None, adv)), _capped(rows, adv, "pgd")
        if adv == "none" or unc is None or not capped or not finite(unc["pgd"]):
            continue
        best = max(capped, key=lambda r: num(r["pgd"]))
        gain = 100.0 * (num(best["pgd"]) - num(unc["pgd"]))
        p_unc = paper.table1_row(None, adv)
        p_best = max(filter(None, (paper.table1_row(r["beta"], adv) for r in capped)),
                     key=lambda r: r["pgd"], default=None)
        ptxt = (f"paper: best capped β={beta_key(p_best['beta'])} "
                f"{signed(p_best['pgd'] - p_unc['pgd'])} points" if p_unc and p_best else "")
        out.append(f"**{adv.upper()} adversarial training, capped vs general ReLU** (PGD "
                   f"accuracy): best capped β={beta_key(best['beta'])} is {signed(gain)} points "
                   f"against the general network ({ptxt}); \"{claim.text}\" "
                   f"{'holds' if gain > 0 else 'does not hold'}.")
    return out


@checks("fgsm_like_pgd")
def fgsm_like_pgd(claim, output, summary: dict) -> list[str]:
    """Mean |PGD accuracy after FGSM training - after PGD training| over the caps; "similar"
    when at most ``params["points"]``."""
    rows, limit = rows_of(summary), claim.params["points"]
    by_key = {row_key(r): r for r in rows}
    diffs, p_diffs = [], []
    for r in rows:
        other = by_key.get((row_key(r)[0], "pgd"))
        if row_key(r)[1] != "fgsm" or other is None or not (finite(r["pgd"])
                                                           and finite(other["pgd"])):
            continue
        diffs.append(100.0 * abs(num(r["pgd"]) - num(other["pgd"])))
        pf, pp = paper.table1_row(r["beta"], "fgsm"), paper.table1_row(r["beta"], "pgd")
        if pf and pp:
            p_diffs.append(abs(pf["pgd"] - pp["pgd"]))
    if not diffs:
        return []
    mean = float(np.mean(diffs))
    ptxt = f"{np.mean(p_diffs):.2f}" if p_diffs else DASH
    return [f"**FGSM vs PGD adversarial training**: their PGD accuracies differ by {mean:.2f} "
            f"points on average over {len(diffs)} max values (paper: {ptxt}) → "
            f"{'similar' if mean <= limit else 'not similar'} (threshold {limit:g} points)."]


@checks("cw_effective")
def cw_effective(claim, output, summary: dict) -> list[str]:
    """In how many rows CW-L2 leaves fewer samples correct than PGD, ours and the paper's."""
    pairs = [(num(r["cw"]), num(r["pgd"])) for r in rows_of(summary)]
    pairs = [(cw, pgd) for cw, pgd in pairs if math.isfinite(cw) and math.isfinite(pgd)]
    if not pairs:
        return []
    k = sum(cw < pgd for cw, pgd in pairs)
    pk = sum(r["cw"] < r["pgd"] for r in paper.TABLE1)
    return [f"**CW-L2 remains effective**: CW accuracy is below PGD accuracy in {k} of "
            f"{len(pairs)} rows (paper: {pk} of {len(paper.TABLE1)}); our highest CW accuracy is "
            f"{100.0 * max(cw for cw, _ in pairs):.2f}% (paper: "
            f"{max(r['cw'] for r in paper.TABLE1):.2f}%)."]


@checks("cells_close")
def cells_close(claim, output, summary: dict) -> list[str]:
    """The cells of our Table 1 more than ``params["points"]`` from the paper's, listed."""
    limit, flagged, n_cells = claim.params["points"], [], 0
    for r in sorted_rows(rows_of(summary)):
        theirs = paper.table1_row(r["beta"], r["adv_training"])
        if theirs is None:
            continue
        for metric in paper.TABLE1_METRICS:
            if not finite(r[metric]):
                continue
            n_cells += 1
            ours = 100.0 * num(r[metric])
            if abs(ours - theirs[metric]) > limit:
                flagged.append(f"β={beta_text(r['beta'])}, adv. training {r['adv_training']}, "
                               f"{METRIC_LABELS[metric]}: ours {ours:.2f} vs paper "
                               f"{theirs[metric]:.2f} ({signed(ours - theirs[metric])})")
    head = f"**Cells more than {limit:g} points from the paper**"
    if flagged:
        return [f"{head}: {len(flagged)} of {n_cells}:\n"
                + "\n".join(f"  - {f}" for f in flagged)]
    return [f"{head}: none of {n_cells}."] if n_cells else []
