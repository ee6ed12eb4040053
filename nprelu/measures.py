r"""What the paper measures on a network and a batch: accuracies, attack success, perturbation
growth through the hidden layers (Figure 1), the sensitivity map (Section 7), zero gradients.

Inputs are batches ``x`` (N, d) in [0, 1] with integer labels ``y`` (N,) in [0, n_out), on the
network's device or the host; every measure that takes labels checks them, and its inputs, with
the attacks' :func:`~nprelu.attacks._common.prepare` (ValueError naming the bad value). Scalar
results are Python floats; per-sample results stay on the device.
"""
from __future__ import annotations

import math

from .attacks._common import check_int, prepare
from .activations import capped_relu_mask, log_softmax
from .backend import get_backend, to_host
from .losses import get_loss, logit_margin, logit_sum
from .network import MLP
from .outcomes import Outcome
from .train import accuracy


def correct(net, x, y, batch_size=8192, name="x"):
    """Per sample, whether ``net`` classifies ``x`` as ``y``: 1[argmax Z(x_n) = y_n], a bool
    (N,) array on the network's device (inputs checked by :func:`prepare`, naming ``name``)."""
    x, y, _ = prepare(net, x, y, name)
    return net.predict(x, check_int("batch_size", batch_size)) == y


def standard_accuracy(net, x, y, batch_size=8192) -> float:
    """Fraction of the clean samples ``x`` classified as ``y`` (all N samples):
    (1/N) sum_n 1[argmax Z(x_n) = y_n]; nan when N = 0.

    The training loop's own :func:`nprelu.train.accuracy`, after :func:`prepare`'s checks.
    """
    x, y, _ = prepare(net, x, y)
    return accuracy(net, x, y, batch_size)


def robust_accuracy(net, x_adv, y, batch_size=8192) -> float:
    """Fraction of ALL adversarial samples still classified as their true label ``y``.

    (1/N) sum_n 1[argmax Z(x_adv_n) = y_n]: :func:`standard_accuracy` of ``x_adv``. Samples the
    network got wrong before the attack count as wrong here too, so robust accuracy is at most
    the standard accuracy when ``x_adv`` comes from an attack that never repairs one.
    """
    x_adv, y, _ = prepare(net, x_adv, y, "x_adv")
    return accuracy(net, x_adv, y, batch_size)


def accuracy_outcome(net, x, y, images, batch_size=8192) -> Outcome:
    """The :class:`~nprelu.outcomes.Outcome` behind :func:`standard_accuracy` (clean ``x``) or
    :func:`robust_accuracy` (adversarial ``x``): per test image of ``images`` (the indices of
    the rows of ``x`` in the test set), 1[argmax Z(x_n) = y_n]. Its value is the same float."""
    return Outcome(correct(net, x, y, batch_size), images)


def success_outcome(net, x, x_adv, y, images, batch_size=8192) -> Outcome:
    """The :class:`~nprelu.outcomes.Outcome` behind :func:`attack_success_rate`: hits where the
    attack broke an image, counted over the images correct before it (value None, not nan,
    when none was)."""
    before = correct(net, x, y, batch_size)
    after = correct(net, x_adv, y, batch_size, "x_adv")
    return Outcome(before & ~after, images, counted=before)


def worst_case_correct(net, x_advs, y, batch_size=8192):
    """Per sample, True where EVERY adversarial example in ``x_advs`` is classified as ``y``.

    ``x_advs``: one adversarial batch (N, d) or a sequence of them, one per attack, row n of each
    crafted from the same clean sample n. A sample is robust in the worst case only if no attack
    broke it: correct_n = AND_a [argmax Z(x_adv^a_n) = y_n]. Stays on the device.
    """
    batches = [x_advs] if getattr(x_advs, "ndim", None) == 2 else list(x_advs)
    if not batches:
        raise ValueError("x_advs must hold at least one adversarial batch")
    every = None
    for x_adv in batches:
        c = correct(net, x_adv, y, batch_size, "x_advs")
        every = c if every is None else every & c
    return every


def worst_case_robust_accuracy(net, x_advs, y, batch_size=8192) -> float:
    """Fraction of ALL samples that every attack in ``x_advs`` leaves correctly classified.

    (1/N) sum_n AND_a [argmax Z(x_adv^a_n) = y_n]: never above any single attack's
    :func:`robust_accuracy`. Include the clean batch ``x`` in ``x_advs`` as well to make sure a
    sample misclassified before the attacks never counts as robust, whatever they did to it.
    """
    return float(worst_case_correct(net, x_advs, y, batch_size).mean())


