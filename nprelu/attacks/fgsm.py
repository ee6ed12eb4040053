r"""Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy 2014, "Explaining and harnessing
adversarial examples"), untargeted, L-infinity::

    x_adv = clip(x + eps * sign(d loss(x, y) / dx), 0, 1)

with the softmax cross-entropy of the true label ``y`` as the loss. One gradient, one step.
"""
from __future__ import annotations

from functools import partial

from ..parallel import over_rows
from ..activations import check_surrogate
from ._common import check_attack_memory, check_int, check_setting, prepare


def fgsm(net, x, y, eps, batch_size=10000, surrogate=None):
    """FGSM examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``eps``: the L-infinity step, in pixel units of the [0, 1] scale (the paper uses 0.1).
    ``batch_size``: rows per gradient pass (memory only; the result does not depend on it).
    ``surrogate``: None (the true gradient) or a BPDA surrogate of the capped layers ("relu",
    "identity", "softplus"; :mod:`~nprelu.attacks.bpda`): the sign of that gradient instead,
    the forward pass unchanged. On a network without caps it is the true gradient's FGSM.

    Returns ``x_adv`` (N, d), on ``net``'s device and in its dtype, with ``||x_adv - x||_inf <=
    eps``. FGSM has no notion of failure: where the gradient is zero (a saturated capped layer)
    ``sign`` is 0 and the clean pixel is returned unchanged.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps is
    in [0, 1], and batch_size is an integer >= 1 (:mod:`~nprelu.attacks._common`).
    """
    x, y, xp = prepare(net, x, y)
    eps = check_setting("eps", eps, net.backend.dtype)
    batch_size = check_int("batch_size", batch_size)
    check_surrogate(surrogate)
    check_attack_memory("fgsm", net, x, 1, 4)
    out = xp.empty_like(x)
    over_rows(net.backend, len(x), partial(_fgsm_rows, net, x, y, eps, out, surrogate),
              batch_size)
    return out


def _fgsm_rows(net, x, y, eps, out, surrogate, rows):
    """FGSM on ``x[rows]`` into ``out[rows]`` (one of the backend's row blocks)."""
    xp = net.backend.xp
    # a fresh array: sign, scale and shift it in place
    _, step = net.input_grad(x[rows], y[rows], surrogate=surrogate)
    xp.sign(step, out=step)
    step *= eps
    step += x[rows]
    xp.clip(step, 0.0, 1.0, out=out[rows])
