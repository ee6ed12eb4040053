"""Section 8, Table 1: capped ReLU with adversarial training, under FGSM, PGD and CW-L2.

General 392-196 networks with a cap on HL2 (beta none, 1, 0.1, 0.01) are trained for 20 epochs
of Adam (lr 0.001), then for 10 more epochs on FGSM or PGD examples (eps 0.1). Each is evaluated
on clean images and under FGSM (eps 0.1), PGD (eps 0.1, step 0.01, 10 steps) and CW-L2 (9
binary-search steps, 10,000 iterations, lr 0.01, initial c 0.001); each entry is the accuracy
over all evaluated images (``n`` of them for clean, FGSM and PGD, ``n_cw`` for CW-L2). One unit
of work per row and seed.
"""
from __future__ import annotations

from .. import paper
from ..attacks import cw_l2, fgsm, pgd
from ..measures import accuracy_outcome
from ..runner.config import GENERAL
from ..runner.store import ModelSpec
from ..runner.units import Split, network_units, unit_seed

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
    return network_units("table1", seed, models(seed))


def run_row(ctx, unit) -> dict:
    """One row: the network of ``unit`` (a :func:`row_units` id, of any seed) under clean
    images, FGSM, PGD and CW-L2."""
    seed = unit_seed(unit)
    spec = row_units(seed)[unit]
    p = ctx.profile
    x, y = ctx.test(p.n_table)
    xc, yc = ctx.test(p.n_cw)
    images, images_cw = ctx.indices(p.n_table), ctx.indices(p.n_cw)
    net = ctx.model(spec)
    cw = cw_l2(net, xc, yc, search_steps=p.cw_search_steps, max_iter=p.cw_max_iter, **CW)
    broken = ctx.backend.to_host(cw.success)
    l2 = ctx.backend.to_host(cw.l2)[broken]
    return {
        "beta": spec.caps[1], "adv_training": spec.adv or "none",
        "clean": accuracy_outcome(net, x, y, images),
        "fgsm": accuracy_outcome(net, fgsm(net, x, y, **FGSM), y, images),
        "pgd": accuracy_outcome(net, pgd(net, x, y, seed=seed, **PGD), y, images),
        "cw": accuracy_outcome(net, cw.x_adv, yc, images_cw),
        "cw_mean_l2": float(l2.mean()) if len(l2) else None,
        "n": int(len(y)), "n_cw": int(len(yc)),
    }


def settings(ctx) -> dict:
    p = ctx.profile
    return {"network": list(GENERAL), "capped_layer": "HL2", "fgsm": FGSM, "pgd": PGD,
            "cw": {**CW, "search_steps": p.cw_search_steps, "max_iter": p.cw_max_iter,
                   "abort_early": True},
            "epochs": p.epochs, "adv_epochs": p.adv_epochs,
            "adv_training": "each batch replaced by its FGSM / PGD (random start) examples"}


def combine(ctx, partials) -> tuple:
    return {"table1": [partials[u] for u in row_units(ctx.seed)]}, settings(ctx)


#: Table 1 for one seed, one unit per row ("table1/s0/pgd-0.1").
SPLIT = Split(lambda ctx: list(row_units(ctx.seed)), run_row, combine,
              networks=lambda ctx, unit: [row_units(ctx.seed)[unit]])