def attack_success_rate(net, x, x_adv, y, batch_size=8192) -> float:
    """Among the samples correctly classified before the attack, the fraction it misclassifies.

    nan when no sample was correct before the attack (the rate is undefined).
    """
    before = correct(net, x, y, batch_size)
    after = correct(net, x_adv, y, batch_size, "x_adv")
    n = int(before.sum())
    if n == 0:
        return math.nan
    return float((before & ~after).sum()) / n


def perturbation_growth(net, x, x_adv, batch_size=8192) -> dict:
    """Figure 1: per hidden layer, the mean over samples of ||a_l(x) - a_l(x_adv)||.

    Returns ``{'linf': [...], 'l2': [...]}``, one float per hidden layer (HL1 first): the
    L-infinity and the L2 norm of the difference between clean and adversarial activations.
    """
    be = net.backend
    x, x_adv = be.asarray(x), be.asarray(x_adv)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {x.shape}, got {x_adv.shape}")
    batch_size = check_int("batch_size", batch_size)
    n_hidden = net.n_layers - 1
    linf, l2 = [0.0] * n_hidden, [0.0] * n_hidden
    for i in range(0, len(x), batch_size):
        clean, adv = net.hidden(x[i:i + batch_size]), net.hidden(x_adv[i:i + batch_size])
        for layer, (a, b) in enumerate(zip(clean, adv)):
            d = a - b
            linf[layer] += float(abs(d).max(axis=1).sum())
            l2[layer] += float(be.xp.sqrt((d * d).sum(axis=1)).sum())
    n = max(len(x), 1)
    return {"linf": [v / n for v in linf], "l2": [v / n for v in l2]}


def sensitivity_map(net, x, t, batch_size=8192):
    """Sensitivity map of Sooksatra & Rivas (2022), the paper's Equation (2), per sample::

        smap(x) = max(0, dZ_t/dx * sum_{c != t} dZ_c/dx)        (elementwise over pixels)

    with Z the logits and t the true class of each row. Returns ``(maps, sums)``: ``maps`` (N, d)
    and ``sums`` (N,), each map summed over its pixels.
    """
    x, t, xp = prepare(net, x, t, labels="t")
    batch_size = check_int("batch_size", batch_size)
    k = net.sizes[-1]
    maps = xp.empty_like(x)
    for i in range(0, len(x), batch_size):
        xb, tb = x[i:i + batch_size], t[i:i + batch_size]
        onehot = (xp.arange(k)[None, :] == tb[:, None]).astype(x.dtype)
        _, g_t = net.input_grad(xb, tb, loss=logit_sum(onehot))           # dZ_t/dx
        _, g_rest = net.input_grad(xb, tb, loss=logit_sum(1.0 - onehot))  # sum_{c != t} dZ_c/dx
        g_t *= g_rest
        xp.maximum(g_t, 0.0, out=maps[i:i + batch_size])
    return maps, maps.sum(axis=1)


def zero_gradient_mask(net, x, y, batch_size=8192):
    """Per sample, whether its cross-entropy gradient with respect to the input is exactly 0
    (bool (N,), on the device)."""
    x, y, xp = prepare(net, x, y)
    batch_size = check_int("batch_size", batch_size)
    parts = []
    for i in range(0, len(x), batch_size):
        _, dx = net.input_grad(x[i:i + batch_size], y[i:i + batch_size])
        parts.append(~(dx != 0).any(axis=1))
    return xp.concatenate(parts) if parts else xp.zeros(0, dtype=bool)


def zero_gradient_fraction(net, x, y, batch_size=8192) -> float:
    """Fraction of samples whose cross-entropy gradient with respect to the input is exactly 0
    (:func:`zero_gradient_mask`; 0 for an empty batch)."""
    return int(zero_gradient_mask(net, x, y, batch_size).sum()) / max(len(x), 1)


