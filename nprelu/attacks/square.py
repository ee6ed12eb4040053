r"""Square Attack, L-infinity, untargeted, score-based (Andriushchenko, Croce, Flammarion & Hein
2020, "Square Attack: a query-efficient black-box adversarial attack via random search").

It reads only the logits (no gradient), so gradient masking cannot stop it: a capped network
whose input gradient is zero is as open to it as any other. Each flat input of d pixels is
treated as one h x h single-channel image (d = h^2; MNIST: 28 x 28), pixel (r, c) at r h + c.

The perturbation is always a vertex of the eps-ball: delta = eps * S with S in {-1, +1}^d, and
the point queried is x' = clip(x + eps S, 0, 1). Per sample, with the margin loss
m(x') = max_{i != y} Z_i(x') - Z_y(x') that the attack maximizes (the authors minimize its
negative, Z_y - max_{i != y} Z_i, which is the same search)::

    init:      S[r, c] = s_c, one random sign per column (vertical stripes)       query 1
    iteration i = 0, 1, ..., n_queries - 2:                                      query i + 2
        p   = p(i)                                   (the schedule below)
        s   = round(sqrt(p d)), clipped to [1, h - 1]
        (r0, c0) uniform in [0, h - s]^2,  v uniform in {-1, +1}
        S'  = S with the s x s window at (r0, c0) set to v
        if S' = S: S' = S with the window set to -v  (never waste a query on a no-op)
        accept S <- S' if m(x + eps S') > m(x + eps S)   (strictly)
    stop as soon as argmax Z(x') != y (ties: the first index, as ``predict``).

With one channel, the window set to -v always differs from S when the window set to v does
not, so the authors' loop "redraw the value until it changes something" is one sign flip here.

The square-size schedule p(i) is the authors' piecewise-constant one, written for a budget of
10,000 queries and rescaled to ``n_queries`` as they do: with t = floor(10000 i / n_queries),
p = p_init / 2^k, k = the number of the breakpoints 10, 50, 200, 500, 1000, 2000, 4000, 6000,
8000 that lie strictly below t (so p = p_init for t <= 10, p_init / 2 for 10 < t <= 50, ...,
p_init / 512 for t > 8000).

Randomness: per image, keyed (:mod:`nprelu.random_keys`): image i's stripes are the h numbers
keyed by (seed, 0, i), its (r0, c0, v) at iteration k the three keyed by (seed, 1, k, i). So a
sample's run depends only on the seed and its image index, not on the other rows, their order,
when they finish, nor on ``batch_size`` (up to the rounding of the matrix products, which a BLAS
may do differently for a row at another place in a batch of another shape).

Queries: the stripe initialization is query 1; each iteration costs one query per sample still
being attacked; a sample stops at ``n_queries``. Samples misclassified before the attack are
found with one forward pass of the clean batch (not counted), returned unchanged, with 0
queries. Every iterate lies in the eps-ball around x and in [0, 1].
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from .. import random_keys
from ..losses import logit_margin
from ._common import check_attack_memory, check_budget, check_int, check_setting, prepare

BREAKPOINTS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)  # on a 10,000-query scale


@dataclass
class SquareResult:
    """Per sample (arrays on the network's device).

    ``x_adv``: the last accepted point x + eps S, clipped to [0, 1] (the clean input for a sample
    misclassified before the attack). ``queries``: int, forward passes spent on the sample,
    counting the initialization (0 for a sample misclassified before the attack; at most
    ``n_queries``). ``success``: bool, ``x_adv`` is misclassified (including samples that were
    misclassified to begin with).
    """

    x_adv: object
    queries: object
    success: object


def square_fraction(p_init, i, n_queries) -> float:
    """p(i): the fraction of pixels changed at iteration ``i`` of ``n_queries`` (module doc)."""
    t = int(i / n_queries * 10000)
    return p_init / 2 ** bisect.bisect_left(BREAKPOINTS, t)


def square_side(p, d) -> int:
    """s = round(sqrt(p d)), clipped to [1, h - 1] for an h x h image of d = h^2 pixels."""
    h = image_side(d)
    return min(max(int(round(math.sqrt(p * d))), 1), h - 1)


def image_side(d) -> int:
    """h with h^2 = d; ValueError when the input is not a square image of side >= 2."""
    h = math.isqrt(int(d))
    if h * h != d or h < 2:
        raise ValueError(f"Square Attack needs square images of side >= 2: d = {d} is not h^2")
    return h


def square_linf(net, x, y, eps, n_queries=1000, p_init=0.05, seed=0, batch_size=8192,
                index=None):
    """Square Attack examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``eps``: L-infinity radius, pixel units of [0, 1]. ``n_queries``: most forward passes per
    sample, the initialization included (the authors' default is 10,000). ``p_init``: initial
    fraction of pixels in the square (the authors' general L-infinity default is 0.05; AutoAttack
    and the evaluations here use 0.8, :data:`~nprelu.attacks.registry.P_INIT`). ``seed``: the
    draws' seed (module doc). ``index``: the test-image index of each row (default
    ``arange(N)``).
    ``batch_size``: rows per forward pass (memory only).

    Cost per sample: at most ``n_queries`` forward passes, plus one on the clean batch; no
    backward pass. Returns a :class:`SquareResult`.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`), eps in
    [0, 1], 0 < p_init <= 1, 1 <= n_queries <= its limit, and batch_size >= 1 and seed >= 0 are
    integers (:mod:`~nprelu.attacks._common`).
    """
    x, y, xp = prepare(net, x, y)
    be = net.backend
    n, d = x.shape
    h = image_side(d)
    eps = check_setting("eps", eps, be.dtype)
    p_init = check_setting("p_init", p_init, be.dtype)
    n_queries = check_budget("n_queries", n_queries)
    seed, batch_size = check_int("seed", seed, 0), check_int("batch_size", batch_size)
    check_attack_memory("square_linf", net, x, 10)
    index = random_keys.indices(index, n)

    signs = random_keys.below(random_keys.key(seed, 0), index, h, 2) * 2 - 1
    stripes = be.asarray(signs[:, None, :], dtype=be.dtype)
    S = xp.broadcast_to(stripes, (n, h, h)).reshape(n, d).copy()
    queries = xp.zeros(n, dtype="int64")
    wrong_clean = net.predict(x, batch_size) != y
    idx = xp.arange(n)[~wrong_clean]                # rows still attacked

    best_m = xp.full(n, -xp.inf, dtype=be.dtype)
    fooled = wrong_clean.copy()
    if len(idx):
        logits = net.logits(xp.clip(x[idx] + eps * S[idx], 0.0, 1.0), batch_size)
        best_m[idx] = logit_margin(logits, y[idx])
        fooled[idx] = logits.argmax(axis=1) != y[idx]
        queries[idx] = 1
        idx = idx[~fooled[idx]]

    pix = xp.arange(h)
    for i in range(n_queries - 1):
        s = square_side(square_fraction(p_init, i, n_queries), d)
        if len(idx) == 0:
            break
        k = random_keys.key(seed, 1, i)            # the rows still attacked draw theirs
        b = random_keys.bits(k, index[be.to_host(idx)], 3)
        r0 = be.asarray(random_keys.scale(b[:, 0], h - s + 1))
        c0 = be.asarray(random_keys.scale(b[:, 1], h - s + 1))
        v = be.asarray(random_keys.scale(b[:, 2], 2) * 2 - 1, dtype=be.dtype)
        in_r = (pix[None, :] >= r0[:, None]) & (pix[None, :] < r0[:, None] + s)
        in_c = (pix[None, :] >= c0[:, None]) & (pix[None, :] < c0[:, None] + s)
        window = (in_r[:, :, None] & in_c[:, None, :]).reshape(len(idx), d)
        S_a = S[idx]
        changes = ((S_a != v[:, None]) & window).any(axis=1)
        v = xp.where(changes, v, -v)
        S_new = xp.where(window, v[:, None], S_a)
        logits = net.logits(xp.clip(x[idx] + eps * S_new, 0.0, 1.0), batch_size)
        m = logit_margin(logits, y[idx])
        queries[idx] += 1
        better = m > best_m[idx]
        rows = idx[better]
        S[rows] = S_new[better]
        best_m[rows] = m[better]
        fooled[rows] = (logits.argmax(axis=1) != y[idx])[better]
        idx = idx[~fooled[idx]]

    x_adv = xp.where(wrong_clean[:, None], x, xp.clip(x + eps * S, 0.0, 1.0))
    return SquareResult(x_adv, queries, fooled)
