r"""Figure 7 (ours, from data): the loss around one real test image of a capped network.

The paper's Figure 7 sketches zero-gradient PGD succeeding and failing. We draw the real thing
for Figure 4's general network (392-196) with HL2 capped, trained and evaluated at beta 0.01,
and one test image of the seed's ``n_zero`` subset: the first (in subset order) that is
correctly classified, whose cross-entropy input gradient is exactly zero at x, and on which
plain PGD (Figure 4's: eps 0.1, step 0.01, 10 steps, random start) fails (OUR choice: the case
the paper's argument is about; if no image meets all three, the first meeting the first two,
else the first correct one, else the first; ``selection`` says which).

The slice: the cross-entropy L(clip(x + a u + b v, 0, 1)) over a 41 x 41 grid of
a, b in [-0.15, 0.15], with u = sign of the BPDA input gradient at x (the capped layer's
derivative replaced by ReLU's 1[z > 0]; a random sign vector when that is zero too) and v a
random sign vector (both drawn from the seed). ``plateau`` marks the grid points where the true
input gradient is exactly zero. The paths of plain PGD (eps 0.1) and of the zero-gradient
search (``attacks.zero_gradient_pgd``, no eps ball) are projected on (u, v) by least squares:
(a_t, b_t) = argmin ||a u + b v - (x_t - x)||_2. One block per seed, not averaged.
"""
from __future__ import annotations

import numpy as np

from ..attacks import pgd, zero_gradient_pgd
from .config import GENERAL, caps_for
from .store import ModelSpec
from .sweeps import CAPPED, PGD

LAYER, BETA = "HL2", 0.01
HALF_WIDTH = 0.15       # the slice spans [-0.15, 0.15] in a and b (ours)
GRID = 41               # points per axis (ours)
ZERO_STEP = 0.01        # the zero-gradient search's step (Figures 8-10's)
SALT = 7_000_007        # the random direction's stream, apart from every other draw


def spec(seed) -> ModelSpec:
    """Figure 4's general network with HL2 trained at beta 0.01 (``sweeps.specs``' spec)."""
    return ModelSpec(GENERAL, caps_for(CAPPED[LAYER], BETA, 2), seed=seed)


def choose(net, x, y, seed) -> tuple:
    """``(index, selection, pgd_adv)``: the image (module doc), which tier chose it, and plain
    PGD's adversarial batch (Figure 4's seed for beta 0.01, the first evaluation cap)."""
    xp = net.backend.xp
    correct = net.predict(x) == y
    _, dx = net.input_grad(x, y)
    zero = ~(dx != 0).any(axis=1)
    adv = pgd(net, x, y, seed=seed, **PGD)
    fails = net.predict(adv) == y
    tiers = (("correct, zero gradient at x, plain PGD fails", correct & zero & fails),
             ("correct, zero gradient at x (plain PGD succeeds on every such image)",
              correct & zero), ("correct (no correct image has a zero gradient at x)", correct))
    for name, ok in tiers:
        if bool(ok.any()):
            return int(xp.flatnonzero(ok)[0]), name, adv
    return 0, "the first image (none is correctly classified)", adv


def coordinates(path, x, u, v) -> list:
    """Least-squares (a, b) of each row of ``path`` - ``x`` in the basis (u, v)."""
    m = np.stack([u, v], axis=1).astype(np.float64)
    d = (np.asarray(path, dtype=np.float64) - x[None, :].astype(np.float64)).T
    coef = np.linalg.lstsq(m, d, rcond=None)[0]
    return [[float(a), float(b)] for a, b in coef.T]


def pgd_path(net, x, y, seed) -> list:
    """Plain PGD's iterates on one image: the random start (drawn exactly as ``attacks.pgd``
    draws it), then the attack's own output after 1, 2, ..., ``steps`` steps."""
    be = net.backend
    u = be.rng(seed).random(x.shape, dtype=be.dtype)
    start = np.clip(x + (u * (2.0 * PGD["eps"]) - PGD["eps"]), 0.0, 1.0)
    iterates = [pgd(net, x[None], np.asarray([y]), seed=seed, **{**PGD, "steps": k})
                for k in range(1, PGD["steps"] + 1)]
    return [start] + [be.to_host(t)[0] for t in iterates]


