"""Which attack the report itself shows to be masked, on which of Table 1's networks.

An attack that follows the true gradient (PGD as the paper ran it, FGSM, CW-L2) is **masked**
on a network when the per-sample worst case of the one-budget suite (``suite``; without it,
the adaptive attacks' ``adaptive``) is more than :data:`MARGIN` below that attack's accuracy on
the same network, paired per seed, and the difference is significant:

    d_s = acc_attack(network, seed s) - worst_case(network, seed s) - MARGIN,

masked when the paired t test over the seeds (one seed: the two-proportion z test over the
test images) gives mean(d) > 0 with p < :data:`ALPHA` (:func:`.families.significance`; a
screening rule, not corrected for the networks tried). The attack's accuracy is taken on the
suite's own images where the summary has it: PGD from the suite's ``pgd_paper`` (else the
adaptive rows' ``pgd``), FGSM from the adaptive rows (the same images per seed), CW-L2 from the
CW gap's plain ``cw`` (the same images per seed), else Table 1's CW column (its own 200 images
per seed: the same network and seed, other images).

A paper claim's comparison that holds only because a masked attack leaves the network it
favours a high accuracy is no evidence for the claim (:data:`.families.MASKED`).
"""
from __future__ import annotations

from .families import significance
from .format import adv_label, beta_label, num
from .intervals import seed_blocks
from .table1 import row_key

#: How far (a fraction of the images) the worst case must lie below the attack (ours).
MARGIN = 0.10
#: The test's level (ours).
ALPHA = 0.05
#: The attacks this rule judges and their names in the report.
ATTACKS = {"fgsm": "FGSM", "pgd": "PGD", "cw": "CW-L2"}


def _seed_value(rows: list, key: tuple, field: str) -> float:
    row = next((r for r in rows if row_key(r) == key), None)
    return num(row[field]) if row is not None and field in row else float("nan")


def _per_seed(summary: dict, block: str, key: tuple, field: str) -> list[float]:
    blocks = seed_blocks(summary, block) if summary.get(block) else []
    return [_seed_value(b["rows"] if isinstance(b, dict) else b, key, field) for b in blocks]


def _cw_gap(summary: dict, key: tuple) -> list[float]:
    if not summary.get("cw_gap"):
        return []
    out = []
    for b in seed_blocks(summary, "cw_gap"):
        row = next((r for r in b["rows"] if row_key(r) == key), None)
        out.append(num(row["variants"]["cw"]["accuracy"]) if row and "cw" in row["variants"]
                   else float("nan"))
    return out


def _finite(vals: list) -> bool:
    return bool(vals) and all(v == v for v in vals)


def sources(summary: dict, key: tuple, attack: str) -> tuple:
    """``(attack per seed, worst case per seed, where the attack's numbers come from)``."""
    worst = _per_seed(summary, "suite", key, "worst_case")
    if not _finite(worst):
        worst = _per_seed(summary, "adaptive", key, "worst_case")
    options = {"pgd": [("the suite", _per_seed(summary, "suite", key, "pgd_paper")),
                       ("the adaptive attacks", _per_seed(summary, "adaptive", key, "pgd"))],
               "fgsm": [("the adaptive attacks", _per_seed(summary, "adaptive", key, "fgsm"))],
               "cw": [("the CW gap", _cw_gap(summary, key)),
                      ("Table 1", _per_seed(summary, "table1", key, "cw"))]}[attack]
    for where, vals in options:
        if _finite(vals) and len(vals) == len(worst):
            return vals, worst, where
    return [], worst, ""


def masked(summary: dict, beta, adv: str, attack: str) -> dict | None:
    """The rule of the module doc for ``attack`` on the network (``beta``, ``adv``): None when
    the summary cannot tell (no worst case or no such numbers), else ``{"masked", "attack",
    "worst", "test", "where"}`` (means over the seeds)."""
    key = row_key({"beta": beta, "adv_training": adv})
    a, worst, where = sources(summary, key, attack)
    if not where or not _finite(worst):
        return None
    rows = (summary.get("suite") or summary.get("adaptive") or {}).get("rows", [])
    n = next((r.get("n") for r in rows if row_key(r) == key), None)
    test = significance([x - MARGIN for x in a], worst, n)
    if test is None:
        return None
    return {"masked": test.diff > 0 and test.p < ALPHA, "attack": sum(a) / len(a),
            "worst": sum(worst) / len(worst), "test": test, "where": where}


def is_masked(summary: dict, beta, adv: str, attack: str) -> bool:
    """Whether ``attack`` is masked on the capped network (``beta``, ``adv``); never for an
    uncapped one (``beta`` None): its gradient has no flat cap."""
    if beta is None or attack not in ATTACKS:
        return False
    found = masked(summary, beta, adv, attack)
    return bool(found and found["masked"])


def masked_text(summary: dict, pairs: list) -> str:
    """The rule and the (network, attack) ``pairs`` found masked, for a claim's line; "" when
    none is."""
    shown = []
    for beta, adv, attack in pairs:
        m = masked(summary, beta, adv, attack) if is_masked(summary, beta, adv, attack) else None
        if m and (beta, adv, attack) not in [s[0] for s in shown]:
            shown.append(((beta, adv, attack),
                          f"{ATTACKS[attack]} on β={beta_label(beta)}/{adv_label(adv)} "
                          f"{100 * m['attack']:.1f}% ({m['where']}) vs worst case "
                          f"{100 * m['worst']:.1f}%"))
    if not shown:
        return ""
    return (f" Masked attacks (the suite's per-sample worst case more than {100 * MARGIN:g} "
            f"points below the attack on the same network and seeds, paired t p < {ALPHA:g}): "
            + "; ".join(s for _, s in shown) + ".")
