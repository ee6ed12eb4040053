"""The section beyond the paper: adaptive attacks, and the answer to the paper's title.

Reads the ``adaptive`` block (rows per Table 1 network, the Carlini et al. checklist) and the
``adaptive_curve`` block (Figure 12). Every verdict is computed from the numbers: a row is
flagged when PGD's robust accuracy exceeds the adaptive worst case by more than
``MASK_POINTS`` percentage points, and the answer compares each capped network's worst case
with its uncapped twin's (same adversarial training). Percentages here have one decimal.
"""
from __future__ import annotations

import math

from .format import DASH, Paragraph, adv_label, beta_label, md_table, num, pct
from .intervals import compare, diff_text, pct_cell, seed_blocks
from .registry import finds, renders
from .table1 import row_key

#: PGD above the worst case by more than this many points: PGD is misled (ours, not the paper's).
MASK_POINTS = 5.0
#: Every attack, in the table's order; the last is the per-sample worst case over the others.
ATTACKS = (("pgd", "PGD"), ("fgsm", "FGSM"), ("bpda", "BPDA-PGD"), ("transfer", "Transfer"),
           ("square", "Square"), ("margin_pgd", "Margin PGD"), ("worst_case", "Worst case"))
#: Attacks that do not follow the network's own gradient: when one of them is the strongest,
#: the gradient is masked.
GRADIENT_FREE = ("BPDA-PGD", "Transfer", "Square")


def _pct1(v) -> str:
    return pct(v, 1)


def _ordered(rows: list, row=lambda r: r) -> list:
    """Rows by adversarial training (none, FGSM, PGD), then beta ∞, 1, 0.1, 0.01; ``row``
    finds the row in each item (items may carry more than the row)."""
    adv = {"none": 0, "fgsm": 1, "pgd": 2}
    return sorted(rows, key=lambda t: (adv.get(row(t)["adv_training"], 9), -math.inf
                                       if row(t)["beta"] is None else -float(row(t)["beta"])))


def gap_points(row: dict) -> float:
    """How far PGD overstates robust accuracy: PGD minus the worst case, in points."""
    return 100.0 * (row["pgd"] - row["worst_case"])


def strongest(row: dict) -> str:
    """The single attack with the lowest robust accuracy on this row (ties: the first listed
    in ``ATTACKS``, so a tie with PGD is not read as a masked gradient)."""
    return min(ATTACKS[:-1], key=lambda kl: row[kl[0]])[1]


def worst_case_pointer(summary: dict, betas: list, adv: str) -> str:
    """"; see the worst case of the one-budget suite ...: β=0.1 12.0% [..] (PGD there ..)" for
    the networks (``betas``, trained with ``adv``): from the ``suite`` block, the symmetric
    evaluation, when the summary has it, else from the ``adaptive`` block; "" with neither.
    Every verdict resting on PGD alone points here."""
    for key, pgd_key, words in (("suite", "pgd_paper", "the worst case of the one-budget attack "
                                 "suite"), ("adaptive", "pgd", "the adaptive worst case")):
        block = summary.get(key)
        if block and block["rows"]:
            break
    else:
        return ""
    ivs = ((summary.get("intervals") or {}).get(key) or {}).get("rows") or []
    parts = []
    for beta in betas:
        want = row_key({"beta": beta, "adv_training": adv})
        i = next((i for i, r in enumerate(block["rows"]) if row_key(r) == want), None)
        if i is None:
            continue
        r, bounds = block["rows"][i], (ivs[i].get("worst_case") if i < len(ivs) else None)
        text = f"β={beta_label(r['beta'], '∞')} {_pct1(r['worst_case'])}%"
        if isinstance(bounds, list) and bounds[0] != bounds[1]:
            text += f" [{_pct1(bounds[0])}, {_pct1(bounds[1])}]"
        parts.append(text + f" (PGD there {_pct1(r[pgd_key])}%)")
    if not parts:
        return ""
    return (f"; see {words} for the same networks, on their own "
            f"{block['rows'][0]['n']} test images: " + ", ".join(parts))


