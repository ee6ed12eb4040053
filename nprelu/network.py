r"""A dense ReLU / capped-ReLU network with a hand-written backward pass.

Layer i (i = 0 .. L-1) maps a_{i} to a_{i+1}; a_0 = x is the input and the last layer gives the
logits Z, with no activation (softmax lives in the loss)::

    z_{i+1} = a_i W_i + b_i                       W_i: (fan_in, fan_out), b_i: (fan_out,)
    a_{i+1} = a(z_{i+1}, beta_i)                  hidden layers only; beta_i = None is plain ReLU

Backward, for an upstream gradient G = dJ/dZ (N x K), with delta_L = G::

    dJ/dW_i     = a_i^T delta_{i+1}
    dJ/db_i     = sum_n delta_{i+1}[n]
    dJ/da_i     = delta_{i+1} W_i^T
    delta_i     = dJ/da_i * 1[0 < z_i < beta]     (the capped-ReLU mask; 1[z_i > 0] for ReLU)

and dJ/dx = delta_1 W_0^T, computed only when asked for (training never needs it).

Weights start Glorot-uniform, U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), and biases at zero,
as Keras does; the draws are made on the host from the seed, so both backends get the same
network.
"""
from __future__ import annotations

import math

from .activations import capped_relu_mask, check_cap
from .backend import Backend, array_module, get_backend, to_host
from .checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from .losses import cross_entropy, cross_entropy_per_sample


def layer_forward(a, W, b, cap, *, last=False, keep=True):
    """One dense layer: ``(a_out, cache)``. ``cache`` = (a_in, mask) when ``keep``, else None.

    For a hidden layer the mask 1[0 < z < cap] is the only thing backward needs from z.
    """
    z = a @ W
    z += b
    if last:
        return z, ((a, None) if keep else None)
    mask = capped_relu_mask(z, cap) if keep else None
    # a(z, beta) = clip(z, 0, beta), in place; ReLU is clip(z, 0, inf): NumPy's clip with scalar
    # bounds runs about twice as fast as maximum(z, 0), with the same result
    upper = math.inf if cap is None else cap
    out = array_module(z).clip(z, 0.0, upper, out=z)
    return out, ((a, mask) if keep else None)


def layer_backward(delta, cache, W, *, params=True, inputs=True, out=None):
    """Backward through one dense layer: ``(dW, db, da_in)`` for ``delta`` = dJ/dz_out.

    ``da_in`` is dJ/da_in before the previous layer's activation mask; it is None when not asked.
    ``out`` = (dW, db) arrays to write the parameter gradients into, if given.
    """
    a_in, _ = cache
    dW = db = None
    if params:
        xp = array_module(delta)
        dW = xp.matmul(a_in.T, delta, out=None if out is None else out[0])
        db = delta.sum(axis=0, out=None if out is None else out[1])
    da_in = delta @ W.T if inputs else None
    return dW, db, da_in


