"""The paper's claims about Table 1 (``paper.CLAIMS["table1"]``), each tested on our rows.

One function per claim test, registered under the claim's ``test``. Each reads the per-seed rows
(``summary["runs"][seed]["table1"]``; one seed: ``summary["table1"]``, or the older
``table1_seeds`` rows) and tests each claim as a family (:mod:`.families`: paired t over the
seeds, Holm within the claim). The paper's rows come from
``paper.TABLE1`` (percent) and the thresholds from the claim's ``params``.
"""
from __future__ import annotations

import math

from .. import paper
from ..runner.summary import beta_key
from .adaptive import worst_case_pointer
from .format import DASH, Paragraph, adv_label, beta_label, beta_text, finite, md_table, num
from .families import MASKED, Family, beyond, level, p_text, significance
from .intervals import (counts_text, diff_text, difference, iv_text, mark, profile_n, seed_blocks,
                        seed_interval)
from .masked import is_masked, masked_text
from .registry import checks
from .title import twin_difference
from .stats import beta_trend
from .table1 import METRIC_LABELS, row_key, sorted_rows

ROBUSTNESS = ("fgsm", "pgd", "cw")


def rows_of(summary: dict) -> list:
    """The rows the claims read for their means: the mean block, else the old mean over seeds."""
    if summary.get("table1"):
        return summary["table1"]
    seeds = summary.get("table1_seeds")
    return seeds["rows"] if seeds else []


def seed_rows(summary: dict) -> list[dict]:
    """Per seed, its rows by (beta, adversarial training)."""
    blocks = seed_blocks(summary, "table1") or [rows_of(summary)]
    return [{row_key(r): r for r in rows} for rows in blocks]


def per_seed(seeds: list, key: tuple, metric: str) -> list[float]:
    return [num(s[key][metric]) if key in s else float("nan") for s in seeds]


def n_of(summary: dict, key: tuple, metric: str):
    """The test images behind one seed's accuracy (None when the row does not say)."""
    row = next((r for r in rows_of(summary) if row_key(r) == key), {})
    if metric == "cw":
        return row.get("n_cw") or profile_n(summary, "n_cw")
    return row.get("n") or profile_n(summary, "n_table")


def _keys(rows, adv: str, metric: str) -> list[tuple]:
    """Row keys trained with ``adv`` that have ``metric``, from beta ∞ down."""
    keys = [row_key(r) for r in rows if str(r["adv_training"]).lower() == adv and finite(r[metric])]
    return sorted(keys, key=lambda k: -(math.inf if k[0] is None else k[0]))


@checks("table1_trends")
def trends(claim, output, summary: dict) -> list[str]:
    """Per column, smallest beta against the uncapped network (paired over seeds) and each
    adjacent pair of caps; robustness columns must rise as beta falls, clean is compared with
    the paper's direction."""
    rows, seeds = rows_of(summary), seed_rows(summary)
    table, head, used = [], None, []

    def evidence(key, adv, metric, record=True):   # the favoured (smaller-beta) network's
        if metric not in ROBUSTNESS or not is_masked(summary, key[0], adv, metric):  # attack
            return None                                                              # masked?
        if record:
            used.append((key[0], adv, metric))
        return MASKED
    robust, clean = Family(claim.text), Family("clean accuracy, smallest β against uncapped")
    for adv in paper.ADV_TRAININGS:
        for metric in paper.TABLE1_METRICS:
            keys = _keys(rows, adv, metric)
            if len(keys) < 2:
                continue
            theirs = [(r["beta"], r[metric]) for r in paper.TABLE1 if r["adv_training"] == adv]
            theirs.sort(key=lambda p: -(math.inf if p[0] is None else p[0]))
            pdir, ptxt = beta_trend(*zip(*theirs))
            sign = 1 if metric in ROBUSTNESS else (pdir or -1)
            vals = {k: per_seed(seeds, k, metric) for k in keys}
            n = n_of(summary, keys[0], metric)
            diff = difference(vals[keys[-1]], vals[keys[0]], n)
            item = (robust if metric in ROBUSTNESS else clean).add(
                significance(vals[keys[-1]], vals[keys[0]], n), sign,
                not_evidence=evidence(keys[-1], adv, metric))
            adjacent = Family("adjacent pairs")
            for a, b in zip(keys, keys[1:]):
                adjacent.add(significance(vals[b], vals[a], n), sign,
                             not_evidence=evidence(b, adv, metric, record=False))
            means = " → ".join(iv_text(seed_interval(vals[k], n), 100.0, 1, pct=True) for k in keys)
            table.append([adv if adv == "none" else adv_label(adv), METRIC_LABELS[metric], ptxt,
                          f"{means} (β = {', '.join(beta_label(k[0], '∞') for k in keys)})",
                          diff_text(diff), adjacent.judge(), item])
            if (adv, metric) == ("none", "pgd"):
                head = (diff, ptxt, item)
    if not table:
        return []
    robust.judge()
    clean.judge()
    for row in table:
        adjacent, item = row[5], row[6]
        row[5] = f"{counts_text(adjacent.counts())} (family of {adjacent.size}, Holm)"
        fam = robust if row[1] != METRIC_LABELS["clean"] else clean
        row[6] = f"{p_text(item)} (family of {fam.size})"
    lines = []
    if head:
        diff, ptxt, item = head
        lines.append(f"**Robust accuracy under PGD without adversarial training**, smallest β "
                     f"against uncapped: {diff_text(diff)} (paper: {ptxt}; {p_text(item)}, "
                     f"in the family of {robust.size} below) "
                     f"{mark(item['verdict'] if item else None)}.")
    return lines + [
        f"**Decreasing β improves robustness** — paper: {claim.text}; ours, robustness columns "
        f"(FGSM, PGD, CW) per adversarial training, smallest β against uncapped: "
        f"{counts_text(robust.counts())} {mark(robust.verdict())} {robust.tag()}."
        + masked_text(summary, used),
        Paragraph("Every column, smallest β minus uncapped (points, 95% interval), and each "
                  "adjacent pair of caps:\n\n"
                  + md_table(["Adv. training", "Column", "Paper", "Ours (%)",
                              "Smallest β − uncapped", "Adjacent pairs", "Verdict"], table))]