def zero_path(net, x, y, max_steps) -> tuple:
    """``(iterates, found, steps)`` of the zero-gradient search on one image: the search's own
    last point after 0, 1, ... steps, until it finds a zero gradient or ``max_steps``."""
    path = []
    for k in range(max_steps + 1):
        r = zero_gradient_pgd(net, x[None], np.asarray([y]), step=ZERO_STEP, max_steps=k)
        path.append(net.backend.to_host(r.x_final)[0])
        if bool(r.found[0]):
            return path, True, int(r.steps[0])
    return path, False, max_steps


def run(ctx) -> tuple:
    """The ``fig07`` block of one seed (module doc), and its settings."""
    be, p = ctx.backend, ctx.profile
    xs, ys = ctx.test(p.n_zero)
    net = ctx.model(spec(ctx.seed))
    seed = ctx.seed * 1000           # Figure 4's PGD seed at the first evaluation cap, 0.01
    i, selection, adv = choose(net, be.asarray(xs), be.xp.asarray(ys), seed)
    x, y = be.to_host(be.asarray(xs[i:i + 1]))[0], int(ys[i])
    rng = np.random.default_rng([SALT, ctx.seed])
    v = rng.choice([-1.0, 1.0], size=x.shape)
    _, g = net.input_grad(be.asarray(x[None]), be.xp.asarray([y]), surrogate="relu")
    u = np.sign(be.to_host(g)[0]).astype(np.float64)
    u_kind = "sign of the BPDA (relu) input gradient at x"
    if not u.any():
        u, u_kind = rng.choice([-1.0, 1.0], size=x.shape), "random signs (BPDA gradient zero)"
    grid = np.linspace(-HALF_WIDTH, HALF_WIDTH, GRID)
    bb, aa = np.meshgrid(grid, grid, indexing="ij")          # row: b, column: a
    points = np.clip(x[None] + aa.reshape(-1, 1) * u + bb.reshape(-1, 1) * v, 0.0, 1.0)
    loss, dx = net.input_grad(be.asarray(points), be.xp.full(len(points), y))
    flat = be.to_host(~(dx != 0).any(axis=1)).reshape(GRID, GRID)
    loss = be.to_host(loss).astype(np.float64).reshape(GRID, GRID)
    pgd_iters = pgd_path(net, x, y, seed)
    zero_iters, found, steps = zero_path(net, x, y, p.zero_max_steps)
    land = {"index": i, "label": y, "selection": selection, "u": u_kind,
            "a": [float(t) for t in grid], "b": [float(t) for t in grid],
            "loss": [[float(t) for t in row] for row in loss],
            "plateau": [[bool(t) for t in row] for row in flat],
            "plateau_fraction": float(flat.mean()),
            "pgd_path": coordinates(pgd_iters, x, u, v),
            "pgd_success": bool(int(net.predict(be.asarray(pgd_iters[-1][None]))[0]) != y),
            "pgd_batch_success": bool(int(net.predict(adv[i:i + 1])[0]) != y),
            "zero_path": coordinates(zero_iters, x, u, v), "zero_found": found,
            "zero_steps": steps}
    block = {"network": "general", "sizes": list(GENERAL), "capped_layer": LAYER, "beta": BETA,
             "eps": PGD["eps"], "n_test": int(len(ys)), "landscape": land}
    return {"fig07": block}, {
        "network": f"general (Figure 4's), {LAYER} trained and evaluated at beta {BETA}",
        "image": "the first of the subset that is correct, has an exactly zero CE input "
                 "gradient at x and survives plain PGD (ours; fallbacks in `selection`)",
        "slice": f"x + a u + b v clipped to [0, 1], a, b in [-{HALF_WIDTH}, {HALF_WIDTH}], "
                 f"{GRID} x {GRID}; u = sign of the BPDA (relu) gradient at x, v = random signs",
        "pgd": PGD, "zero_gradient": {"step": ZERO_STEP, "max_steps": p.zero_max_steps,
                                      "projection": "none (the [0, 1] box only)"},
        "n": p.n_zero}
