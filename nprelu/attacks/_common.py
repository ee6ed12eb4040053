r"""Small helpers shared by the attacks: the one check of their inputs and settings, and the
gradient hook of the PGD family, built on the network's one input-gradient path::

    grad_fn(net, x, y)[n] = d loss_n(x_n, y_n) / d x_n        (``net.input_grad``)

Every public attack (and every measure that takes labels) starts with :func:`prepare`, which
moves ``x`` and ``y`` to the network's device and raises a ValueError naming the argument, the
bad value and the valid range unless

- ``x`` has shape (N, n_in) and every entry lies in the pixel box [0, 1] (no NaN, no inf): an
  attack bounds its distance to ``x`` only inside that box, and CW's tanh change of variables
  needs it. The test is one pass over ``x`` (:func:`_in_unit_box`);
- ``y`` holds one integer label in [0, n_out) per row (:func:`~nprelu.network.check_labels`).

Scalar settings are checked once per call with :func:`check_real` (eps >= 0, step > 0, ...)
and :func:`check_int` (steps >= 1, ...). Internal calls on already-checked data (the PGD runs
of :func:`~nprelu.attacks.margin.margin_pgd`) use the unchecked ``_pgd``. The checks of one call
cost one pass over ``x`` (about 1 ms for 10,000 MNIST images, 10 us for a training batch of
128), well under 0.1% of a PGD-10 run, so the adversarial-training hook calls the public attacks.
"""
from __future__ import annotations

import struct
from functools import partial

from ..activations import check_surrogate
from ..backend import array_module
from ..checks import check_int, check_real  # noqa: F401 - the attacks import them from here
from ..losses import get_loss
from ..network import check_batch, check_labels

# The bit pattern of 1.0 read as an unsigned integer, per float width. For IEEE floats, the
# values 0 <= v <= 1 (+0.0 included, -0.0 not) are exactly those whose pattern is <= this one:
# a negative number has its sign bit set, and NaN, inf and everything above 1 lie higher.
_ONE_BITS = {4: struct.unpack("<I", struct.pack("<f", 1.0))[0],
             8: struct.unpack("<Q", struct.pack("<d", 1.0))[0]}


def prepare(net, x, y, name="x", labels="y"):
    """``(x, y, xp)``: ``x`` as a float array of the backend's dtype, ``y`` as int64 labels, both
    on ``net``'s device, after the checks of the module doc (``name``, ``labels``: what the
    messages call ``x`` and ``y``, e.g. "x_adv"). An empty batch (N = 0) passes."""
    be = net.backend
    x = be.asarray(x, dtype=be.dtype)      # integer images too: the box test reads float bits
    check_batch(x, net.sizes[0], name)
    if not _in_unit_box(x):
        _raise_outside_box(x, name)
    y = check_labels(be.xp.asarray(y), net.sizes[-1], n=len(x), name=labels)
    return x, y, be.xp


def _in_unit_box(x) -> bool:
    """Every entry of the float array ``x`` is in [0, 1]: one max over its bits (see
    ``_ONE_BITS``). -0.0 fails this fast test and passes the exact one, so the rare batch
    holding it costs a second look."""
    if x.size == 0:
        return True
    bits = x.view(f"u{x.itemsize}")
    if bool(bits.max() <= _ONE_BITS[x.itemsize]):
        return True
    return bool(((x >= 0) & (x <= 1)).all())   # False for NaN


def _raise_outside_box(x, name):
    bad = ~((x >= 0) & (x <= 1))
    count = int(bad.sum())
    flat = int(bad.ravel().nonzero()[0][0])
    i, j = divmod(flat, x.shape[1])
    raise ValueError(f"{name} must lie in the pixel box [0, 1] (images scaled to [0, 1], e.g. "
                     f"8-bit pixels / 255): {count} entr{'y is' if count == 1 else 'ies are'} "
                     f"outside it (or NaN), the first {name}[{i}, {j}] = {x[i, j]}")


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


def keep_best_restart(best, x, score, wrong):
    """Per sample, the better of two restarts: ``(x, score, wrong)`` of the best so far (None
    before the first) and of a new restart (arrays of one batch; ``wrong``: misclassified).
    A misclassified point beats a correct one; between two alike, the higher ``score`` (the
    attack's loss or logit margin) wins, ties to the earlier. Updates ``best``'s x in place."""
    if best is None:
        return x, score, wrong
    best_x, best_score, best_wrong = best
    better = (wrong & ~best_wrong) | ((wrong == best_wrong) & (score > best_score))
    best_x[better] = x[better]
    return best_x, array_module(score).where(better, score, best_score), best_wrong | wrong
