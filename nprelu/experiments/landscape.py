r"""Figure 7 (ours, from data): the loss around real test images of a capped network.

The paper's Figure 7 sketches zero-gradient PGD succeeding and failing. We draw the real thing
for Figure 4's general network (392-196) with HL2 capped, trained and evaluated at beta 0.01,
on the seed's ``n_zero`` subset. Three cases (:data:`CASES`), each one image with its own slice:

- ``"at_x"``: the first image (in subset order) that is correctly classified, whose
  cross-entropy input gradient is exactly zero at x, and on which plain PGD (Figure 4's: eps 0.1,
  step 0.01, 10 steps, random start) fails: the case the paper's argument is about. If no image
  meets all three, the first meeting the first two, else the first correct one, else the first
  (OUR fallbacks; ``selection`` says which tier chose it).
- ``"succeeds"``: the first correct image whose gradient at x is NOT all zero and on which the
  zero-gradient search (``attacks.zero_gradient_pgd``, step 0.01, no eps ball, at most
  ``profile.zero_max_steps`` steps) finds an exactly zero gradient after >= 1 step (ours).
- ``"fails"``: the first correct image whose gradient at x is not all zero and on which the
  search finds none within ``zero_max_steps`` (ours).

The last two come from ONE batched search over the whole subset. A case that no image meets is
None. The block also counts, over the subset, the images that justify the picks: ``n_correct``,
``n_zero_at_x`` (correct, zero gradient at x), ``n_search_found`` and ``n_search_failed``
(correct, gradient at x nonzero, and the search found a zero gradient after >= 1 step / found
none: the images eligible for "succeeds" / "fails").

The slice of one image: the cross-entropy L(clip(x + a u + b v, 0, 1)) over a 41 x 41 grid of
a, b in [-0.15, 0.15], with u = sign of the BPDA input gradient at x (the capped layer's
derivative replaced by ReLU's 1[z > 0]; a random sign vector when that is zero too) and v a
random sign vector (both drawn from the seed and the image's index, ours). ``plateau`` marks the
grid points where the true input gradient is exactly zero. The paths of plain PGD (eps 0.1) and
of the zero-gradient search (re-run on the one image, step by step: ``zero_found``,
``zero_steps``; what the batched runs gave the image is kept beside, ``pgd_batch_success``,
``zero_batch_found``, ``zero_batch_steps``) are projected on (u, v) by least squares:
(a_t, b_t) = argmin ||a u + b v - (x_t - x)||_2. Over seeds, the mean block keeps the first
seed's ``cases`` (``aggregate.PER_SEED``) and averages the counts; ``runs`` keeps every seed's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attacks import pgd, zero_gradient_pgd
from ..paper import FIG7_CASES
from ..runner.config import GENERAL, caps_for
from ..runner.store import ModelSpec
from .sweeps import CAPPED, PGD

LAYER, BETA = "HL2", 0.01
HALF_WIDTH = 0.15       # the slice spans [-0.15, 0.15] in a and b (ours)
GRID = 41               # points per axis (ours)
ZERO_STEP = 0.01        # the zero-gradient search's step (Figures 8-10's)
SALT = 7_000_007        # the random directions' stream, apart from every other draw
#: The three cases, in the order they are drawn (module doc).
CASES = FIG7_CASES
#: The selection rule of the two search cases, in words.
SEARCH_RULES = {
    "succeeds": "correct, gradient at x not all zero, the zero-gradient search finds a zero "
                "gradient after >= 1 step",
    "fails": "correct, gradient at x not all zero, the zero-gradient search finds no zero "
             "gradient within the step limit"}


#: The fallback tiers of the "at_x" case, first to last (module doc).
AT_X_TIERS = ("correct, zero gradient at x, plain PGD fails",
              "correct, zero gradient at x (plain PGD succeeds on every such image)",
              "correct (no correct image has a zero gradient at x)")
AT_X_LAST = "the first image (none is correctly classified)"


def spec(seed) -> ModelSpec:
    """Figure 4's general network with HL2 trained at beta 0.01 (``sweeps.specs``' spec)."""
    return ModelSpec(GENERAL, caps_for(CAPPED[LAYER], BETA, 2), seed=seed)


def pgd_seed(seed: int) -> int:
    """Figure 4's PGD seed for the run seed ``seed`` at its first evaluation cap, 0.01."""
    return seed * 1000


