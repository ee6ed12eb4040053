r"""Adam (Kingma & Ba, 2014), bias-corrected, updating a list of arrays in place.

For each parameter p with gradient g, at step t = 1, 2, ...::

    m_t   = beta1 m_{t-1} + (1 - beta1) g
    v_t   = beta2 v_{t-1} + (1 - beta2) g^2
    m^_t  = m_t / (1 - beta1^t)        v^_t = v_t / (1 - beta2^t)
    p_t   = p_{t-1} - lr m^_t / (sqrt(v^_t) + eps)

The update is computed in the algebraically identical form of the paper's Section 2, which
needs one fewer pass over the arrays::

    p_t = p_{t-1} - lr_t m_t / (sqrt(v_t) + eps_t),
    lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t),   eps_t = eps sqrt(1 - beta2^t)

Defaults are Keras': lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7. Any list of arrays works, which
is how the CW attack reuses it on its perturbation variables.

Subnormal moments are set to 0 every :data:`FLUSH_EVERY` steps. A weight whose gradient stays 0
(a unit held at its cap or at 0 for every sample of a batch: common under a small cap) has its
m_t shrink by beta1 a step into the subnormal floats (below 1.2e-38 in float32) and stick at the
smallest one, 1.4e-45, since 0.9 times it rounds back to it. Every operation on a subnormal
costs a CPU about a hundred cycles: with HL2 capped at 0.01, 35% of m was subnormal after five
epochs, 43% after twelve, and an epoch took 3.4 s instead of 1.4 s. Such an m adds
lr_t m_t / (sqrt(v_t) + eps_t), about 1e-40, to its weight, far below the weight's rounding
step, so the flush leaves the weights as they were (``tests/test_optim_train.py`` checks it bit
for bit); it is what a CPU's flush-to-zero mode, which NumPy does not expose, would do.
"""
from __future__ import annotations

import math

from .backend import array_module


CHUNK = 65536  # elements per piece of an update on the CPU: its five arrays, 1.3 MB, stay in L2
FLUSH_EVERY = 100  # steps between the flushes of subnormal moments to 0 (module doc)


class Adam:
    """Adam on the arrays ``params``; ``chunk``: update them in pieces of that many elements
    (the CPU's setting, :data:`CHUNK`: twelve passes over a piece that stays in cache cost less
    than twelve passes over memory; same numbers), or whole (None, on a GPU)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7, chunk=None,
                 flush_every=FLUSH_EVERY):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {beta1}, {beta2}")
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.chunk = chunk
        self.flush_every = flush_every   # None: never (the slow form the tests compare with)
        self.reset()

    def like(self, params, **changes) -> "Adam":
        """A new Adam on ``params`` with this one's settings (lr, beta1, beta2, eps, chunk,
        flush_every), but for ``changes``; fresh moments at step 0."""
        settings = dict(lr=self.lr, beta1=self.beta1, beta2=self.beta2, eps=self.eps,
                        chunk=self.chunk, flush_every=self.flush_every)
        return Adam(params, **{**settings, **changes})

    def reset(self) -> None:
        """Forget the moments and the step count (the CW attack does this per binary-search step)."""
        self.t = 0
        self.m = [array_module(p).zeros_like(p) for p in self.params]
        self.v = [array_module(p).zeros_like(p) for p in self.params]
        self._tmp = [array_module(p).empty_like(p) for p in self.params]  # scratch, no allocations per step

    def step(self, grads) -> None:
        """One update of every parameter, in place, from ``grads`` (same order as ``params``)."""
        self.advance()
        for k, g in enumerate(grads):
            self.update(k, g)

    def advance(self) -> None:
        """Start step t + 1: its bias-corrected lr_t and eps_t, for :meth:`update`."""
        self.t += 1
        c2 = math.sqrt(1.0 - self.beta2 ** self.t)
        self._lr_t = self.lr * c2 / (1.0 - self.beta1 ** self.t)
        self._eps_t = self.eps * c2

    def update(self, k, g, part=slice(None)) -> None:
        """Step t's update of ``params[k][part]`` from its gradient ``g[part]``, in place.

        Parts of one parameter are independent (the update is elementwise), so threads may
        update disjoint parts at once (:func:`~nprelu.threaded_step.train_step`).
        """
        arrays = [a[part] for a in (self.params[k], g, self.m[k], self.v[k], self._tmp[k])]
        if self.chunk is None or not all(a.flags.c_contiguous for a in arrays):
            self._update(*arrays)
        else:
            flat = [a.reshape(-1) for a in arrays]   # views: every array is contiguous
            for lo in range(0, flat[0].size, self.chunk):
                self._update(*(a[lo:lo + self.chunk] for a in flat))
        if self.flush_every and self.t % self.flush_every == 0:
            for moment in arrays[2:4]:
                flush_subnormals(moment)

    def _update(self, p, g, m, v, tmp) -> None:
        b1, b2, lr_t, eps_t = self.beta1, self.beta2, self._lr_t, self._eps_t
        xp = array_module(p)
        xp.multiply(g, 1.0 - b1, out=tmp)          # m <- beta1 m + (1 - beta1) g
        m *= b1
        m += tmp
        xp.multiply(g, g, out=tmp)                 # v <- beta2 v + (1 - beta2) g^2
        tmp *= 1.0 - b2
        v *= b2
        v += tmp
        xp.sqrt(v, out=tmp)                        # p <- p - lr_t m / (sqrt(v) + eps_t)
        tmp += eps_t
        xp.divide(m, tmp, out=tmp)
        tmp *= lr_t
        p -= tmp


def flush_subnormals(a) -> None:
    """Set the subnormal entries of ``a`` (0 < |a| < the dtype's smallest normal) to 0, in place."""
    xp = array_module(a)
    a[xp.abs(a) < float(xp.finfo(a.dtype).tiny)] = 0
