"""The report's section beyond the paper: adaptive attacks, and the answer to the paper's title.

Reads ``summary['adaptive']`` (rows per Table 1 network, the Carlini et al. checklist) and
``summary['fig12']``. Every verdict is computed from the numbers: a row is flagged when PGD's
robust accuracy exceeds the adaptive worst case by more than ``MASK_POINTS`` percentage points,
and the answer compares each capped network's worst case with its uncapped twin's.

Host-side module (no arrays from the backend, no printing).
"""
from __future__ import annotations

import math

MASK_POINTS = 5.0   # PGD above the worst case by more than this (points): PGD is misled
ATTACKS = [("pgd", "PGD"), ("fgsm", "FGSM"), ("bpda", "BPDA-PGD"), ("transfer", "Transfer"),
           ("square", "Square"), ("margin_pgd", "Margin PGD"), ("worst_case", "Worst case")]
ADV_LABELS = {"none": "—", "fgsm": "FGSM", "pgd": "PGD"}
TITLE = "Beyond the paper — adaptive attacks: robustness, or a hidden gradient?"


def _pct(v) -> str:
    return "—" if v is None or not math.isfinite(float(v)) else f"{100.0 * float(v):.1f}"


def _beta(b) -> str:
    return "—" if b is None else f"{float(b):g}"


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _order(rows):
    adv = {"none": 0, "fgsm": 1, "pgd": 2}
    return sorted(rows, key=lambda r: (adv.get(r["adv_training"], 9),
                                       -math.inf if r["beta"] is None else -float(r["beta"])))


def gap_points(row) -> float:
    """How far PGD overstates robust accuracy: PGD minus the worst case, in points."""
    return 100.0 * (row["pgd"] - row["worst_case"])


def strongest(row) -> str:
    """The single attack with the lowest robust accuracy on this row (ties: first listed)."""
    best = min((row[k], label) for k, label in ATTACKS[:-1] if row.get(k) is not None)
    return best[1]


def extended_table1(rows, table1_rows=None) -> str:
    """Table 1 with the adaptive columns; the CW column comes from Table 1 when it is given."""
    cw = {(r["beta"], r["adv_training"]): r.get("cw") for r in (table1_rows or [])}
    header = (["Max val.", "Adv. training", "Clean %"] + [f"{label} %" for _, label in ATTACKS]
              + ["CW-L2 % (Table 1)", "PGD − worst (points)", "zero gradient %"])
    body = []
    for r in _order(rows):
        body.append([_beta(r["beta"]), ADV_LABELS.get(r["adv_training"], r["adv_training"]),
                     _pct(r["clean"])] + [_pct(r.get(k)) for k, _ in ATTACKS]
                    + [_pct(cw.get((r["beta"], r["adv_training"]))), f"{gap_points(r):+.1f}",
                       _pct(r.get("zero_gradient_fraction"))])
    return _table(header, body)


def checklist_table(checks) -> str:
    names = list(dict.fromkeys(c["name"] for block in checks for c in block["checks"]))
    body = []
    for block in checks:
        by = {c["name"]: c for c in block["checks"]}
        body.append([_beta(block["beta"]), ADV_LABELS.get(block["adv_training"])]
                    + [("pass" if by[n]["passed"] else "**WARN**") if n in by else "—"
                       for n in names])
    return _table(["Max val.", "Adv. training"] + names, body)


def row_evidence(row) -> str:
    gap = gap_points(row)
    head = (f"β = {_beta(row['beta'])}, adversarial training {row['adv_training']}: PGD "
            f"{_pct(row['pgd'])}%, worst case {_pct(row['worst_case'])}% ({gap:+.1f} points; "
            f"strongest single attack: {strongest(row)}); "
            f"{_pct(row.get('zero_gradient_fraction'))}% of inputs have an exactly zero gradient")
    if gap > MASK_POINTS and strongest(row) in ("BPDA-PGD", "Transfer", "Square"):
        return head + (" — PGD overstates this network's robustness, and an attack that does "
                       "not use its true gradient does better: a masked gradient.")
    if gap > MASK_POINTS:
        return head + (" — PGD overstates this network's robustness, but a stronger gradient "
                       "attack closes the gap: a weak attack rather than a masked gradient.")
    return head + f" — PGD's number holds up (within {MASK_POINTS:g} points)."


