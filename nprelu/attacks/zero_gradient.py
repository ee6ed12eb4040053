r"""Zero-gradient PGD: the paper's Section 6 ("Is ReLU Adversarially Robust?", Sooksatra et al.).

PGD is "modified to include a new stopping criterion": instead of stopping once the prediction
flips, it keeps stepping until the gradient of the objective with respect to the input is zero,
and the Euclidean distance from the clean input to that point is reported (averaged over the
samples where a zero gradient was found). Per sample::

    x_0 = x;   for k = 0, 1, ..., max_steps:
        g_k = d loss(x_k, y) / dx        (softmax cross-entropy of the true label y)
        if every entry of g_k == 0:  found, steps = k, distance = ||x_k - x||_2;  stop
        if k == max_steps:           not found, distance = ||x_k - x||_2;  stop
        x_{k+1} = clip(proj(x_k + step * sign(g_k)), 0, 1)

An exactly zero gradient arises when a layer's units are all off the slope of their activation
(below 0, or above a cap beta), so nothing flows back to the input.

The paper leaves three choices open; ours, and why:

- **No eps-ball projection by default** (``eps=None``: proj is the identity). The quantity
  measured is how far the attacker travels before the gradient vanishes; an eps-ball would cap
  that distance at eps * sqrt(d) and mix "no zero gradient nearby" with "stopped by the ball".
  Pass ``eps`` to project onto the L-infinity ball around ``x`` as ordinary PGD does.
- **Step 0.01** (``step``), the PGD step size the paper uses for the Section 4 and 5 networks
  whose attacks this experiment extends (eps 0.1, step 0.01).
- **At most 500 steps** (``max_steps``): 100 steps of 0.01 already move a pixel across the whole
  [0, 1] range, so 500 leaves room for the path to wander; samples still without a zero gradient
  are reported as not found (the paper's failure case, Figure 7).

Samples that found a zero gradient leave the active batch, so later steps cost less. On the CPU
the rows run in the backend's fixed row blocks, each on its own, shared by its threads
(:mod:`nprelu.parallel`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ..parallel import over_rows
from ._common import check_attack_memory, check_budget, check_int, check_setting, input_grad, \
    prepare


@dataclass
class ZeroGradientResult:
    """Per sample (arrays on the network's device).

    ``found``: bool, a point with an exactly zero input gradient was reached.
    ``steps``: int, PGD steps taken before it (0: the clean input's gradient is already zero;
    ``max_steps`` where not found). ``distance``: ||x_final - x||_2. ``x_final``: the point where
    the zero gradient was found, or the last iterate where it was not.
    """

    found: object
    steps: object
    distance: object
    x_final: object


def zero_gradient_pgd(net, x, y, step=0.01, max_steps=500, eps=None, batch_size=10000,
                      grad_fn=input_grad):
    """Run zero-gradient PGD on the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``step``: signed-gradient step, pixel units of [0, 1]. ``max_steps``: most steps per sample.
    ``eps``: L-infinity radius to project onto (None: no projection, only the [0, 1] box).
    ``batch_size``: rows per pass (memory only). ``grad_fn(net, x, y) -> dx``: the objective's
    input gradient (default cross-entropy, ``net.input_grad``; others from
    :func:`~nprelu.attacks.input_grad_fn`).

    Returns a :class:`ZeroGradientResult`; see the module doc for the not-found case. An empty
    batch gives empty fields.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), step is
    in (0, 1] and eps (unless None) in [0, 1], max_steps >= 0 (0: only test the clean input's
    gradient) is an integer at most its limit and batch_size >= 1 an integer
    (:mod:`~nprelu.attacks._common`).
    """
    x, y, xp = prepare(net, x, y)
    step = check_setting("step", step, net.backend.dtype)
    max_steps = check_budget("max_steps", max_steps, 0)
    eps = None if eps is None else check_setting("eps", eps, net.backend.dtype)
    batch_size = check_int("batch_size", batch_size)
    check_attack_memory("zero_gradient_pgd", net, x, 3, 6)
    parts = over_rows(net.backend, len(x), partial(_zero_rows, net, x, y, step, max_steps, eps,
                                                   grad_fn), batch_size)   # N = 0: one part
    if len(parts) == 1:
        return parts[0]
    return ZeroGradientResult(*(xp.concatenate([getattr(p, f) for p in parts])
                                for f in ("found", "steps", "distance", "x_final")))


def _zero_rows(net, x, y, step, max_steps, eps, grad_fn, rows):
    """The search on ``x[rows]`` (one of the backend's row blocks)."""
    xp = net.backend.xp
    x, y = x[rows], y[rows]
    n = len(x)
    found = xp.zeros(n, dtype=bool)
    steps = xp.full(n, max_steps, dtype="int64")
    x_final = x.copy()
    if n == 0:
        return ZeroGradientResult(found, steps, xp.zeros(0, dtype=x.dtype), x_final)
    if eps is None:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = xp.clip(x - eps, 0.0, 1.0), xp.clip(x + eps, 0.0, 1.0)
    idx = xp.arange(n)
    xa, ya = x.copy(), y
    for k in range(max_steps + 1):
        g = grad_fn(net, xa, ya)
        zero = ~(g != 0).any(axis=1)
        if bool(zero.any()):
            rows = idx[zero]
            found[rows] = True
            steps[rows] = k
            x_final[rows] = xa[zero]
            live = ~zero
            idx, xa, ya, g = idx[live], xa[live], ya[live], g[live]
            if eps is not None:
                lo, hi = lo[live], hi[live]
            if len(idx) == 0:
                break
        if k == max_steps:
            x_final[idx] = xa
            break
        g = xp.sign(g)
        g *= step
        xa += g
        xp.clip(xa, lo, hi, out=xa)
    diff = x_final - x
    distance = xp.sqrt((diff * diff).sum(axis=1))
    return ZeroGradientResult(found, steps, distance, x_final)
