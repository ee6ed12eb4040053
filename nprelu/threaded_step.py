r"""One training step on the backend's threads: the batch's loss, its parameter gradients and
Adam's update, cut into fixed pieces (:mod:`nprelu.parallel`). Performance code: the maths is
:mod:`nprelu.network`'s, and this module only calls it in another order::

    loss = mean_n cross_entropy(forward(x)_n, y_n)          (MLP.forward, losses)
    grads = backward(d loss / dZ)                           (MLP.backward, parameters only)
    theta <- Adam(theta, grads)                             (optim.Adam.update)

The pieces, never cut by the thread count (so the result does not depend on it):

1. Forward, one layer at a time (:func:`~nprelu.network.layer_forward`); a product of
   :data:`SPLIT_MACS` multiply-adds or more (the first layer's on MNIST) runs as two row blocks.
2. The loss, and the backward pass down to delta_2 = dJ/dz_2 (:func:`~nprelu.network.
   layer_backward` without its parameter products), here.
3. Slices of the flat parameter vector ``theta`` (:data:`STEP_SHARES`, whole weight rows and
   biases; :func:`~nprelu.parallel.flat_parts`), one per task: each computes its rows of
   dW_i = a_i^T delta_{i+1} and its db_i = sum_n delta_{i+1}, then, with :func:`train_step`,
   Adam's update of its slice on the same thread, while the other slice is still computing (the
   Adam overlap: the update is elementwise, so disjoint slices are independent). The first,
   smaller slice (its thread starts at once) also computes delta_1 = (delta_2 W_1^T) * mask_1,
   which the first layer's pieces of the other slices wait for (they come last).

On a GPU (``backend.block_rows`` None) the batch and ``theta`` are each one piece.
"""
from __future__ import annotations

import threading
from functools import lru_cache, partial

from .flops import count_backward, count_forward
from .losses import cross_entropy_per_sample
from .network import check_batch, layer_backward, layer_forward
from .parallel import flat_parts, row_blocks, run

STEP_SHARES = (0.46, 0.54)  # a training step's slices of theta on the CPU
SPLIT_MACS = 20_000_000     # a forward product this large (0.1 ms on a core) is split in two


def train_step(net, opt, x, y):
    """One Adam step of ``opt`` (an Adam on ``net.theta`` as one array,
    :func:`~nprelu.train.adam_for`) on the batch ``x``, ``y``: ``(loss, logits)``, the batch's
    mean cross-entropy and its logits before the step. Each slice of ``theta`` is updated as
    soon as its gradients are written, on its own thread (module doc)."""
    opt.advance()
    loss, _, logits = loss_and_grads(net, x, y, update=partial(opt.update, 0, net.grad))
    return loss, logits


def loss_and_grads(net, x, y, *, update=None):
    """``(loss, grads, logits)``: the batch's mean softmax cross-entropy, its parameter
    gradients (as :meth:`~nprelu.network.MLP.backward` gives them, views into ``net.grad``) and
    the logits, computed in the pieces of the module doc. ``update``: called with each slice of
    ``theta`` once its gradients are written, on its thread."""
    check_batch(x, net.sizes[0])
    be, n, xp = net.backend, len(x), net.backend.xp
    caps = net.caps
    acts, caches = [x], []
    for i in range(net.n_layers):
        last = i == net.n_layers - 1
        beta = None if last else caps[i]
        out = xp.empty((n, net.sizes[i + 1]), dtype=be.dtype)
        big = be.block_rows and n * net.sizes[i] * net.sizes[i + 1] >= SPLIT_MACS
        rows = row_blocks(n, -(-n // 2) if big else None)
        run([partial(layer_forward, acts[i][r], net.W[i], net.b[i], beta, last=last,
                     keep=False, out=out[r]) for r in rows], be.threads)
        caches, acts = caches + [(acts[i], None if last else out, beta)], acts + [out]
    loss, dlogits = cross_entropy_per_sample(acts[-1], y)
    dout = xp.multiply(dlogits, 1.0 / n, out=dlogits)   # d mean / dZ, as losses.cross_entropy
    deltas = [None] * (net.n_layers + 1)
    for i in reversed(range(1, net.n_layers)):   # delta_L .. delta_2 (delta_1: first part)
        deltas[i + 1] = dout                      # layer i masks dout in place
        _, _, dout = layer_backward(dout, caches[i], net.W[i], params=False, inputs=i > 1,
                                    inplace=True)
    deltas[1] = dout if net.n_layers == 1 else None
    first = threading.Event()
    parts = theta_parts(tuple(net.sizes), bool(be.block_rows))
    run([partial(_grads_part, net, acts, deltas, caches, part, first, update, k == 0)
         for k, part in enumerate(parts)], be.threads)
    count_forward(net.sizes, n)
    count_backward(net.sizes, n, params=True, inputs=False)
    return loss.mean(), net.grads, acts[-1]


@lru_cache(maxsize=None)
def theta_parts(sizes: tuple, threaded: bool) -> list:
    """The slices of ``theta`` of a network of layer widths ``sizes``: :data:`STEP_SHARES` of it
    (``threaded``, on the CPU) or all of it as one (:func:`~nprelu.parallel.flat_parts`; a bias
    is a block of one row)."""
    blocks = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((a, b), (1, b))]
    return flat_parts(blocks, STEP_SHARES if threaded else 1)


def _grads_part(net, acts, deltas, caches, part, first, update, leads):
    """One slice's gradients, then ``update``: piece k is rows of W_{k/2} (k even) or b_{k//2}
    (odd); the ``leads`` slice first sets delta_1 = (delta_2 W_1^T) * mask_1 (``first``)."""
    xp, grads = net.backend.xp, net.grads
    if leads:
        try:
            if net.n_layers > 1:   # da_1 = delta_2 W_1^T, masked in place by layer 0
                deltas[1] = xp.matmul(deltas[2], net.W[1].T)
                layer_backward(deltas[1], caches[0], net.W[0], params=False, inputs=False,
                               inplace=True)
        finally:
            first.set()      # even on an error: the others must not wait forever
    for k, rows in sorted(part.pieces, key=lambda piece: -piece[0]):   # layer 0 last
        if k < 2 and not leads:
            first.wait()
        i, delta = k // 2, deltas[k // 2 + 1]
        if k % 2:
            delta.sum(axis=0, out=grads[k])
        else:
            xp.matmul(acts[i][:, rows].T, delta, out=grads[k][rows])
    if update is not None:
        update(part.flat)
