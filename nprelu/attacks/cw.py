r"""Carlini & Wagner L2 attack, untargeted (Carlini & Wagner 2017, "Towards evaluating the
robustness of neural networks"; written after the authors' ``nn_robust_attacks/l2_attack.py``).

Change of variables, so that every iterate is a valid image without clipping::

    x'(w) = (tanh(w) + 1) / 2,      w_0 = arctanh((2 x - 1) * shrink)

``shrink`` = 1 - 1e-6 (the authors' 0.999999) keeps pixels at exactly 0 or 1 at a finite w_0.
For each sample and a balancing constant c, Adam minimizes over w::

    L(w) = ||x'(w) - x||_2^2 + c * f(x'(w)),
    f(x') = max(Z_y(x') - max_{i != y} Z_i(x'), -kappa)

The other-class maximum is taken with the true class masked to -inf, so it is right when all
logits are negative (the pitfall of nn_robust_attacks issue 7). The gradient is written by hand::

    dL/dx' = 2 (x' - x) + c * 1[Z_y - Z_o > -kappa] * (dZ_y/dx' - dZ_o/dx'),   o = argmax_{i!=y} Z_i
    dL/dw  = dL/dx' * (1 - tanh(w)^2) / 2

(the logit part is one ``net.input_grad`` pass whose loss is the hinge c * f: its logit gradient,
c * (onehot_y - onehot_o) on the active hinges, goes down the network's one backward pass).
:func:`cw_objective` computes L, dL/dw and what the loop needs besides; the attack's loop calls
it, and the gradient check verifies that same function.

Binary search over c, per sample, ``search_steps`` times, starting at ``c_init``; w and Adam's
moments are reset at each search step (as the authors re-initialize them). After a search step
in which some iterate was adversarial, upper = min(upper, c) and c = (lower + upper) / 2;
otherwise lower = max(lower, c) and c = (lower + upper) / 2 if an upper bound is known
(upper < 1e10), else c = 10 c.

Abort early, per sample: iteration i of a search step is a check when i % (max_iter // 10) == 0
(i = 0, T/10, 2T/10, ..., T = max_iter); at the check i_j, sample n stops this search step when::

    L_n(w_{i_j}) > 0.9999 * L_n(w_{i_{j-1}})        (L_n(w_{i_{-1}}) = +inf)

with L_n its own loss above, evaluated at the iterate before that iteration's Adam step. The
authors test the summed loss of their batch; we test each sample's own loss, which is their rule
with a batch of one, makes a sample's result independent of the batch and of ``batch_size``, and
lets a stopped sample leave the rows still optimizing (the first check compares with +inf where
the authors use 1e6, so no sample stops at iteration 0).

Blocks (the CPU): the rows of a chunk of ``batch_size`` run in K = ceil(rows / 256) blocks (256:
half the backend's ``block_rows``), each block run by one thread between two checks
(:mod:`nprelu.parallel`); a stopped row leaves its block at the check. With :data:`REPACK` the
rows still optimizing are instead repacked at each check into min(K, floor(active / 64)) blocks
(at least 1, :data:`MIN_BLOCK_ROWS`) of nearly equal size: never more blocks than K, the threads'
shares balanced. That changes only which rows share a matrix product, which a BLAS may round
differently in the last bit; with row-by-row products each image's result is the same exactly
(tests/test_cw_repack.py). It measured no faster (docs/benchmarks.md, issue 23: a block's rows
stop within a few checks of each other), so it is off and the blocks are those of before.

Success of an iterate: argmax(Z + kappa * onehot_y) != y (with kappa = 0: the predicted class is
not y). Each sample keeps its smallest-L2 adversarial iterate over all search steps.

Options beyond the authors' attack (all off by default, and then the attack is the one above, bit
for bit):

- ``surrogate`` ("relu", "identity"): CW through BPDA. The forward pass is the real one; in the
  backward pass of the logit term each capped layer's derivative 1[0 < z < beta] is replaced by
  the surrogate's (``net.input_grad(..., surrogate)``), so dL/dw is no longer the gradient of L.
- ``random_start`` r > 0 and ``restarts`` R: R runs of the whole binary search, run k starting
  every search step at x_k = clip(x + delta_k, 0, 1), delta_k uniform in [-r, r]^d (OUR choice of
  start distribution; one delta per run, reused at each of its search steps), drawn on the host
  per image keyed by (seed, k, image index) (:mod:`nprelu.random_keys`), so run k's start does
  not depend on R, on ``batch_size`` nor on the other rows. The distance is always to x. Per sample, the successful example with the
  smallest L2 over the R runs is kept (ties: the earlier run).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from .. import random_keys
from ..activations import check_surrogate
from ..backend import array_module
from ..losses import best_other_class
from ..optim import Adam
from ..parallel import row_blocks, run
from ._common import check_attack_memory, check_budget, check_int, check_setting, prepare

SHRINK = 1.0 - 1e-6
NO_UPPER = 1e10
#: Repack the rows still optimizing at each abort-early check (True), or keep each block's own
#: rows for the whole search (False, kept: no faster measured); repacked blocks >= MIN_BLOCK_ROWS.
REPACK, MIN_BLOCK_ROWS = False, 64


@dataclass
class CWResult:
    """Per sample (arrays on the network's device).

    ``x_adv``: the smallest-L2 adversarial example found, or the clean input where none was.
    ``l2``: ||x_adv - x||_2 (0 where the attack failed; about 1e-6 for a sample misclassified
    from the start, the tanh round trip). ``success``: bool, an example was found.
    ``c``: the balancing constant of the search step that found ``x_adv`` (nan on failure).
    """

    x_adv: object
    l2: object
    success: object
    c: object


def cw_l2(net, x, y, c_init=1e-3, search_steps=9, max_iter=10000, lr=1e-2, kappa=0.0,
          abort_early=True, batch_size=1000, shrink=SHRINK, surrogate=None, random_start=0.0,
          restarts=1, seed=0, index=None):
    """CW-L2 adversarial examples for the batch ``x`` (N, d) in [0, 1] with labels ``y`` (N,).

    ``c_init``: first balancing constant (paper 0.001). ``search_steps``: binary-search steps
    over c (paper 9). ``max_iter``: Adam iterations per search step (paper 10000). ``lr``: Adam's
    learning rate, on w (paper 0.01). ``kappa``: confidence margin, in logit units (0).
    ``abort_early``: stop a sample's search step when its loss stalls (see module doc).
    ``batch_size``: rows attacked together (memory and speed only; results do not depend on it,
    up to the rounding of the matrix products). Each iteration is a few dozen small array
    operations, so on a GPU the loop is bound by launch overhead and a larger batch is nearly
    free: 10000 rows ran 10x more images per second than 1000 on an H100. On the CPU each batch
    runs in blocks of at most half the backend's ``block_rows`` (256 rows; module doc), shared
    by its threads (:mod:`nprelu.parallel`); the result does not
    depend on the thread count. (Each block pays its iteration's few dozen small operations:
    blocks of 100 rows made 200 images 1.2x slower on one thread, 1.3x faster on two.)

    ``surrogate``: None (the true gradient), or a BPDA surrogate name ("relu", "identity"; see
    ``activations.SURROGATES``). ``random_start``: half-width r of the uniform random start
    (0: start at x, the authors' attack). ``restarts``: runs of the whole search, each from its
    own random start. ``seed``: the starts' seed (module doc). ``index``: the test-image index of
    each row (default ``arange(N)``), which keys its random starts.

    Returns a :class:`CWResult`. A sample never broken is returned unchanged (the clean input),
    with ``l2`` 0 and ``success`` False. An empty batch gives empty fields.

    ValueError unless ``x`` lies in [0, 1] with labels in [0, n_out) (:func:`prepare`; outside
    the box the tanh change of variables has no solution), c_init in (0, 1e6], lr in (0, 10],
    kappa in [0, 1e6], shrink in (0, 1) and random_start in [0, 1]; search_steps, max_iter and
    restarts >= 1 and at most their limits, batch_size >= 1 and seed >= 0 integers (the ranges
    and limits: :mod:`~nprelu.attacks._common`), and surrogate is None or a known surrogate.
    """
    x, y, xp = prepare(net, x, y)
    dtype = net.backend.dtype
    c_init = check_setting("c_init", c_init, dtype)
    search_steps = check_budget("search_steps", search_steps)
    max_iter = check_budget("max_iter", max_iter)
    lr = check_setting("lr", lr, dtype)
    kappa = check_setting("kappa", kappa, dtype)
    shrink = check_setting("shrink", shrink, dtype)
    batch_size = check_int("batch_size", batch_size)
    random_start = check_setting("random_start", random_start, dtype)
    restarts = check_budget("restarts", restarts)
    seed = check_int("seed", seed, 0)
    check_surrogate(surrogate)
    check_attack_memory("cw_l2", net, x, 6, 16)
    index = random_keys.indices(index, len(x))
    if len(x) == 0:
        return CWResult(x.copy(), xp.zeros(0, dtype=x.dtype), xp.zeros(0, dtype=bool),
                        xp.zeros(0, dtype=x.dtype))
    best = None
    for k in range(restarts):
        start = None if random_start == 0.0 else random_starts(net, x, random_start, seed, k,
                                                                   index)
        res = _cw_search(net, x, y, start, c_init, search_steps, max_iter, lr, kappa,
                         bool(abort_early), shrink, batch_size, surrogate)
        best = res if best is None else _smaller(best, res, xp)
    return best


def random_starts(net, x, r, seed, k, index=None):
    """Run ``k``'s start: clip(x + delta, 0, 1), delta = r (2 u - 1) with u uniform in [0, 1),
    float32, keyed per image by (``seed``, ``k``, ``index``) on the host."""
    be = net.backend
    u = random_keys.uniform(random_keys.key(seed, k), random_keys.indices(index, len(x)),
                            x.shape[1])
    delta = be.asarray(u, dtype=be.dtype)
    delta *= 2.0 * r
    delta -= r
    return be.xp.clip(x + delta, 0.0, 1.0)


def _smaller(a, b, xp):
    """Per sample, ``b``'s result where it succeeded with a smaller L2 than ``a`` (or ``a``
    failed), else ``a``'s."""
    take = b.success & (~a.success | (b.l2 < a.l2))
    return CWResult(xp.where(take[:, None], b.x_adv, a.x_adv), xp.where(take, b.l2, a.l2),
                    a.success | b.success, xp.where(take, b.c, a.c))


def _cw_search(net, x, y, start, c_init, search_steps, max_iter, lr, kappa, abort_early, shrink,
               batch_size, surrogate):
    """One run of the binary search over the batch, from ``start`` (None: from ``x``), in chunks
    of ``batch_size`` rows, one after the other (memory)."""
    parts = []
    for a in range(0, len(x), batch_size):
        rows = slice(a, a + batch_size)
        parts.append(_cw_chunk(net, x[rows], y[rows], c_init, search_steps, max_iter, lr, kappa,
                               abort_early, shrink, None if start is None else start[rows],
                               surrogate))
    if len(parts) == 1:
        return parts[0]
    return CWResult(*(net.backend.xp.concatenate([getattr(p, f) for p in parts])
                      for f in ("x_adv", "l2", "success", "c")))


class CWObjective(NamedTuple):
    """One evaluation of the CW-L2 objective, per row: ``loss`` L(w), ``grad`` dL/dw, ``l2sq``
    ||x'(w) - x||^2, ``adv`` (x'(w) is adversarial: argmax(Z + kappa onehot_y) != y, ties to the
    first index, the authors' ``compare``), ``x_prime`` x'(w)."""

    loss: object
    grad: object
    l2sq: object
    adv: object
    x_prime: object


def cw_objective(net, w, x, y, c, kappa=0.0, rows=None, onehot=None,
                 surrogate=None) -> CWObjective:
    """L(w) = ||x'(w) - x||^2 + c * max(Z_y - max_{i != y} Z_i, -kappa) and dL/dw, per row.

    ``surrogate``: None, dL/dw exactly; a BPDA surrogate: the logit term's backward pass uses it
    in the capped layers (then ``grad`` is BPDA's stand-in for dL/dw, not its gradient).

    ``c``: one constant per row. ``rows`` = arange(N) and ``onehot`` = (class == y) may be
    passed in to save recomputing them. One forward and one backward pass (``net.input_grad``);
    the attack calls it once per iteration, in place wherever it can.
    """
    xp = array_module(w)
    t = xp.tanh(w)
    xa = t + 1.0                                 # x' = (tanh(w) + 1) / 2
    xa *= 0.5
    hinge = partial(_hinge, c=c, kappa=kappa, rows=rows, onehot=onehot)
    (loss, adv), g = net.input_grad(xa, y, loss=hinge, surrogate=surrogate)  # c * df/dx'
    diff = xa - x
    l2sq = (diff * diff).sum(axis=1)
    loss += l2sq
    diff *= 2.0                                  # dL/dx' = 2 (x' - x) + c * df/dx'
    g += diff
    t *= t                                       # dL/dw = dL/dx' * (1 - tanh^2) / 2
    xp.subtract(1.0, t, out=t)
    t *= 0.5
    g *= t
    return CWObjective(loss, g, l2sq, adv, xa)


def _hinge(logits, y, c, kappa, rows=None, onehot=None):
    """As a loss for ``net.input_grad``: ``((c * f, adv), d(c * f)/dZ)``, with f = max(Z_y - Z_o,
    -kappa), o the best other class, and ``adv`` = argmax(Z + kappa onehot_y) != y."""
    xp = array_module(logits)
    rows = xp.arange(logits.shape[0]) if rows is None else rows
    other, o = best_other_class(logits, y, rows, onehot)
    real = logits[rows, y]
    margin = real - other
    loss = c * xp.maximum(margin, -kappa)
    wts = xp.zeros_like(logits)
    on = (c * (margin > -kappa)).astype(logits.dtype)
    wts[rows, y] = on
    wts[rows, o] -= on
    shifted = real + kappa
    adv = (other > shifted) | ((other == shifted) & (o < y))
    return (loss, adv), wts



def _cw_chunk(net, x, y, c_init, search_steps, max_iter, lr, kappa, abort_early, shrink,
              start=None, surrogate=None):
    """The binary search on one chunk of rows, its active rows in blocks (module doc)."""
    be = net.backend
    xp, dtype = be.xp, be.dtype
    n, k = len(x), net.sizes[-1]
    block = be.block_rows and be.block_rows // 2
    w0 = xp.arctanh((2.0 * (x if start is None else start) - 1.0) * shrink)
    c = xp.full(n, c_init, dtype=dtype)
    lower = xp.zeros(n, dtype=dtype)
    upper = xp.full(n, NO_UPPER, dtype=dtype)
    best = _Best(x, xp, dtype)
    onehot = xp.arange(k)[None, :] == y[:, None]
    group = xp.zeros(n, dtype=xp.int64)          # the first block of each row
    first = row_blocks(n, block)
    for g, rows in enumerate(first):
        group[rows] = g
    segments = _segments(max_iter, max(1, max_iter // 10), abort_early)

    for _ in range(search_steps):
        broke = xp.zeros(n, dtype=bool)          # some iterate of this search step was adversarial
        act = _Active(idx=xp.arange(n), w=w0.copy(), m=xp.zeros_like(w0), v=xp.zeros_like(w0),
                      x=x, y=y, c=c, onehot=onehot, group=group,
                      prev=xp.full(n, xp.inf, dtype=dtype), loss=xp.empty(n, dtype=dtype),
                      best_x=best.x.copy(), best_l2sq=best.l2sq.copy(),
                      improved=xp.zeros(n, dtype=bool), broke=xp.zeros(n, dtype=bool))
        for a, b, check in segments:
            run([partial(_iterate, net, act, rows, lr, a, b, kappa, surrogate)
                 for rows in _blocks(act, block, len(first), be)], be.threads)
            if check:                            # abort early, per row (module doc)
                keep = ~(act.loss > 0.9999 * act.prev)
                act.prev, act.loss = act.loss, act.prev
                if not bool(keep.all()):
                    best.put(act.subset(~keep), broke)
                    act = act.subset(keep)
                    if len(act) == 0:
                        break
        best.put(act, broke)
        # binary search on c
        upper = xp.where(broke, xp.minimum(upper, c), upper)
        lower = xp.where(broke, lower, xp.maximum(lower, c))
        bounded = upper < NO_UPPER
        c = xp.where(bounded, (lower + upper) * 0.5, xp.where(broke, c, c * 10.0)).astype(dtype)

    success = xp.isfinite(best.l2sq)
    diff = best.x - x
    l2 = xp.sqrt((diff * diff).sum(axis=1))
    return CWResult(best.x, l2, success, best.c)


def _segments(max_iter, check_every, abort_early) -> list:
    """``(a, b, check)``: iterations a .. b-1 run with no look at the loss; ``check``: the loss
    of iteration b - 1 is an abort-early check (iterations 0, check_every, 2 check_every, ...)."""
    if not abort_early:
        return [(0, max_iter, False)]
    out, a = [], 0
    for it in range(0, max_iter, check_every):
        out.append((a, it + 1, True))
        a = it + 1
    return out + ([(a, max_iter, False)] if a < max_iter else [])


def _blocks(act, block, count, be) -> list:
    """The blocks of the active rows: ``count`` (the chunk's first) blocks of nearly equal size,
    fewer once they would hold under :data:`MIN_BLOCK_ROWS` rows (REPACK), or each first
    block's active rows (REPACK False)."""
    if block is None:
        return row_blocks(len(act), None)
    if REPACK:
        count = max(1, min(count, len(act) // MIN_BLOCK_ROWS))
        return row_blocks(len(act), -(-len(act) // count))
    g = be.to_host(act.group).tolist()
    cuts = [0, *(i for i in range(1, len(g)) if g[i] != g[i - 1]), len(g)]
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


def _iterate(net, act, rows, lr, a, b, kappa, surrogate) -> None:
    """Adam iterations a .. b-1 on the active rows ``rows`` (a slice), in place in ``act``; the
    loss of iteration b - 1 goes to ``act.loss``. Blocks are disjoint, so threads may share."""
    xp = net.backend.xp
    w = act.w[rows]
    opt = Adam([w], lr=lr, beta1=0.9, beta2=0.999, eps=1e-8)
    opt.m, opt.v, opt.t = [act.m[rows]], [act.v[rows]], a     # views: updated in place
    xs, ys, cs, onehot = act.x[rows], act.y[rows], act.c[rows], act.onehot[rows]
    best_x, best_l2sq = act.best_x[rows], act.best_l2sq[rows]
    improved, broke = act.improved[rows], act.broke[rows]
    index = xp.arange(len(ys))
    for _ in range(a, b):
        loss, g, l2sq, adv, xa = cw_objective(net, w, xs, ys, cs, kappa, index, onehot,
                                              surrogate)
        better = adv & (l2sq < best_l2sq)        # no host sync: masked copies only
        xp.copyto(best_l2sq, l2sq, where=better)
        xp.copyto(best_x, xa, where=better[:, None])
        improved |= better
        broke |= adv
        opt.step([g])
    act.loss[rows] = loss


class _Active:
    """The rows still optimizing in this search step, compacted: row i of every field is one
    sample, ``idx[i]`` its row in the chunk. ``w``, ``m``, ``v``: the variable and Adam's
    moments; ``x``, ``y``, ``c``, ``onehot``, ``group``: the sample's; ``prev``, ``loss``: its
    loss at the last check and at the last iteration run; ``best_x``, ``best_l2sq``: its best so
    far; ``improved``: this search step improved it; ``broke``: some iterate was adversarial."""

    FIELDS = ("idx", "w", "m", "v", "x", "y", "c", "onehot", "group", "prev", "loss", "best_x",
              "best_l2sq", "improved", "broke")

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __len__(self):
        return len(self.idx)

    def subset(self, keep) -> "_Active":
        """The rows ``keep`` (a boolean mask), in order: copies."""
        return _Active(**{f: getattr(self, f)[keep] for f in self.FIELDS})


class _Best:
    """Smallest-L2 adversarial example per sample over all search steps (``l2sq`` inf: none)."""

    def __init__(self, x, xp, dtype):
        n = len(x)
        self.xp = xp
        self.x = x.copy()
        self.l2sq = xp.full(n, xp.inf, dtype=dtype)
        self.c = xp.full(n, math.nan, dtype=dtype)

    def put(self, act, broke):
        """Write the state of the active rows ``act`` back (when they stop)."""
        self.x[act.idx] = act.best_x
        self.l2sq[act.idx] = act.best_l2sq
        self.c[act.idx] = self.xp.where(act.improved, act.c, self.c[act.idx])
        broke[act.idx] |= act.broke