@checks("clean_cost")
def clean_cost(claim, output, summary: dict) -> list[str]:
    """Clean accuracy drop from the uncapped network to the smallest cap, per adversarial
    training; holds when the whole interval of the drop is at most ``params["points"]``."""
    rows, seeds, limit = rows_of(summary), seed_rows(summary), claim.params["points"]
    fam, shown = Family(claim.text), []
    for adv in paper.ADV_TRAININGS:
        keys = _keys(rows, adv, "clean")
        if len(keys) < 2 or keys[0][0] is not None:
            continue
        unc, low = keys[0], keys[-1]
        a, b = per_seed(seeds, unc, "clean"), per_seed(seeds, low, "clean")
        drop = difference(a, b, n_of(summary, unc, "clean"))
        shown.append((adv, low, drop, fam.add(beyond(a, b, limit / 100.0), -1)))
    fam.judge()
    out = []
    for adv, low, drop, item in shown:
        p_unc, p_low = paper.table1_row(None, adv), paper.table1_row(low[0], adv)
        p_drop = f"{p_unc['clean'] - p_low['clean']:+.2f}" if p_unc and p_low else DASH
        out.append(f"**Clean-accuracy cost of capping** ({'no' if adv == 'none' else adv_label(adv)}"
                   f" adversarial training): the drop from the uncapped network to "
                   f"β={beta_key(low[0])} is {diff_text(drop)} (paper: {p_drop}); \"{claim.text}\""
                   f" read as a drop of at most {limit:g} points ({p_text(item)}) "
                   f"{mark(item['verdict'] if item else 'inconclusive')} {fam.tag()}.")
    return out


@checks("beyond_adv_training")
def beyond_adv_training(claim, output, summary: dict) -> list[str]:
    """Per adversarial training, the best capped network's PGD accuracy against the general
    network trained the same way (paired over seeds); PGD alone, so the worst case of both
    networks is given beside it when the summary has it (the suite's, else the adaptive one),
    and the suite's paired difference of the two."""
    rows, seeds = rows_of(summary), seed_rows(summary)
    fam, shown = Family(claim.text), []
    for adv in paper.ADV_TRAININGS:
        keys = _keys(rows, adv, "pgd")
        if adv == "none" or len(keys) < 2 or keys[0][0] is not None:
            continue
        means = {row_key(r): num(r["pgd"]) for r in rows}
        best = max(keys[1:], key=lambda k: means[k])
        a, b = per_seed(seeds, best, "pgd"), per_seed(seeds, keys[0], "pgd")
        n = n_of(summary, best, "pgd")
        bad = MASKED if is_masked(summary, best[0], adv, "pgd") else None
        shown.append((adv, keys, best, difference(a, b, n),
                      fam.add(significance(a, b, n), 1, not_evidence=bad)))
    fam.judge()
    out = []
    for adv, keys, best, gain, item in shown:
        p_unc = paper.table1_row(None, adv)
        p_best = max(filter(None, (paper.table1_row(k[0], adv) for k in keys[1:])),
                     key=lambda r: r["pgd"], default=None)
        ptxt = (f"paper: best capped β={beta_key(p_best['beta'])} "
                f"{p_best['pgd'] - p_unc['pgd']:+.2f} points" if p_unc and p_best else "")
        out.append(f"**{adv.upper()} adversarial training, capped vs general ReLU** (PGD "
                   f"accuracy): best capped β={beta_key(best[0])} against the general network: "
                   f"{diff_text(gain)} ({ptxt}; {p_text(item)}); \"{claim.text}\" "
                   f"{mark(item['verdict'] if item else 'inconclusive')} {fam.tag()} on PGD alone"
                   + worst_case_pointer(summary, [best[0], None], adv)
                   + twin_difference(summary, best[0], adv) + "."
                   + masked_text(summary, [(best[0], adv, "pgd")]))
    return out


