r"""Small helpers shared by the attacks: inputs on the network's device and in its dtype, and the
gradient hook of the PGD family, built on the network's one input-gradient path::

    grad_fn(net, x, y)[n] = d loss_n(x_n, y_n) / d x_n        (``net.input_grad``)
"""
from __future__ import annotations

from functools import partial

from ..activations import check_surrogate
from ..losses import get_loss


def prepare(net, x, y):
    """``(x, y, xp)``: ``x`` as a float array of the backend's dtype, ``y`` as integer labels."""
    be = net.backend
    x = be.asarray(x)
    y = be.xp.asarray(y).astype("int64", copy=False)
    if x.ndim != 2:
        raise ValueError(f"x must be a batch of flat inputs (N, d), got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must hold one label per row of x ({x.shape[0]}), got shape {y.shape}")
    return x, y, be.xp


def input_grad(net, x, y, loss="cross_entropy", surrogate=None):
    """``net.input_grad(x, y, loss, surrogate)``'s gradient alone: row n is d loss_n / d x_n."""
    return net.input_grad(x, y, loss=loss, surrogate=surrogate)[1]


def input_grad_fn(loss="cross_entropy", surrogate=None):
    """``grad_fn(net, x, y) -> dx`` for PGD and zero-gradient PGD: :func:`input_grad` with this
    ``loss`` ("cross_entropy", "margin" or a callable) and BPDA ``surrogate`` (None, "relu",
    "identity"); both are checked here, before any attack runs."""
    get_loss(loss)
    check_surrogate(surrogate)
    return partial(input_grad, loss=loss, surrogate=surrogate)
