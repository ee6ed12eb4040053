r"""Auto-PGD, L-infinity, untargeted (Croce & Hein 2020, "Reliable evaluation of adversarial
robustness with an ensemble of diverse parameter-free attacks"; as fra31/auto-attack's
``autopgd_base.py`` runs it), on the cross-entropy (APGD-CE) or the DLR loss (APGD-DLR); with the
targeted DLR loss toward one given class per row, it is one run of APGD-T
(:mod:`~nprelu.attacks.apgd_t`, which picks the targets).

With P the projection onto the eps-ball around the clean x and then [0, 1] (one clip to
[max(x - eps, 0), min(x + eps, 1)]), g_k the gradient of the loss at x_k, and a per-sample step
size eta (first 2 eps)::

    z_{k+1} = P( x_k + eta * sign(g_k) )
    x_{k+1} = P( x_k + alpha (z_{k+1} - x_k) + (1 - alpha) (x_k - x_{k-1}) )
    alpha   = 1.0 on the first step (x_{-1} = x_0), 0.75 after

Checkpoints (iteration counts, :func:`apgd_checkpoints`) for N = ``steps``: w_0 = 0,
w_1 = 0.22 N, then w_j = w_{j-1} + max(p_j - p_{j-1}, 0.06) N, i.e. the gap shrinks by 0.03 N
per checkpoint down to 0.06 N (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
0.06)); each of 0.22 N, 0.03 N, 0.06 N is rounded down to an integer (at least 1), as the
authors' code does. At checkpoint w_j a sample's step size halves if

    (1) its loss rose, f(x_{i+1}) > f(x_i), in fewer than rho (w_j - w_{j-1}) of the steps
        i = w_{j-1} .. w_j - 1 since the last checkpoint, or
    (2) it was not halved at w_{j-1} and its best loss did not improve since w_{j-1}

(at w_1 condition (2) is off; "fewer than" is the paper's strict test, where the authors' code
uses "at most"), and a halved sample continues from its best point (with the
gradient there). The momentum term keeps the point before the jump, as the authors' code does.

Per sample the best (highest-loss) iterate is kept, and the returned point is the last
misclassified iterate if any iterate was misclassified, else the best one; the start counts as
an iterate. ``restarts`` runs start at independent uniform random points of the eps-ball
(clipped to [0, 1]); per sample the worst case wins: a restart that misclassifies beats one that
does not, and among equals the higher best loss wins.
"""
from __future__ import annotations

from functools import partial

from .. import random_keys
from ..activations import check_surrogate
from ..losses import dlr_loss, get_loss, targeted_dlr_loss
from ..network import check_labels
from ..parallel import over_rows
from ._common import check_attack_memory, check_budget, check_int, check_setting, \
    keep_best_restart, prepare

APGD_LOSSES = {"ce": "cross_entropy", "dlr": dlr_loss, "dlr_targeted": targeted_dlr_loss}


def apgd_checkpoints(steps):
    """The checkpoint iteration counts [w_0 = 0, w_1, ...] <= ``steps`` of the module doc."""
    steps = check_budget("steps", steps)
    gap = max(int(0.22 * steps), 1)
    decr, gap_min = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    out, w = [0], gap
    while w <= steps:
        out.append(w)
        gap = max(gap - decr, gap_min)
        w += gap
    return out


