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

Scalar settings are checked once per call, before any work:

- real settings with :func:`check_setting`, against one table of ranges, :data:`RANGES`: each
  must be a finite number in its range, which lies well inside float32 (the working dtype), and
  a setting that must be > 0 must stay > 0 once cast to the working dtype (a step of 1e-46 is 0
  in float32). On images in [0, 1] the L-infinity ``eps`` is in [0, 1] (0: no perturbation)
  and a ``step`` in (0, 1]: a larger one moves no pixel further than 1 does;
- budgets (steps, iterations, queries, restarts) with :func:`check_budget`: an integer >= 1
  (``max_steps`` >= 0) and at most its limit in :data:`LIMITS`, far above what any profile
  runs (``--full``: PGD 1,000 steps, CW-L2 9 x 10,000 iterations, 1,000 Square queries, 5
  restarts), so that ``steps=10**9`` is refused at once instead of running until killed;
- other integers with :func:`check_int` (seed >= 0, batch_size >= 1).

Memory is estimated before the large arrays are allocated (:func:`check_attack_memory`): an
attack whose working arrays would not fit in the host's available memory raises
:class:`~nprelu.checks.InsufficientMemoryError` naming the attack, its estimate and what is
available, instead of NumPy's raw allocation error midway.

Internal calls on already-checked data (the PGD runs of
:func:`~nprelu.attacks.margin.margin_pgd`) use the unchecked ``_pgd``. The checks of one call
cost one pass over ``x`` (about 1 ms for 10,000 MNIST images, 10 us for a training batch of
128), well under 0.1% of a PGD-10 run, so the adversarial-training hook calls the public attacks.
"""
from __future__ import annotations

import struct
from functools import partial

from ..activations import check_surrogate
from ..backend import array_module
from ..checks import check_int, check_memory, check_real  # noqa: F401 - attacks import them here
from ..losses import get_loss
from ..network import check_batch, check_labels

# The bit pattern of 1.0 read as an unsigned integer, per float width. For IEEE floats, the
# values 0 <= v <= 1 (+0.0 included, -0.0 not) are exactly those whose pattern is <= this one:
# a negative number has its sign bit set, and NaN, inf and everything above 1 lie higher.
_ONE_BITS = {4: struct.unpack("<I", struct.pack("<f", 1.0))[0],
             8: struct.unpack("<Q", struct.pack("<d", 1.0))[0]}

#: The largest budget each attack setting accepts (what the profiles use, for scale).
LIMITS = {
    "steps": 100_000,        # PGD, BPDA-PGD, margin PGD, APGD iterations (the checklist: 1,000)
    "max_steps": 100_000,    # zero-gradient PGD steps (200)
    "max_iter": 100_000,     # CW-L2 Adam iterations per search step (the paper: 10,000)
    "n_queries": 100_000,    # Square Attack queries (1,000; its authors use 10,000)
    "restarts": 1_000,       # APGD, margin PGD and CW-L2 runs per sample (5)
    "search_steps": 30,      # CW-L2 binary-search steps over c (the paper: 9); c may grow 10x
}                            # a step, and c_init * 10^30 stays finite in float32 (RANGES)

#: The range of each real setting: (low, high, low excluded, high excluded). Pixel units of
#: [0, 1] for eps, step and random_start; c_init, lr and kappa as CW-L2's (logit units for
#: kappa); every bound is far inside float32's range (3.4e38).
RANGES = {
    "eps": (0.0, 1.0, False, False),
    "step": (0.0, 1.0, True, False),
    "rho": (0.0, 1.0, True, False),
    "p_init": (0.0, 1.0, True, False),
    "c_init": (0.0, 1e6, True, False),
    "lr": (0.0, 10.0, True, False),
    "kappa": (0.0, 1e6, False, False),
    "shrink": (0.0, 1.0, True, True),
    "random_start": (0.0, 1.0, False, False),
}

#: Below this many bytes an attack's working arrays are not weighed against the free memory.
SMALL_BYTES = 64 << 20


def check_setting(name, value, dtype) -> float:
    """``value`` as a Python float; ValueError naming ``name`` unless it is a finite number in
    ``RANGES[name]`` and, where that range excludes its low end, still above it once cast to
    the NumPy ``dtype`` (the working dtype, ``net.backend.dtype``)."""
    low, high, low_open, high_open = RANGES[name]
    v = check_real(name, value, low, high, low_open=low_open, high_open=high_open)
    if low_open and not float(dtype.type(v)) > low:
        raise ValueError(f"{name} must be a finite number > {low:g} in {dtype.name}, got {v!r}, "
                         f"which is {low:g} there")
    return v


def check_budget(name, value, low=1) -> int:
    """``value`` as a Python int; ValueError naming ``name`` unless it is an integer >= ``low``
    and at most its limit ``LIMITS[name]``."""
    v = check_int(name, value, low)
    if v > LIMITS[name]:
        raise ValueError(f"{name} must be at most {LIMITS[name]:,} (the limit of "
                         f"nprelu.attacks._common.LIMITS), got {v!r}")
    return v


def check_attack_memory(attack, net, x, copies, block_copies=0) -> None:
    """InsufficientMemoryError unless ``attack``'s working arrays fit in the host's available
    memory: ``copies`` arrays the size of ``x`` plus ``block_copies`` per row block and thread
    (the backend's ``block_rows``). Estimates below :data:`SMALL_BYTES` pass unweighed. On CuPy
    the estimate is still weighed against the host's memory; the device has its own error."""
    be = net.backend
    n, row = len(x), x.shape[1] * x.itemsize
    block = min(n, be.block_rows or n)
    nbytes = (copies * n + block_copies * block * be.threads) * row
    if nbytes >= SMALL_BYTES:
        check_memory(f"{attack} on {n:,} inputs of width {x.shape[1]}", nbytes)


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