def extended_table1(rows: list, table1_rows=None, ivs=None) -> str:
    """Table 1 with the adaptive columns, each ``mean [95% interval]`` where ``ivs`` (the
    rows' interval blocks, in the same order) has one; the CW column comes from Table 1 when
    it is given (its mean only: Table 1's own table has its interval)."""
    cw = {(r["beta"], r["adv_training"]): r["cw"] for r in table1_rows or []}
    ivs = list(ivs or [])
    header = (["Max val.", "Adv. training", "Clean %"] + [f"{label} %" for _, label in ATTACKS]
              + ["CW-L2 % (Table 1)", "PGD − worst (points)", "zero gradient %"])
    body = []
    for r, iv in _ordered(list(zip(rows, ivs + [{}] * (len(rows) - len(ivs)))), lambda t: t[0]):
        body.append([beta_label(r["beta"]), adv_label(r["adv_training"]),
                     pct_cell(r["clean"], iv.get("clean"))]
                    + [pct_cell(r[k], iv.get(k)) for k, _ in ATTACKS]
                    + [_pct1(cw.get((r["beta"], r["adv_training"]))), f"{gap_points(r):+.1f}",
                       pct_cell(r["zero_gradient_fraction"], iv.get("zero_gradient_fraction"))])
    return md_table(header, body)


def checklist_table(checks: list) -> str:
    """One row per network, one column per check: pass, **WARN**, or a dash (not run)."""
    names = list(dict.fromkeys(c["name"] for block in checks for c in block["checks"]))
    body = []
    for block in checks:
        by_name = {c["name"]: c for c in block["checks"]}
        body.append([beta_label(block["beta"]), adv_label(block["adv_training"])]
                    + [("pass" if by_name[n]["passed"] else "**WARN**") if n in by_name else DASH
                       for n in names])
    return md_table(["Max val.", "Adv. training"] + names, body)


def row_evidence(row: dict) -> str:
    """One network's verdict: does PGD's number hold up, and if not, why."""
    gap, best = gap_points(row), strongest(row)
    head = (f"β = {beta_label(row['beta'])}, adversarial training {row['adv_training']}: PGD "
            f"{_pct1(row['pgd'])}%, worst case {_pct1(row['worst_case'])}% ({gap:+.1f} points; "
            f"strongest single attack: {best}); {_pct1(row['zero_gradient_fraction'])}% of "
            "inputs have an exactly zero gradient")
    if gap > MASK_POINTS and best in GRADIENT_FREE:
        return head + (" — PGD overstates this network's robustness, and an attack that does "
                       "not use its true gradient does better: a masked gradient.")
    if gap > MASK_POINTS:
        return head + (" — PGD overstates this network's robustness, but a stronger gradient "
                       "attack closes the gap: a weak attack rather than a masked gradient.")
    return head + f" — PGD's number holds up (within {MASK_POINTS:g} points)."


def _value(rows: list, like: dict, key: str) -> float:
    """``key`` of the row of ``rows`` for the same network as ``like`` (NaN when absent)."""
    row = next((r for r in rows if r["beta"] == like["beta"]
                and r["adv_training"] == like["adv_training"]), None)
    return num(row[key]) if row else float("nan")