def zero_gradient_causes(net, x, y, layer, loss="cross_entropy", batch_size=8192) -> dict:
    r"""Per sample, whether the input gradient of ``loss`` is exactly zero, and what could
    have zeroed it.

    One forward pass, the loss and one backward pass (the network's own ``forward`` and
    ``backward``), in the network's dtype. Booleans per sample (on the device):

    - ``zero``: every entry of dJ/dx is exactly 0;
    - ``cap``: hidden layer ``layer`` (0-based; the capped one) passes nothing back: every unit
      outside (0, beta), its mask 1[0 < z < beta] all zero, so the gradient is 0 whatever the
      loss (``cap`` implies ``zero``);
    - ``saturated``: the softmax saturated, p_y = softmax(Z)_y rounds to exactly 1.0 in the
      network's dtype (p = exp(log_softmax(Z)), as the cross-entropy computes it). Then
      dL/dZ_y = p_y - 1 = 0 and the other entries p_k = exp(-(Z_y - Z_k)) are tiny: exactly
      0 once they underflow (float32: a logit gap above about 104), else small enough that the
      backward products may underflow to 0;
    - ``dlogits_zero``: dJ/dZ is exactly 0 in every entry (``loss``'s own gradient).

    ValueError for a ``layer`` that is not a hidden layer.
    """
    x, y, xp = prepare(net, x, y)
    batch_size = check_int("batch_size", batch_size)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < net.n_layers - 1:
        raise ValueError(f"layer must be a hidden layer index in [0, {net.n_layers - 2}], "
                         f"got {layer!r}")
    loss_fn = get_loss(loss)
    out = {k: xp.zeros(len(x), dtype=bool) for k in ("zero", "cap", "saturated", "dlogits_zero")}
    for i in range(0, len(x), batch_size):
        r = slice(i, i + batch_size)
        logits, caches = net.forward(x[r])
        rows = xp.arange(logits.shape[0])
        out["saturated"][r] = xp.exp(log_softmax(logits))[rows, y[r]] == 1.0
        _, dlogits = loss_fn(logits, y[r])
        out["dlogits_zero"][r] = ~(dlogits != 0).any(axis=1)
        out["cap"][r] = ~capped_relu_mask(caches[layer][1], net.caps[layer]).any(axis=1)
        _, dx = net.backward(dlogits, caches, params=False, inputs=True)
        out["zero"][r] = ~(dx != 0).any(axis=1)
    return out


def cause_masks(causes: dict) -> dict:
    """Per sample (host bool), whether its input gradient is exactly zero, by cause (from
    :func:`zero_gradient_causes`): ``cap`` (the capped layer passes nothing, the softmax is not
    saturated), ``softmax`` (zero with a saturated softmax, the capped layer passing
    something), ``both``, ``any`` (zero, whatever the cause: any - cap - softmax - both is a
    third cause), and ``saturated`` (p_y == 1.0, zero gradient or not)."""
    zero, cap, sat = (to_host(causes[k]).astype(bool) for k in ("zero", "cap", "saturated"))
    return {"cap": cap & ~sat, "softmax": zero & sat & ~cap, "both": cap & sat, "any": zero,
            "saturated": sat}


def cause_fractions(causes: dict) -> dict:
    """The fractions of ALL samples (floats) in each :func:`cause_masks` cause; zeros for an
    empty batch."""
    return {k: float(m.sum()) / max(len(m), 1) for k, m in cause_masks(causes).items()}


def cause_outcomes(causes: dict, images) -> dict:
    """:func:`cause_fractions`, image by image: an :class:`~nprelu.outcomes.Outcome` per cause
    on the test images ``images``, each with the same value."""
    return {k: Outcome(m, images) for k, m in cause_masks(causes).items()}


def mean_logit_gap(net, x, y, batch_size=8192) -> float:
    """Mean over the correctly classified samples of the logit gap Z_y - max_{i != y} Z_i
    (positive there); nan when none is correct."""
    x, y, xp = prepare(net, x, y)
    logits = net.logits(x, check_int("batch_size", batch_size))
    gap = -logit_margin(logits, y)
    right = logits.argmax(axis=1) == y
    n = int(right.sum())
    return float(gap[right].sum()) / n if n else math.nan


def dtype_twin(net, dtype="float64"):
    """A copy of ``net`` (same sizes, caps, weights) on the same array library in ``dtype``:
    the weights are cast, so a float32 network's float64 twin computes the same function in
    float64 arithmetic."""
    be = get_backend(net.backend.name, dtype=dtype, threads=net.backend.threads)
    twin = MLP(net.sizes, net.caps, seed=0, backend=be)
    for dst, src in zip(twin.params, net.params):
        dst[...] = be.asarray(src, dtype=be.dtype)
    return twin