class MLP:
    """Dense network: ``sizes`` = [n_in, hidden..., n_out]; ``caps`` = one beta (or None) per hidden layer."""

    def __init__(self, sizes, caps=None, *, seed=0, backend: Backend | None = None):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list >= 2 positive layer widths, got {sizes}")
        self.backend = backend or get_backend()
        self.sizes = sizes
        self.caps = [None] * (len(sizes) - 2) if caps is None else caps
        self._allocate()
        rng = self.backend.rng(seed)
        for W, (fan_in, fan_out) in zip(self.W, zip(sizes[:-1], sizes[1:])):
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            W[...] = self.backend.asarray(rng.uniform(-limit, limit, size=(fan_in, fan_out)))

    def _allocate(self) -> None:
        """One flat vector ``theta`` holds every parameter, and ``grad`` every gradient.

        ``W[i]``, ``b[i]`` (and the gradients of :meth:`backward`) are views into them, so an
        optimizer updates the whole network with a handful of array operations.
        """
        xp, dtype = self.backend.xp, self.backend.dtype
        shapes = [s for a, b in zip(self.sizes[:-1], self.sizes[1:]) for s in ((a, b), (b,))]
        total = sum(math.prod(s) for s in shapes)
        self.theta = xp.zeros(total, dtype=dtype)
        self.grad = xp.zeros(total, dtype=dtype)
        self._param_views, self._grad_views, start = [], [], 0
        for shape in shapes:
            stop = start + math.prod(shape)
            self._param_views.append(self.theta[start:stop].reshape(shape))
            self._grad_views.append(self.grad[start:stop].reshape(shape))
            start = stop
        self.W, self.b = self._param_views[0::2], self._param_views[1::2]

    # ---- caps -------------------------------------------------------------------------------
    @property
    def caps(self):
        return list(self._caps)

    @caps.setter
    def caps(self, caps):
        caps = list(caps)
        n_hidden = len(self.sizes) - 2
        if len(caps) != n_hidden:
            raise ValueError(f"need one cap per hidden layer ({n_hidden}), got {len(caps)}: {caps}")
        self._caps = [check_cap(c) for c in caps]

    def set_cap(self, layer: int, beta) -> None:
        """Cap hidden layer ``layer`` (0-based: 0 is HL1) at ``beta`` (None: plain ReLU)."""
        n_hidden = len(self.sizes) - 2
        if not 0 <= layer < n_hidden:
            raise ValueError(f"unknown hidden layer {layer}: this network has hidden layers 0..{n_hidden - 1}")
        caps = self.caps
        caps[layer] = beta
        self.caps = caps

    def with_caps(self, caps) -> "MLP":
        """The same weights (shared, not copied) evaluated with other caps."""
        twin = object.__new__(MLP)
        twin.__dict__.update(self.__dict__)  # the same theta, grad and views
        twin.caps = caps
        return twin

    @property
    def params(self):
        """[W_0, b_0, W_1, b_1, ...]: views into ``theta``, updated in place by an optimizer."""
        return list(self._param_views)

    @property
    def n_layers(self) -> int:
        return len(self.W)

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, x, *, keep=True, hidden=False):
        """``(logits, caches)``; with ``hidden=True``, ``(logits, caches, [a_1, ..., a_{L-1}])``.

        ``keep=False`` skips the backward caches (evaluation only).
        """
        a, caches, acts = x, [], []
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            cap = None if last else self._caps[i]
            a, cache = layer_forward(a, self.W[i], self.b[i], cap, last=last, keep=keep)
            caches.append(cache)
            if hidden and not last:
                acts.append(a.copy())
        return (a, caches, acts) if hidden else (a, caches)

    def logits(self, x, batch_size=8192):
        """Logits Z(x), in batches of ``batch_size`` rows, no caches kept."""
        xp = self.backend.xp
        parts = [self.forward(x[i:i + batch_size], keep=False)[0] for i in range(0, len(x), batch_size)]
        return parts[0] if len(parts) == 1 else xp.concatenate(parts)

    def hidden(self, x):
        """Each hidden layer's activations [a_1, ..., a_{L-1}] for the batch ``x``."""
        return self.forward(x, keep=False, hidden=True)[2]

    def predict(self, x, batch_size=8192):
        """Predicted class per row."""
        return self.logits(x, batch_size).argmax(axis=1)

    # ---- backward ---------------------------------------------------------------------------
    def backward(self, dlogits, caches, *, params=True, inputs=False):
        """Backpropagate ``dlogits`` = dJ/dZ. Returns ``(grads, dx)``.

        ``grads`` = [dW_0, db_0, dW_1, db_1, ...] (None when ``params=False``): views into the
        flat vector ``self.grad``, which the next backward pass overwrites. ``dx`` = dJ/dx when
        ``inputs=True``, else None.
        """
        grads = self._grad_views if params else None
        delta = dlogits
        for i in reversed(range(self.n_layers)):
            need_down = i > 0 or inputs
            out = (grads[2 * i], grads[2 * i + 1]) if params else None
            _, _, da = layer_backward(delta, caches[i], self.W[i], params=params, inputs=need_down, out=out)
            if i > 0:
                da *= caches[i - 1][1]  # delta_i = dJ/da_i * 1[0 < z_i < beta]
            delta = da
        return grads, (delta if inputs else None)

    def loss_and_grads(self, x, y):
        """Mean softmax cross-entropy, its parameter gradients, and the logits of the batch."""
        logits, caches = self.forward(x)
        loss, dlogits = cross_entropy(logits, y)
        grads, _ = self.backward(dlogits, caches, params=True, inputs=False)
        return loss, grads, logits

    def input_grad(self, x, y):
        """``(loss_n, dx)``: each sample's own cross-entropy and its gradient d loss_n / d x_n."""
        logits, caches = self.forward(x)
        loss, dlogits = cross_entropy_per_sample(logits, y)
        _, dx = self.backward(dlogits, caches, params=False, inputs=True)
        return loss, dx

    def logit_input_grad(self, x, weights):
        """d/dx of sum_k weights[n, k] Z_k(x_n), per sample ``n``.

        With one-hot ``weights`` this is the gradient of a single logit; the sensitivity map and
        the CW attack use weighted sums.
        """
        logits, caches = self.forward(x)
        _, dx = self.backward(weights, caches, params=False, inputs=True)
        return logits, dx

    # ---- checkpoints ------------------------------------------------------------------------
    def save(self, path, **meta) -> None:
        """Write an ``.npz`` checkpoint atomically; ``meta`` adds JSON-able fields."""
        write_checkpoint(path, [to_host(w) for w in self.W], [to_host(b) for b in self.b],
                         {**meta, "sizes": self.sizes, "caps": self.caps})

    @classmethod
    def load(cls, path, backend: Backend | None = None) -> "MLP":
        """Read a checkpoint written by :meth:`save`; the file's ``meta`` is kept as ``.meta``."""
        weights, biases, meta = read_checkpoint(path)
        net = object.__new__(cls)
        net.backend = backend or get_backend()
        net.sizes = [int(s) for s in meta["sizes"]]
        try:
            net.caps = meta["caps"]
        except ValueError as exc:
            raise CheckpointError(f"{path}: bad caps in 'meta': {exc}") from None
        net._allocate()
        for dst, src in zip(net.params, [a for pair in zip(weights, biases) for a in pair]):
            dst[...] = net.backend.asarray(src)
        net.meta = meta
        return net
