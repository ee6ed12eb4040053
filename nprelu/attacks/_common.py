"""Small helpers shared by the attacks: inputs on the network's device and in its dtype."""
from __future__ import annotations


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


def cross_entropy_grad(net, x, y):
    """d loss_n / d x_n for the softmax cross-entropy of each row (the default PGD loss)."""
    return net.input_grad(x, y)[1]