@dataclass(frozen=True)
class Survey:
    """What the selection looks at, per image of the subset (arrays on the network's device):
    ``correct`` (clean prediction == label), ``zero`` (the CE input gradient at x is exactly 0),
    ``survives`` (plain PGD fails: its adversarial image is still classified correctly) and
    ``search`` (the batched zero-gradient search's
    :class:`~nprelu.attacks.zero_gradient.ZeroGradientResult`)."""

    correct: object
    zero: object
    survives: object
    search: object

    def eligible(self) -> dict:
        """Per case, the boolean mask of the images meeting its first-tier rule."""
        moving = self.correct & ~self.zero
        return {"at_x": self.correct & self.zero & self.survives,
                "succeeds": moving & self.search.found & (self.search.steps >= 1),
                "fails": moving & ~self.search.found}


def survey(net, x, y, seed: int, max_steps: int) -> Survey:
    """Classify the subset ``x``, ``y`` (on the device), test its gradient at x, and run plain
    PGD (seed :func:`pgd_seed`) and ONE batched zero-gradient search over all of it."""
    _, dx = net.input_grad(x, y)
    adv = pgd(net, x, y, seed=pgd_seed(seed), **PGD)
    return Survey(net.predict(x) == y, ~(dx != 0).any(axis=1), net.predict(adv) == y,
                  zero_gradient_pgd(net, x, y, step=ZERO_STEP, max_steps=max_steps))


def _first(mask):
    """The first True index of a device mask, or None."""
    return int(mask.nonzero()[0][0]) if bool(mask.any()) else None


def picks(s: Survey) -> dict:
    """Per case, ``(index, selection)``: the first image meeting its rule and the rule in words;
    None for a search case that no image meets ("at_x" always falls back, module doc)."""
    ok = s.eligible()
    tiers = zip(AT_X_TIERS, (ok["at_x"], s.correct & s.zero, s.correct))
    out = {"at_x": next(((_first(m), name) for name, m in tiers if bool(m.any())),
                        (0, AT_X_LAST))}
    for case, rule in SEARCH_RULES.items():
        i = _first(ok[case])
        out[case] = None if i is None else (i, rule)
    return out


def counts(s: Survey) -> dict:
    """The subset's counts that justify the picks (module doc)."""
    ok = s.eligible()
    return {"n_correct": int(s.correct.sum()), "n_zero_at_x": int((s.correct & s.zero).sum()),
            "n_search_found": int(ok["succeeds"].sum()), "n_search_failed": int(ok["fails"].sum())}


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


def directions(net, x, y, seed: int, index: int) -> tuple:
    """``(u, v, u_kind)`` of one image's slice (module doc); the random signs are drawn from
    ``[SALT, seed, index]`` (ours), so each case's slice does not depend on the others."""
    be = net.backend
    rng = np.random.default_rng([SALT, seed, index])
    v = rng.choice([-1.0, 1.0], size=x.shape)
    _, g = net.input_grad(be.asarray(x[None]), be.xp.asarray([y]), surrogate="relu")
    u = np.sign(be.to_host(g)[0]).astype(np.float64)
    if not u.any():
        return rng.choice([-1.0, 1.0], size=x.shape), v, "random signs (BPDA gradient zero)"
    return u, v, "sign of the BPDA (relu) input gradient at x"


