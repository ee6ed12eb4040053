r"""Margin PGD with random restarts, on the CW margin loss (:mod:`nprelu.losses`).

For logits Z (N x K) and true labels y, the untargeted margin loss of Carlini & Wagner (2017),
written so that the attacker maximizes it::

    m_n(x) = max_{i != y_n} Z_i(x_n) - Z_{y_n}(x_n)        (> 0: the sample is misclassified)
    o_n    = argmax_{i != y_n} Z_i(x_n)                     (ties: the first index)
    d m_n / d Z[n, k] = 1[k = o_n] - 1[k = y_n]
    d m_n / d x_n     = dZ_{o_n}/dx_n - dZ_{y_n}/dx_n       (``net.input_grad(x, y, "margin")``)

The other-class maximum is taken with the true class masked to -inf, never by zeroing it, so
the loss is right when every logit is negative. Unlike the cross-entropy, the margin does not
saturate when the softmax does (p_y -> 1 sends the cross-entropy gradient to 0 in float32 long
before the logits stop moving), which is why Croce & Hein (2020) and Carlini et al. (2019)
recommend it for telling real robustness from an attack that gave up.

Margin PGD (Madry et al. 2017 with this loss) runs ``restarts`` times from independent uniform
random starts in the eps-ball and keeps, per sample, the worst case over the restarts: a restart
that misclassifies the sample beats one that does not, and among equals the larger margin wins.
"""
from __future__ import annotations

from .. import random_keys
from ..losses import logit_margin
from ._common import (check_attack_memory, check_budget, check_int, check_setting, input_grad_fn,
                      keep_best_restart, prepare)
from .pgd import _pgd


def margin_pgd(net, x, y, eps, step, steps, restarts=1, seed=0, batch_size=10000,
               index=None):
    """Margin-loss PGD with ``restarts`` random starts; the worst case per sample.

    ``eps``, ``step``, ``steps``: as :func:`~nprelu.attacks.pgd.pgd` (pixel units of [0, 1]).
    ``restarts``: independent runs, each from a uniform random point of the eps-ball (clipped to
    [0, 1]); restart r of image i starts at the draw keyed by (``seed``, r, i)
    (:mod:`nprelu.random_keys`), so the runs of one call never share a start, one ``seed``
    fixes them all and an image's result does not depend on the other rows of its batch.
    ``index``: the test-image index of each row (default ``arange(N)``).
    ``batch_size``: rows per pass (memory only).

    Cost per sample: ``restarts * steps`` forward and backward passes, plus ``restarts`` forward
    passes to score the results.

    Returns ``x_adv`` (N, d), on ``net``'s device, inside the eps-ball and [0, 1]: per sample
    the restart that misclassifies it if one does (the largest margin among those), else the
    restart with the largest margin m = max_{i != y} Z_i - Z_y.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps in
    [0, 1], step in (0, 1], steps and restarts >= 1 and at most their limits, batch_size >= 1
    and seed >= 0 integers (:mod:`~nprelu.attacks._common`). The inputs are checked once here,
    not again by each restart.
    """
    x, y, _ = prepare(net, x, y)
    dtype = net.backend.dtype
    eps, step = check_setting("eps", eps, dtype), check_setting("step", step, dtype)
    steps, restarts = check_budget("steps", steps), check_budget("restarts", restarts)
    seed, batch_size = check_int("seed", seed, 0), check_int("batch_size", batch_size)
    check_attack_memory("margin_pgd", net, x, 3, 8)
    index = random_keys.indices(index, len(x))
    grad_fn = input_grad_fn("margin")
    best = None
    for r in range(restarts):
        xr = _pgd(net, x, y, eps, step, steps, random_keys.key(seed, r), early_stop=False,
                  batch_size=batch_size, grad_fn=grad_fn, index=index)
        logits = net.logits(xr, batch_size)
        best = keep_best_restart(best, xr, logit_margin(logits, y), logits.argmax(axis=1) != y)
    return best[0]
