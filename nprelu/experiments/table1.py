"""Section 8, Table 1: capped ReLU with adversarial training, under FGSM, PGD and CW-L2.

General 392-196 networks with a cap on HL2 (beta none, 1, 0.1, 0.01) are trained for 20 epochs
of Adam (lr 0.001), then for 10 more epochs on FGSM or PGD examples (eps 0.1). Each is evaluated
on clean images and under FGSM (eps 0.1), PGD (eps 0.1, step 0.01, 10 steps) and CW-L2 (9
binary-search steps, 10,000 iterations, lr 0.01, initial c 0.001); each entry is the accuracy
over all evaluated images. One unit of work per row (and per seed, over several seeds).
"""
from __future__ import annotations

import math

from .. import paper
from ..attacks import cw_l2, fgsm, pgd
from ..measures import robust_accuracy, standard_accuracy
from .config import GENERAL
from .store import ModelSpec
from .summary import beta_key
from .units import Split

S8 = paper.SECTION8
FGSM = dict(S8["fgsm"])
PGD = {**S8["pgd"], "random_start": True}                 # the start is ours
CW = {"c_init": S8["cw"]["c_init"], "lr": S8["cw"]["lr"], "kappa": 0.0}   # kappa is ours


def models(seed):
    """Table 1's twelve networks, in the paper's row order."""
    for adv in S8["adv_trainings"]:
        for beta in S8["betas"]:
            yield ModelSpec(GENERAL, (None, beta), seed=seed, adv=None if adv == "none" else adv)


def row_units(seed) -> dict:
    """``{unit id: ModelSpec}``: one unit per row of Table 1 for ``seed``, in row order."""
    return {f"table1/s{seed}/{spec.adv or 'none'}-{beta_key(spec.caps[1])}": spec
            for spec in models(seed)}


def run_row(ctx, unit) -> dict:
    """One row: the network of ``unit`` (a :func:`row_units` id, of any seed) under clean
    images, FGSM, PGD and CW-L2."""
    seed = int(unit.split("/")[1][1:])
    spec = row_units(seed)[unit]
    p = ctx.profile
    x, y = ctx.test(p.n_table)
    xc, yc = ctx.test(p.n_cw)
    net = ctx.model(spec)
    cw = cw_l2(net, xc, yc, search_steps=p.cw_search_steps, max_iter=p.cw_max_iter, **CW)
    broken = ctx.backend.to_host(cw.success)
    l2 = ctx.backend.to_host(cw.l2)[broken]
    return {
        "beta": spec.caps[1], "adv_training": spec.adv or "none",
        "clean": standard_accuracy(net, x, y),
        "fgsm": robust_accuracy(net, fgsm(net, x, y, **FGSM), y),
        "pgd": robust_accuracy(net, pgd(net, x, y, seed=seed, **PGD), y),
        "cw": robust_accuracy(net, cw.x_adv, yc),
        "cw_mean_l2": float(l2.mean()) if len(l2) else None,
        "n_cw": int(len(yc)),
    }


def settings(ctx) -> dict:
    p = ctx.profile
    return {"network": list(GENERAL), "capped_layer": "HL2", "fgsm": FGSM, "pgd": PGD,
            "cw": {**CW, "search_steps": p.cw_search_steps, "max_iter": p.cw_max_iter,
                   "abort_early": True},
            "epochs": p.epochs, "adv_epochs": p.adv_epochs,
            "adv_training": "each batch replaced by its FGSM / PGD (random start) examples"}


def _seeds(ctx) -> list:
    return list(range(ctx.seed, ctx.seed + ctx.n_seeds))


def combine(ctx, partials) -> tuple:
    return {"table1": [partials[u] for u in row_units(ctx.seed)]}, settings(ctx)


def combine_seeds(ctx, partials) -> tuple:
    """Table 1 over seeds seed, seed+1, ... (``ctx.n_seeds``): mean and sample std per cell."""
    runs = [[partials[u] for u in row_units(seed)] for seed in _seeds(ctx)]
    rows = []
    for cells in zip(*runs):
        row = {"beta": cells[0]["beta"], "adv_training": cells[0]["adv_training"],
               "n_cw": cells[0]["n_cw"]}
        for key in paper.TABLE1_METRICS:
            vals = [c[key] for c in cells]
            mean = sum(vals) / len(vals)
            row[key] = mean
            row[f"{key}_std"] = (math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
                                 if len(vals) > 1 else 0.0)
        rows.append(row)
    n_seeds = ctx.n_seeds
    return ({"table1_seeds": {"n_seeds": n_seeds, "rows": rows}},
            {**settings(ctx), "seeds": _seeds(ctx)})


#: Table 1, one unit per row.
SPLIT = Split(lambda ctx: list(row_units(ctx.seed)), run_row, combine)
#: Table 1 over seeds, one unit per seed and row; the first seed's rows are Table 1's units.
SPLIT_SEEDS = Split(lambda ctx: [u for seed in _seeds(ctx) for u in row_units(seed)], run_row,
                    combine_seeds)