def apgd(net, x, y, eps, steps=100, loss="ce", restarts=1, surrogate=None, seed=0, rho=0.75,
         batch_size=10000, target=None, index=None):
    """APGD examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``eps``: L-infinity radius, in pixel units of [0, 1]. ``steps``: iterations per restart
    (authors: 100). ``loss``: "ce" (softmax cross-entropy) or "dlr" (Croce & Hein's DLR,
    :func:`~nprelu.losses.dlr_loss`; needs >= 3 classes). ``restarts``: runs from independent
    uniform random starts in the eps-ball; restart r of image i starts at the draw keyed by
    (``seed``, r, i) (:mod:`nprelu.random_keys`; restart 0 is the same for any ``restarts``, and
    an image's result does not depend on the other rows of its batch). ``index``: the
    test-image index of each row (default ``arange(N)``).
    ``surrogate``: None (the true gradient) or a BPDA surrogate ("relu", "identity") for capped
    layers. ``rho``: the fraction of rising steps below which the step size halves (0.75).
    ``target``: for ``loss="dlr_targeted"`` only (APGD-T, :mod:`~nprelu.attacks.apgd_t`), one
    class per row, never its label: the targeted DLR loss
    (:func:`~nprelu.losses.targeted_dlr_loss`; >= 4 classes) climbs toward it; success is still
    any misclassification. ``batch_size``: rows per pass (memory only; the random starts are drawn for the whole
    batch, so the result does not depend on it). On the CPU each pass runs in the backend's
    fixed row blocks (512 rows), shared by its threads, each block taking all its steps while
    its arrays stay in cache (:mod:`nprelu.parallel`, as PGD); the thread count never changes
    the result.

    Cost per sample: ``restarts * (steps + 1)`` forward and backward passes.

    Returns ``x_adv`` (N, d) on ``net``'s device, in its dtype, inside the eps-ball and [0, 1]:
    per sample a misclassified point if any restart found one, else the highest-loss point seen.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps in
    [0, 1], 0 < rho <= 1, steps and restarts >= 1 and at most their limits, batch_size >= 1 and
    seed >= 0 integers (:mod:`~nprelu.attacks._common`), ``loss`` is "ce", "dlr" (with >= 3
    classes) or "dlr_targeted" (>= 4 classes, with a ``target`` per row that is a class other
    than the row's label; no ``target`` otherwise) and ``surrogate`` is known. InsufficientMemoryError, before any work, when its
    arrays (the random start, the restart's result and the best so far: about 4 copies of
    ``x``, and a dozen per row block) would not fit in the available memory.
    """
    x, y, xp = prepare(net, x, y)
    eps = check_setting("eps", eps, net.backend.dtype)
    rho = check_setting("rho", rho, net.backend.dtype)
    steps, restarts = check_budget("steps", steps), check_budget("restarts", restarts)
    seed, batch_size = check_int("seed", seed, 0), check_int("batch_size", batch_size)
    if loss not in APGD_LOSSES:
        raise ValueError(f"unknown APGD loss {loss!r}: choose one of {', '.join(APGD_LOSSES)}")
    if loss == "dlr" and net.sizes[-1] < 3:
        raise ValueError(f"loss 'dlr' needs at least 3 classes, the network has {net.sizes[-1]}")
    target = _check_target(net, y, loss, target)
    check_surrogate(surrogate)
    check_attack_memory("apgd", net, x, 4, 12)
    index = random_keys.indices(index, len(x))
    cps = apgd_checkpoints(steps)
    best = None
    for r in range(restarts):
        u = random_keys.uniform(random_keys.key(seed, r), index, x.shape[1])
        runs = over_rows(net.backend, len(x), partial(_apgd_run, net, x, y, eps, steps,
                                                      APGD_LOSSES[loss], surrogate, u, rho, cps,
                                                      target), batch_size)
        best = keep_best_restart(best, *(xp.concatenate(parts) for parts in zip(*runs)))
    return best[0]


def _check_target(net, y, loss, target):
    """``target`` on ``y``'s device for the targeted loss (ValueError naming what is wrong), None
    for the others."""
    if loss != "dlr_targeted":
        if target is not None:
            raise ValueError(f"target is for loss 'dlr_targeted' only, got loss {loss!r}")
        return None
    if net.sizes[-1] < 4:
        raise ValueError(f"loss 'dlr_targeted' needs at least 4 classes, the network has "
                         f"{net.sizes[-1]}")
    if target is None:
        raise ValueError("loss 'dlr_targeted' needs a target class per row, got target None")
    target = check_labels(net.backend.xp.asarray(target), net.sizes[-1], n=len(y), name="target")
    if bool((target == y).any()):
        raise ValueError("target must differ from the label y in every row")
    return target