def answer(rows: list, seed_rows: list | None = None) -> list[str]:
    """The computed answer: per adversarial training, capped networks against the uncapped
    twin, each difference judged on its interval (paired over ``seed_rows``, one list of rows
    per seed; with one seed, Wilson over the rows' n test images)."""
    twins = {r["adv_training"]: r for r in rows if r["beta"] is None}
    capped = [r for r in _ordered(rows) if r["beta"] is not None]
    n_masked = sum(gap_points(r) > MASK_POINTS for r in capped)
    out = [f"In {n_masked} of {len(capped)} capped networks PGD overstates robust accuracy by "
           f"more than {MASK_POINTS:g} points against the adaptive worst case; in "
           f"{sum(gap_points(r) > MASK_POINTS for r in twins.values())} of {len(twins)} "
           "uncapped ones."]
    per_seed = seed_rows or [rows]
    for r in capped:
        t = twins.get(r["adv_training"])
        if t is None:
            continue
        diffs = {}
        for k in ("pgd", "worst_case", "clean"):
            a = [_value(rs, r, k) for rs in per_seed]
            b = [_value(rs, t, k) for rs in per_seed]
            diffs[k] = compare(a, b, 1, r.get("n"))
        (v_pgd, d_pgd), (v_worst, d_worst), (_, d_clean) = diffs.values()
        if v_worst == "holds":
            verdict = "more robust than its uncapped twin even under the worst case"
        elif v_pgd == "holds":
            verdict = ("its PGD gain is not borne out by the worst case (a hidden gradient, or "
                       "a gain too small to show)")
        else:
            verdict = "not shown more robust than its uncapped twin under either measure"
        out.append(f"β = {beta_label(r['beta'])} with adversarial training {r['adv_training']}: "
                   f"against the uncapped twin, PGD robust accuracy {diff_text(d_pgd)}, worst "
                   f"case {diff_text(d_worst)}, clean accuracy {diff_text(d_clean)}: {verdict}.")
    return out


@renders("adaptive")
def section_body(group, summary: dict, figure_line) -> list[str]:
    """What was attacked and how, the figure, the extended table and the checklist."""
    block = summary.get("adaptive")
    rows = block["rows"] if block else []
    eps = next((summary[o.key]["eps"] for o in group if summary.get(o.key)), DASH)
    lines = ["The paper evaluates only gradient attacks. A capped ReLU has a zero derivative "
             "outside (0, β), so such attacks can fail without the network being robust. Each "
             f"Table 1 network is attacked at eps {eps} by PGD, FGSM, BPDA-PGD (the capped "
             "layers' derivative replaced by ReLU's or the identity in the backward pass), "
             "transfer from the uncapped twin, the gradient-free Square Attack and margin-loss "
             "PGD with restarts; the worst case counts a sample as robust only if every attack "
             "fails on it."
             + (f" Rows use {rows[0]['n']} test images per seed, a subset of their own: "
                "Table 1's columns (CW-L2 included) ran on other images, so the CW-L2 column "
                "beside them is not a comparison on the same images." if rows else ""), ""]
    for output in group:
        lines += figure_line(output)
    if rows:
        lines += ["Table 1 with adaptive columns (percent):", "",
                  extended_table1(rows, summary.get("table1"),
                                  ((summary.get("intervals") or {}).get("adaptive") or {})
                                  .get("rows")), ""]
    checks = block["checklist"] if block else []
    if checks:
        lines += [f"The checklist of Carlini et al. (2019), computed on "
                  f"{checks[0]['n']} test images of each network (warnings in full in "
                  "`summary.json`):", "", checklist_table(checks), ""]
    return lines


@finds("adaptive")
def adaptive_findings(group, summary: dict) -> list[str]:
    """The answer and each network's evidence, then Figure 12's gaps."""
    block = summary.get("adaptive")
    rows = block["rows"] if block else []
    out = []
    if rows:
        out = [Paragraph("_Does capping ReLU make these networks robust, or does it hide the "
                         "gradient? Computed from the rows above:_")]
        seed_rows = [b["rows"] for b in seed_blocks(summary, "adaptive")]
        out += answer(rows, seed_rows) + [row_evidence(r) for r in _ordered(rows)]
    for output in group:
        curve = summary.get(output.key) if output.kind == "adaptive_curve" else None
        for b0, c in (curve["curves"] if curve else {}).items():
            gaps = [100.0 * (p - w) for p, w in zip(c["pgd"], c["worst_case"])]
            out.append(f"Figure {output.number}, trained with β = {b0}: over evaluation caps "
                       f"{curve['betas_eval'][0]}–{curve['betas_eval'][-1]}, PGD exceeds the "
                       f"worst case by {min(gaps):.1f} to {max(gaps):.1f} points.")
    return out
