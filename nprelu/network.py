r"""A dense ReLU / capped-ReLU network with a hand-written backward pass.

Layer i (i = 0 .. L-1) maps a_i to a_{i+1}; a_0 = x is the input and the last layer gives the
logits Z, with no activation (softmax lives in the loss)::

    z_{i+1} = a_i W_i + b_i                       W_i: (fan_in, fan_out), b_i: (fan_out,)
    a_{i+1} = a(z_{i+1}, beta_i)                  hidden layers only; beta_i = None is plain ReLU

Backward, one layer at a time (:func:`layer_backward`): from the upstream gradient
dJ/da_{i+1} of the layer's own output (dJ/dZ for the last layer)::

    delta_{i+1} = dJ/da_{i+1} * 1[0 < z_{i+1} < beta_i]    (hidden layers; 1[z > 0] for ReLU)
    delta_L     = dJ/dZ                                    (the last layer is linear)
    dJ/dW_i     = a_i^T delta_{i+1}
    dJ/db_i     = sum_n delta_{i+1}[n]
    dJ/da_i     = delta_{i+1} W_i^T                        (the next layer down's upstream)

and dJ/dx = dJ/da_0 is computed only when asked for (training never needs it). The mask is read
from the cached output a_{i+1} (0 < z < beta iff 0 < a < beta); BPDA's surrogate masks
(:func:`~nprelu.activations.backward_mask`) replace it in capped layers.

Weights start Glorot-uniform, U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), and biases at zero,
as Keras does; the draws are made on the host from the seed, so both backends get the same
network.

Input contract, checked where data enter (:func:`check_batch`, :func:`check_labels`): a batch
is (N, n_in) with N >= 0 (an empty batch gives empty logits and predictions); labels are
integers in [0, n_out), one per row. The network itself is defined on all of R^d; the [0, 1]
pixel box is the attacks' business (:func:`nprelu.attacks._common.prepare`).
"""
from __future__ import annotations

import math
from functools import partial

from .activations import SMOOTH_SURROGATES, backward_mask, capped_relu, capped_relu_backward, \
    check_cap, check_surrogate
from .backend import Backend, array_module, get_backend, to_host
from .checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from .checks import check_finite
from .flops import count_backward, count_forward
from .losses import get_loss
from .parallel import over_rows


