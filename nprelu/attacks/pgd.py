r"""Projected Gradient Descent, L-infinity, untargeted (Madry et al. 2017, "Towards deep learning
models resistant to adversarial attacks"; step order as torchattacks ``attacks/pgd.py``).

Starting from x_0 = x, or with ``random_start`` from x_0 = clip(x + U(-eps, eps)^d, 0, 1)::

    x_{k+1} = clip( proj_eps( x_k + step * sign(g(x_k)) ), 0, 1 )
    proj_eps(v) = min(max(v, x - eps), x + eps)          (elementwise, around the clean x)

where g is the gradient of the attack loss with respect to the input; by default the softmax
cross-entropy of the true label (``net.input_grad``). Every iterate stays in the eps-ball and in
[0, 1].
"""
from __future__ import annotations

from functools import partial

from .. import random_keys
from ..parallel import over_rows
from ._common import check_attack_memory, check_budget, check_int, check_setting, input_grad, \
    prepare


def pgd(net, x, y, eps, step, steps, random_start=False, seed=0, early_stop=False,
        batch_size=10000, grad_fn=input_grad, index=None):
    """PGD examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``eps``: L-infinity radius of the ball around ``x``, in pixel units of [0, 1] (paper: 0.1, or
    20/256 for Figure 1). ``step``: size of each signed step, same units (paper: 0.01, or 2/256).
    ``steps``: number of steps (paper: 10, or 20).
    ``random_start``: start at a uniform point of the eps-ball (clipped to [0, 1]) drawn on the
    host per image, keyed by (``seed``, the image's ``index``) (:mod:`nprelu.random_keys`), so
    an image's start does not depend on the other rows, their order or ``batch_size``. Off:
    start at ``x``. ``index``: the test-image index of each row (default ``arange(N)``).
    ``early_stop``: a sample stops moving as soon as it is misclassified (checked before each
    step, one extra forward pass per step). Off by default: all ``steps`` steps are taken, as
    Madry et al. do.
    ``batch_size``: rows per pass (memory only). On the CPU each pass runs in the backend's fixed
    row blocks, shared by its threads (:mod:`nprelu.parallel`); the thread count never changes
    the result.
    ``grad_fn(net, x, y) -> dx``: the gradient of the attack loss, row n of dx being
    d loss_n / d x_n; the default is the cross-entropy's, ``net.input_grad(x, y)``. Other losses
    and BPDA surrogates plug in here through :func:`~nprelu.attacks.input_grad_fn`.

    Returns ``x_adv`` (N, d) on ``net``'s device, in its dtype. There is no failure value: a
    sample the attack does not flip is returned wherever the steps left it (inside the ball);
    compare predictions to know which were broken.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps in
    [0, 1], step in (0, 1], 1 <= steps <= its limit, seed >= 0 and batch_size >= 1 (integers;
    the ranges and limits: :mod:`~nprelu.attacks._common`).
    """
    x, y, _ = prepare(net, x, y)
    eps, step = check_setting("eps", eps, net.backend.dtype), check_setting("step", step,
                                                                           net.backend.dtype)
    steps = check_budget("steps", steps)
    seed, batch_size = check_int("seed", seed, 0), check_int("batch_size", batch_size)
    check_attack_memory("pgd", net, x, 1, 8)
    index = random_keys.indices(index, len(x))
    k = random_keys.key(seed) if random_start else None
    return _pgd(net, x, y, eps, step, steps, k, early_stop, batch_size, grad_fn, index)


def _pgd(net, x, y, eps, step, steps, k, early_stop, batch_size, grad_fn, index):
    """:func:`pgd` on inputs and settings already checked (and ``x``, ``y`` on the device,
    ``index`` on the host): each block of rows (:func:`~nprelu.parallel.over_rows`) takes all
    its steps at once while its arrays stay in cache; image i starts at the uniform draw
    ``random_keys.uniform(k, i)`` (``k`` None: at x)."""
    x_adv = net.backend.xp.empty_like(x)
    over_rows(net.backend, len(x), partial(_pgd_rows, net, x, y, x_adv, eps, step, steps,
                                           early_stop, grad_fn, k, index), batch_size)
    return x_adv


def _pgd_rows(net, x, y, x_adv, eps, step, steps, early_stop, grad_fn, k, index, rows):
    """``steps`` PGD steps on ``x_adv[rows]`` (written in place) around ``x[rows]``, from the
    random start keyed by ``k`` and the rows' image ``index``, or from ``x[rows]`` (``k``
    None)."""
    be = net.backend
    xp = be.xp
    x0, xa, y = x[rows], x_adv[rows], y[rows]
    if k is not None:     # U(-eps, eps) = eps * (2 U(0, 1) - 1), drawn in float32
        u = random_keys.uniform(k, index[rows], x0.shape[1])
        xa[...] = be.asarray(u)
        xa *= 2.0 * eps
        xa -= eps
        xa += x0
        xp.clip(xa, 0.0, 1.0, out=xa)
    else:
        xa[...] = x0
    lo = xp.clip(x0 - eps, 0.0, 1.0)   # proj_eps then clip to [0, 1] = clip to [lo, hi]
    hi = xp.clip(x0 + eps, 0.0, 1.0)
    g = xp.empty_like(xa)               # step * sign(grad), reused by every step
    for _ in range(steps):
        xp.sign(grad_fn(net, xa, y), out=g)
        g *= step
        if early_stop:
            g *= (net.logits(xa).argmax(axis=1) == y)[:, None]   # predict, unchecked
        xa += g
        # clip(xa, lo, hi) = min(max(xa, lo), hi); NumPy's clip with array bounds is about
        # twice as slow as the two calls
        xp.maximum(xa, lo, out=xa)
        xp.minimum(xa, hi, out=xa)