def _apgd_run(net, x, y, eps, steps, loss, surrogate, u, rho, cps, target, rows):
    """One APGD run on ``x0 = x[rows]`` (one of the backend's row blocks) from the start
    clip(x0 + eps (2 u - 1)), ``u[rows]`` uniform in [0, 1) on the host: ``(x_adv, best_loss,
    wrong)``, ``wrong`` whether a misclassified iterate was found. ``target`` (targeted loss
    only): the rows' target classes, bound to the loss."""
    x0, y, u = x[rows], y[rows], u[rows]
    be = net.backend
    xp = be.xp
    base = get_loss(loss) if target is None else partial(loss, target=target[rows])
    seen = {}

    def recording(logits, yy):   # the loss, noting the prediction of the same forward pass
        seen["pred"] = logits.argmax(axis=1)
        return base(logits, yy)

    def evaluate(xa):
        f, g = net.input_grad(xa, y, loss=recording, surrogate=surrogate)
        return f, g, seen["pred"] != y

    lo, hi = xp.clip(x0 - eps, 0.0, 1.0), xp.clip(x0 + eps, 0.0, 1.0)
    u = be.asarray(u)
    xa = xp.clip(x0 + eps * (2.0 * u - 1.0), lo, hi)
    f, g, wrong = evaluate(xa)
    x_best, g_best, best_loss = xa.copy(), g.copy(), f.copy()
    x_found, found = xa.copy(), wrong.copy()
    n = len(x0)
    eta = xp.full((n, 1), 2.0 * eps, dtype=xa.dtype)
    x_prev, f_prev = xa, f
    rises = xp.zeros(n)
    halved_last = xp.ones(n, dtype=bool)
    best_at_last = best_loss.copy()
    checks, last = set(cps[1:]), 0
    # The update in three reused buffers, operation for operation as written in the module
    # doc (the same numbers as the expression with temporaries), and row copies by mask
    z, mom, spare = xp.empty_like(xa), xp.empty_like(xa), xp.empty_like(xa)
    for i in range(steps):
        a = 1.0 if i == 0 else 0.75
        xp.sign(g, out=z)                   # z = clip(x_k + eta sign(g), lo, hi)
        z *= eta
        z += xa
        _clip(xp, z, lo, hi)
        z -= xa                             # x_new = clip(x_k + a (z - x_k)
        z *= a                              #                + (1 - a)(x_k - x_{k-1}), lo, hi)
        xp.subtract(xa, x_prev, out=mom)
        mom *= 1.0 - a
        x_new = xp.add(xa, z, out=spare)
        x_new += mom
        _clip(xp, x_new, lo, hi)
        spare = xp.empty_like(xa) if x_prev is xa else x_prev   # x_{k-1} is free now
        x_prev, xa = xa, x_new
        f, g, wrong = evaluate(xa)
        xp.copyto(x_found, xa, where=wrong[:, None])
        found |= wrong
        rises += f > f_prev
        f_prev = f
        up = f > best_loss
        xp.copyto(x_best, xa, where=up[:, None])
        xp.copyto(g_best, g, where=up[:, None])
        xp.copyto(best_loss, f, where=up)
        if i + 1 in checks:
            k, last = i + 1 - last, i + 1
            halve = (rises < rho * k) | (~halved_last & (best_at_last >= best_loss))
            halved_last, best_at_last = halve, best_loss.copy()
            rises[...] = 0
            eta[halve] /= 2.0
            xp.copyto(xa, x_best, where=halve[:, None])   # x_{k-1} keeps the point before
            xp.copyto(g, g_best, where=halve[:, None])
    return xp.where(found[:, None], x_found, x_best), best_loss, found


def _clip(xp, v, lo, hi):
    """clip(v, lo, hi) in place, as max then min (lo <= hi; faster than clip with array
    bounds, the same numbers)."""
    xp.maximum(v, lo, out=v)
    xp.minimum(v, hi, out=v)
