r"""APGD-T, L-infinity: targeted Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial
robustness with an ensemble of diverse parameter-free attacks", Section 4 and AutoAttack's
"apgd-t"). The step size, momentum and checkpoints are :func:`~nprelu.attacks.apgd.apgd`'s; only
the loss and the order of the runs differ.

The loss, to maximize, toward a target class t != y (:func:`~nprelu.losses.targeted_dlr_loss`),
with Z sorted descending as Z_pi1 >= Z_pi2 >= Z_pi3 >= Z_pi4 >= ...::

    L_t(Z) = -(Z_y - Z_t) / (Z_pi1 - (Z_pi3 + Z_pi4) / 2 + 1e-12)

It is positive once t is above y, invariant to a shift and a positive scale of the logits (so a
saturated softmax hides nothing), and needs at least 4 classes.

The targets of an image are the ``n_targets`` (9) classes other than its label with the largest
clean logits, in that order: t_1 the runner-up, t_2 the next, ... (with 10 classes, 9 targets
are every other class). For j = 1, ..., n_targets, APGD with the targeted loss toward t_j, the
suite's ``restarts`` x ``steps``, runs on the images not yet misclassified (success is any
misclassification, not reaching t_j). Per image the result is the first misclassified point
found, over the targets in order; an image no run misclassifies gets the point of its run toward
t_1 (the highest targeted loss found there); an image misclassified before the attack is
returned unchanged and not attacked. An image stops costing gradients once broken: broken, it
cannot become robust again, so every image still robust gets the whole budget.

Randomness: target j's APGD runs with the j-th integer drawn from ``net.backend.rng(seed)``.
"""
from __future__ import annotations

from ..activations import check_surrogate
from .. import random_keys
from ..backend import array_module
from .apgd import apgd
from ._common import check_attack_memory, check_budget, check_int, check_setting, prepare

#: Target classes per image, as AutoAttack's APGD-T (``n_target_classes``).
N_TARGETS = 9


def target_classes(logits, y, n_targets):
    """(N, min(n_targets, K - 1)) int: per row the classes other than ``y`` by descending
    ``logits`` (ties: the lower index first)."""
    xp = array_module(logits)
    masked = logits.astype("float64")
    masked[xp.arange(len(y)), y] = -xp.inf
    order = xp.argsort(-masked, axis=1, kind="stable")
    return order[:, :min(n_targets, logits.shape[1] - 1)]


def apgd_t(net, x, y, eps, steps=100, restarts=1, n_targets=N_TARGETS, surrogate=None, seed=0,
           rho=0.75, batch_size=10000, index=None):
    """APGD-T examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``eps``: L-infinity radius in pixel units of [0, 1]. ``steps`` and ``restarts``: APGD's,
    per target class (AutoAttack: 100 steps). ``n_targets``: target classes per image (9;
    at most K - 1 are used). ``surrogate``: None (the true gradient) or a BPDA surrogate of the
    capped layers. ``seed``, ``rho``, ``batch_size``, ``index`` (the test-image index of each
    row, which keys its random starts): as :func:`~nprelu.attacks.apgd.apgd`.

    Cost per sample: at most ``n_targets * restarts * (steps + 1)`` forward and backward passes
    (fewer for an image broken by an earlier target), plus one forward pass of the clean batch
    and one per target on the images it ran on.

    Returns ``x_adv`` (N, d) on ``net``'s device, in its dtype, inside the eps-ball and [0, 1]
    (module doc: per image its first misclassified point, else its point toward t_1).

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps in
    [0, 1], 0 < rho <= 1, steps and restarts >= 1 and at most their limits, n_targets,
    batch_size >= 1 and seed >= 0 integers (:mod:`~nprelu.attacks._common`), the network has
    at least 4 classes and ``surrogate`` is known; InsufficientMemoryError, before any work,
    when its arrays would not fit (:func:`~nprelu.attacks._common.check_attack_memory`).
    """
    x, y, xp = prepare(net, x, y)
    be = net.backend
    eps = check_setting("eps", eps, be.dtype)
    rho = check_setting("rho", rho, be.dtype)
    steps, restarts = check_budget("steps", steps), check_budget("restarts", restarts)
    n_targets = check_int("n_targets", n_targets)
    seed, batch_size = check_int("seed", seed, 0), check_int("batch_size", batch_size)
    if net.sizes[-1] < 4:
        raise ValueError(f"APGD-T's targeted DLR loss needs at least 4 classes, the network has "
                         f"{net.sizes[-1]}")
    check_surrogate(surrogate)
    check_attack_memory("apgd_t", net, x, 6, 12)
    logits = net.logits(x, batch_size)
    targets = target_classes(logits, y, n_targets)
    seeds = [int(s) for s in be.rng(seed).integers(0, 2 ** 31 - 1, size=targets.shape[1])]
    index = random_keys.indices(index, len(x))
    x_adv = x.copy()
    broken = logits.argmax(axis=1) != y        # misclassified clean: returned unchanged
    for j, s in enumerate(seeds):
        rows = xp.nonzero(~broken)[0]
        if len(rows) == 0:
            break
        xa = apgd(net, x[rows], y[rows], eps, steps=steps, loss="dlr_targeted",
                  restarts=restarts, surrogate=surrogate, seed=s, rho=rho,
                  batch_size=batch_size, target=targets[rows, j],
                  index=index[be.to_host(rows)])
        fooled = net.predict(xa, batch_size) != y[rows]
        keep = fooled if j else xp.ones_like(fooled)   # toward t_1: every point; then successes
        x_adv[rows[keep]] = xa[keep]
        broken[rows[fooled]] = True
    return x_adv