def answer(rows) -> list[str]:
    """The computed answer: per adversarial training, capped networks against the uncapped twin."""
    out = []
    twins = {r["adv_training"]: r for r in rows if r["beta"] is None}
    capped = [r for r in _order(rows) if r["beta"] is not None]
    masked = [r for r in capped if gap_points(r) > MASK_POINTS]
    out.append(f"In {len(masked)} of {len(capped)} capped networks PGD overstates robust accuracy "
               f"by more than {MASK_POINTS:g} points against the adaptive worst case; in "
               f"{sum(gap_points(r) > MASK_POINTS for r in rows if r['beta'] is None)} of "
               f"{len(twins)} uncapped ones.")
    for r in capped:
        t = twins.get(r["adv_training"])
        if t is None:
            continue
        d_pgd = 100.0 * (r["pgd"] - t["pgd"])
        d_worst = 100.0 * (r["worst_case"] - t["worst_case"])
        d_clean = 100.0 * (r["clean"] - t["clean"])
        if d_worst > MASK_POINTS:
            verdict = "more robust than its uncapped twin even under the worst case"
        elif d_pgd > MASK_POINTS:
            verdict = "its PGD gain does not survive the adaptive attacks (a hidden gradient)"
        else:
            verdict = "not more robust than its uncapped twin under either measure"
        out.append(f"β = {_beta(r['beta'])} with adversarial training {r['adv_training']}: "
                   f"against the uncapped twin, PGD robust accuracy {d_pgd:+.1f} points, worst "
                   f"case {d_worst:+.1f} points, clean accuracy {d_clean:+.1f} points: {verdict}.")
    return out


def adaptive_section(summary, figure_line) -> list[str]:
    """The section's lines: settings pointer, figure, extended table, checklist, evidence."""
    block = summary.get("adaptive") or {}
    rows = block.get("rows") or []
    lines = [f"## {TITLE}", "",
             "The paper evaluates only gradient attacks. A capped ReLU has a zero derivative "
             "outside (0, β), so such attacks can fail without the network being robust. Each "
             f"Table 1 network is attacked at eps {block.get('eps', 0.1)} by PGD, FGSM, "
             "BPDA-PGD (the capped layers' derivative replaced by ReLU's or the identity in the "
             "backward pass), transfer from the uncapped twin, the gradient-free Square Attack "
             "and margin-loss PGD with restarts; the worst case counts a sample as robust only "
             "if every attack fails on it. Settings are in `meta.settings.adaptive`."
             + (f" Rows use the first {rows[0]['n']} test images (Table 1's own columns use "
                "its subsets)." if rows else ""), ""]
    lines += figure_line("fig12")
    if rows:
        lines += ["Table 1 with adaptive columns (percent):", "",
                  extended_table1(rows, summary.get("table1")), ""]
    checks = block.get("checklist") or []
    if checks:
        n = checks[0].get("n")
        lines += [f"The checklist of Carlini et al. (2019), computed on the first {n} test "
                  "images of each network (warnings in full in `summary.json`):", "",
                  checklist_table(checks), ""]
    return lines


def findings_adaptive(summary) -> list[str]:
    rows = (summary.get("adaptive") or {}).get("rows") or []
    if not rows:
        return []
    out = ["_Does capping ReLU make these networks robust, or does it hide the gradient? "
           "Computed from the rows above:_"]
    out += answer(rows)
    out += [row_evidence(r) for r in _order(rows)]
    curve = summary.get("fig12") or {}
    for b0, c in (curve.get("curves") or {}).items():
        gaps = [100.0 * (p - w) for p, w in zip(c["pgd"], c["worst_case"])]
        out.append(f"Figure 12, trained with β = {b0}: over evaluation caps "
                   f"{curve['betas_eval'][0]}–{curve['betas_eval'][-1]}, PGD exceeds the worst "
                   f"case by {min(gaps):.1f} to {max(gaps):.1f} points.")
    return out
