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
"""
from __future__ import annotations

import math

from .backend import array_module


class Adam:
    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {beta1}, {beta2}")
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.reset()

    def reset(self) -> None:
        """Forget the moments and the step count (the CW attack does this per binary-search step)."""
        self.t = 0
        self.m = [array_module(p).zeros_like(p) for p in self.params]
        self.v = [array_module(p).zeros_like(p) for p in self.params]
        self._tmp = [array_module(p).empty_like(p) for p in self.params]  # scratch, no allocations per step

    def step(self, grads) -> None:
        """One update of every parameter, in place, from ``grads`` (same order as ``params``)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c2 = math.sqrt(1.0 - b2 ** self.t)
        lr_t = self.lr * c2 / (1.0 - b1 ** self.t)
        eps_t = self.eps * c2
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self._tmp):
            xp = array_module(p)
            xp.multiply(g, 1.0 - b1, out=tmp)      # m <- beta1 m + (1 - beta1) g
            m *= b1
            m += tmp
            xp.multiply(g, g, out=tmp)             # v <- beta2 v + (1 - beta2) g^2
            tmp *= 1.0 - b2
            v *= b2
            v += tmp
            xp.sqrt(v, out=tmp)                    # p <- p - lr_t m / (sqrt(v) + eps_t)
            tmp += eps_t
            xp.divide(m, tmp, out=tmp)
            tmp *= lr_t
            p -= tmp