def loss_slice(net, x, y, u, v) -> tuple:
    """``(grid, loss, plateau)``: the cross-entropy over the slice (row: b, column: a) and where
    the true input gradient is exactly zero."""
    be = net.backend
    grid = np.linspace(-HALF_WIDTH, HALF_WIDTH, GRID)
    bb, aa = np.meshgrid(grid, grid, indexing="ij")
    points = np.clip(x[None] + aa.reshape(-1, 1) * u + bb.reshape(-1, 1) * v, 0.0, 1.0)
    loss, dx = net.input_grad(be.asarray(points), be.xp.full(len(points), y))
    flat = be.to_host(~(dx != 0).any(axis=1)).reshape(GRID, GRID)
    return grid, be.to_host(loss).astype(np.float64).reshape(GRID, GRID), flat


def case_block(net, xs, ys, s: Survey, case: str, pick: tuple, seed: int,
               max_steps: int) -> dict:
    """One case's dict: image ``pick = (index, selection)`` of the host subset ``xs``, ``ys``,
    its slice, plain PGD's path and the zero-gradient search's, re-run on the one image
    (``zero_*``), beside what the batched runs gave it (``pgd_batch_success``,
    ``zero_batch_found``, ``zero_batch_steps``)."""
    be = net.backend
    i, selection = pick
    x, y = be.to_host(be.asarray(xs[i:i + 1]))[0], int(ys[i])
    u, v, u_kind = directions(net, x, y, seed, i)
    grid, loss, flat = loss_slice(net, x, y, u, v)
    pgd_iters = pgd_path(net, x, y, pgd_seed(seed))
    zero_iters, found, steps = zero_path(net, x, y, max_steps)
    return {"case": case, "index": i, "label": y, "selection": selection, "u": u_kind,
            "a": [float(t) for t in grid], "b": [float(t) for t in grid],
            "loss": [[float(t) for t in row] for row in loss],
            "plateau": [[bool(t) for t in row] for row in flat],
            "plateau_fraction": float(flat.mean()),
            "pgd_path": coordinates(pgd_iters, x, u, v),
            "pgd_success": bool(int(net.predict(be.asarray(pgd_iters[-1][None]))[0]) != y),
            "pgd_batch_success": not bool(s.survives[i]),
            "zero_path": coordinates(zero_iters, x, u, v), "zero_found": found,
            "zero_steps": steps, "zero_batch_found": bool(s.search.found[i]),
            "zero_batch_steps": int(s.search.steps[i])}


def run(ctx) -> tuple:
    """The ``fig07`` block of one seed (module doc), and its settings."""
    be, p = ctx.backend, ctx.profile
    xs, ys = ctx.test(p.n_zero)
    net = ctx.model(spec(ctx.seed))
    s = survey(net, be.asarray(xs), be.xp.asarray(ys), ctx.seed, p.zero_max_steps)
    cases = {case: None if pick is None else
             case_block(net, xs, ys, s, case, pick, ctx.seed, p.zero_max_steps)
             for case, pick in picks(s).items()}
    block = {"network": "general", "sizes": list(GENERAL), "capped_layer": LAYER, "beta": BETA,
             "eps": PGD["eps"], "n_test": int(len(ys)), **counts(s), "cases": cases}
    return {"fig07": block}, {
        "network": f"general (Figure 4's), {LAYER} trained and evaluated at beta {BETA}",
        "images": {"at_x": f"the first of the subset that is {AT_X_TIERS[0]} (ours; fallbacks "
                           "in `selection`)",
                   **{c: f"the first of the subset that is {r} (ours; None if none)"
                      for c, r in SEARCH_RULES.items()}},
        "slice": f"x + a u + b v clipped to [0, 1], a, b in [-{HALF_WIDTH}, {HALF_WIDTH}], "
                 f"{GRID} x {GRID}; u = sign of the BPDA (relu) gradient at x, v = random signs",
        "pgd": PGD, "zero_gradient": {"step": ZERO_STEP, "max_steps": p.zero_max_steps,
                                      "projection": "none (the [0, 1] box only)",
                                      "selection": "one batched search over the subset"},
        "n": p.n_zero}