@checks("fgsm_like_pgd")
def fgsm_like_pgd(claim, output, summary: dict) -> list[str]:
    """Per seed, mean |PGD accuracy after FGSM training - after PGD training| over the caps;
    "similar" when the interval over seeds is within ``params["points"]``."""
    rows, seeds, limit = rows_of(summary), seed_rows(summary), claim.params["points"]
    pairs = [(k, (k[0], "pgd")) for k in _keys(rows, "fgsm", "pgd")
             if (k[0], "pgd") in {row_key(r) for r in rows}]
    if not pairs:
        return []
    gaps = [sum(abs(num(s[a]["pgd"]) - num(s[b]["pgd"])) for a, b in pairs) / len(pairs)
            for s in seeds if all(a in s and b in s for a, b in pairs)]
    iv = seed_interval(gaps)
    fam = Family(claim.text)
    item = fam.add(level(gaps, limit / 100.0), -1)
    fam.judge()
    p_diffs = [abs(paper.table1_row(a[0], "fgsm")["pgd"] - paper.table1_row(a[0], "pgd")["pgd"])
               for a, _ in pairs if paper.table1_row(a[0], "fgsm") and paper.table1_row(a[0], "pgd")]
    ptxt = f"{sum(p_diffs) / len(p_diffs):.2f}" if p_diffs else DASH
    return [f"**FGSM vs PGD adversarial training**: their PGD accuracies differ by "
            f"{iv_text(iv, 100.0, 2, pct=True)} points on average over {len(pairs)} max values "
            f"(paper: {ptxt}); similar read as at most {limit:g} points ({p_text(item)}) "
            f"{mark(item['verdict'] if item else 'inconclusive')} {fam.tag()}."]


@checks("cw_effective")
def cw_effective(claim, output, summary: dict) -> list[str]:
    """Per row, CW-L2 accuracy with its interval against ``params["points"]`` percent; CW is
    compared with no other attack here: it ran on its own test images (``n_cw`` per seed)."""
    rows, seeds, limit = rows_of(summary), seed_rows(summary), claim.params["points"]
    fam, shown = Family(claim.text), []
    for r in sorted_rows(rows):
        if not finite(r["cw"]):
            continue
        vals = per_seed(seeds, row_key(r), "cw")
        iv = seed_interval(vals, r.get("n_cw"))
        shown.append((r, iv, fam.add(level(vals, limit / 100.0), -1)))
    if not shown:
        return []
    fam.judge()
    cells = [f"β={beta_label(r['beta'], '∞')}/{r['adv_training']} "
             f"{iv_text(iv, 100.0, 1, pct=True)} ({p_text(item)})" for r, iv, item in shown]
    counts = fam.counts()
    n_cw, n = rows[0].get("n_cw"), rows[0].get("n") or profile_n(summary, "n_table")
    return [f"**CW-L2 remains effective** — paper: {claim.text}; ours, CW-L2 accuracy (%) on "
            f"{n_cw} test images per seed: {'; '.join(cells)}; at most {limit:g}% in "
            f"{counts_text(counts)} rows {mark(fam.verdict())} {fam.tag()}. CW ran on its own "
            f"{n_cw} "
            f"images, not on the {n or 'other'} images of the clean, FGSM and PGD columns, so "
            "it is not ranked against them here; the adaptive rows use a subset of their own."]


@checks("cells_close")
def cells_close(claim, output, summary: dict) -> list[str]:
    """The cells of our Table 1 (means over seeds) more than ``params["points"]`` from the
    paper's, listed."""
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
                               f"{theirs[metric]:.2f} ({ours - theirs[metric]:+.2f})")
    head = f"**Cells more than {limit:g} points from the paper**"
    if flagged:
        return [f"{head}: {len(flagged)} of {n_cells}:\n"
                + "\n".join(f"  - {f}" for f in flagged)]
    return [f"{head}: none of {n_cells}."] if n_cells else []