def check_batch(x, width, name="x"):
    """ValueError unless ``x`` is a batch of flat inputs (N, ``width``); N = 0 is allowed."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"{name} must be a batch of flat inputs of shape (N, {width}), got "
                         f"shape {shape}")
    if shape[1] != width:
        raise ValueError(f"{name} has rows of width {shape[1]}, but the network takes {width} "
                         f"inputs: {name} must have shape (N, {width})")


def check_labels(y, n_classes, n=None, name="y"):
    """``y`` as int64 class labels on ``y``'s own array module; ValueError naming the first bad
    one unless it is 1-D (with ``n`` entries, if given) and every entry is an integer in
    [0, ``n_classes``). Integer and integral float dtypes are accepted; NaN, 2.7, -1 and
    ``n_classes`` are not, nor booleans. One vectorized test and one host read."""
    if getattr(y, "ndim", None) != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape "
                         f"{getattr(y, 'shape', None)}")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} must hold one label per input row ({n}), got {len(y)} labels")
    kind = y.dtype.kind
    if kind not in "iuf":
        raise ValueError(f"{name} must hold integer class labels in [0, {n_classes}), got dtype "
                         f"{y.dtype}")
    if len(y):
        bad = (y < 0) | (y >= n_classes)          # False for NaN: caught by the next test
        if kind == "f":
            bad |= ~(y == array_module(y).floor(y))
        if bool(bad.any()):
            i = int(bad.nonzero()[0][0])
            raise ValueError(f"{name}[{i}] = {y[i].item()!r} is not a class label: labels must be "
                             f"integers in [0, {n_classes})")
    return y.astype("int64", copy=False)


def check_sizes(sizes):
    """``sizes`` as a list of Python ints: >= 2 layer widths, each an integer >= 1."""
    try:
        sizes = list(sizes)
    except TypeError:
        raise ValueError(f"sizes must list the layer widths [n_in, hidden..., n_out], got "
                         f"{sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes must list >= 2 layer widths [n_in, hidden..., n_out], got {sizes}")
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not _is_integral(s) or int(s) < 1:
            raise ValueError(f"sizes[{i}] = {s!r}: every layer width must be an integer >= 1")
    return [int(s) for s in sizes]


def _is_integral(v) -> bool:
    """``v`` is a real number with an integer value (3, 3.0, a NumPy integer; not 2.7, nan)."""
    try:
        return float(v) == int(v)
    except (TypeError, ValueError, OverflowError):
        return False


def affine_forward(a, W, b, out=None):
    """z = a W + b (written into ``out`` if given)."""
    z = array_module(a).matmul(a, W, out=out)
    z += b
    return z


def layer_forward(a, W, b, beta, *, last=False, keep=True, out=None):
    """One dense layer, z = a W + b then a(z, beta): ``(a_out, cache)``.

    ``last``: the logits layer, linear (``beta`` is ignored). ``cache`` = (a_in, a_out, beta)
    for a hidden layer, (a_in, None, None) for the last, None when not ``keep``; a_out is all
    the backward pass needs from z (module doc). The activation is computed in place in z,
    which is ``out`` if given.
    """
    z = affine_forward(a, W, b, out)
    if last:
        return z, ((a, None, None) if keep else None)
    out = capped_relu(z, beta, out=z)
    return out, ((a, out, beta) if keep else None)


def layer_backward(dout, cache, W, *, surrogate=None, params=True, inputs=True, out=None,
                   inplace=False, b=None):
    """Backward through one dense layer: ``(dW, db, da_in)`` for ``dout`` = dJ/da_out.

    The layer applies its own activation mask first (hidden layers; the last layer has none):
    delta = dout * mask, mask = 1[0 < z < beta] or the ``surrogate``'s (capped layers only, see
    :func:`~nprelu.activations.backward_mask`; "softplus" recomputes z = a_in W + b, so needs the
    bias ``b``). Then dW = a_in^T delta, db = sum_n delta, da_in = delta W^T. ``params``/``inputs``:
    compute (dW, db) / da_in, else None. ``out`` = (dW, db) arrays to write the parameter gradients
    into, if given. ``inplace``: the mask may be multiplied into ``dout`` (overwriting it).
    """
    a_in, a_out, beta = cache
    delta = dout
    if a_out is not None:
        z = affine_forward(a_in, W, b) if surrogate in SMOOTH_SURROGATES and beta else None
        mask = backward_mask(a_out, beta, surrogate, z)
        delta = capped_relu_backward(dout, mask, out=dout if inplace else None)
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
        sizes = check_sizes(sizes)
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
        n_hidden = len(self.sizes) - 2
        if isinstance(caps, str) or not hasattr(caps, "__iter__"):
            raise ValueError(f"caps must be a list with one cap (a number > 0, or None) per hidden "
                             f"layer ({n_hidden}), got {caps!r}; e.g. caps={[caps] * n_hidden!r}")
        caps = list(caps)
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
    def grads(self):
        """[dW_0, db_0, dW_1, db_1, ...]: views into ``grad``, written by :meth:`backward`."""
        return list(self._grad_views)

    @property
    def n_layers(self) -> int:
        return len(self.W)

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, x, *, keep=True, hidden=False):
        """``(logits, caches)``; with ``hidden=True``, ``(logits, caches, [a_1, ..., a_{L-1}])``.

        ``caches[i]`` is layer i's cache (:func:`layer_forward`); ``keep=False`` skips them
        (evaluation only). The hidden activations are copies. ValueError unless ``x`` has shape
        (N, n_in) (:func:`check_batch`; a shape test, no pass over the data).
        """
        check_batch(x, self.sizes[0])
        count_forward(self.sizes, len(x))
        a, caches, acts = x, [], []
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            beta = None if last else self._caps[i]
            a, cache = layer_forward(a, self.W[i], self.b[i], beta, last=last, keep=keep)
            caches.append(cache)
            if hidden and not last:
                acts.append(a.copy())
        return (a, caches, acts) if hidden else (a, caches)

    def logits(self, x, batch_size=8192):
        """Logits Z(x) (N, n_out), in batches of at most ``batch_size`` rows (and of the backend's
        row blocks, on its threads: :mod:`nprelu.parallel`), no caches kept.

        ``x``: (N, n_in); an empty batch (N = 0) gives empty logits (0, n_out).
        """
        be = self.backend
        check_batch(x, self.sizes[0])
        if batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        out = be.xp.empty((len(x), self.sizes[-1]), dtype=be.xp.result_type(x, self.theta))
        size = min(batch_size, be.block_rows or batch_size)   # N = 0: one empty block
        over_rows(be, len(x), partial(self._logits_rows, x, out), rows_per_block=size)
        return out

    def _logits_rows(self, x, out, r):
        out[r] = self.forward(x[r], keep=False)[0]

    def hidden(self, x):
        """Each hidden layer's activations [a_1, ..., a_{L-1}] for the batch ``x``."""
        return self.forward(x, keep=False, hidden=True)[2]

    def predict(self, x, batch_size=8192):
        """argmax Z(x) per row (ties: the first index), (N,); ValueError if x has NaN or inf."""
        return self.logits(check_finite(x), batch_size).argmax(axis=1)

    # ---- backward ---------------------------------------------------------------------------
    def backward(self, dlogits, caches, *, params=True, inputs=False, surrogate=None):
        """Backpropagate ``dlogits`` = dJ/dZ through every layer. Returns ``(grads, dx)``.

        ``grads`` = [dW_0, db_0, dW_1, db_1, ...] (None when ``params=False``): views into the
        flat vector ``self.grad``, which the next backward pass overwrites. ``dx`` = dJ/dx when
        ``inputs=True``, else None. ``surrogate``: None (the true derivative), "relu", "identity"
        or "softplus", used in capped hidden layers only (BPDA, :mod:`nprelu.activations`).
        """
        check_surrogate(surrogate)
        count_backward(self.sizes, len(dlogits), params=params, inputs=inputs)
        grads = self._grad_views if params else None
        dout = dlogits  # dJ/da_out of layer i: dJ/dZ for the last one
        for i in reversed(range(self.n_layers)):
            out = (grads[2 * i], grads[2 * i + 1]) if params else None
            # below the last layer dout is layer i+1's fresh da_in: mask it in place
            _, _, dout = layer_backward(dout, caches[i], self.W[i], surrogate=surrogate,
                                        params=params, inputs=i > 0 or inputs, out=out,
                                        inplace=i < self.n_layers - 1, b=self.b[i])
        return grads, dout

    def loss_and_grads(self, x, y, *, update=None):
        """``(loss, grads, logits)``: the batch's mean softmax cross-entropy, its parameter
        gradients (as :meth:`backward` gives them) and the logits: :meth:`forward`, the loss and
        :meth:`backward` of a training step, computed in pieces on the backend's threads by
        :func:`nprelu.threaded_step.loss_and_grads` (``update``: see there)."""
        from .threaded_step import loss_and_grads   # performance code built on this module
        return loss_and_grads(self, x, y, update=update)

    def input_grad(self, x, y, loss="cross_entropy", surrogate=None):
        """``(loss_n, dx)``: each sample's own loss and its input gradient d loss_n / d x_n.

        The one forward -> loss -> backward path of every gradient attack and measure.
        ``loss``: "cross_entropy" (softmax cross-entropy of the label ``y``), "margin"
        (max_{i != y} Z_i - Z_y) or a callable ``(logits, y) -> (loss_n, d loss_n / d logits)``
        (see :mod:`nprelu.losses`; ``loss_n`` is returned as the callable gave it).
        ``surrogate``: None (the true gradient), "relu", "identity", "softplus" (capped layers only).
        """
        loss_fn = get_loss(loss)
        check_surrogate(surrogate)
        logits, caches = self.forward(x)
        loss_n, dlogits = loss_fn(logits, y)
        _, dx = self.backward(dlogits, caches, params=False, inputs=True, surrogate=surrogate)
        return loss_n, dx

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
