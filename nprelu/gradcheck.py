r"""Check every hand-written gradient against central finite differences in float64.

For a scalar function f and a point x, each coordinate's derivative is estimated by::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

and compared with the analytic gradient g by the relative error (cs231n's convention)::

    rel(g, g_num) = max_i |g_i - g_num_i| / max(tiny, max_i |g_i| + |g_num_i|)

A capped ReLU has kinks at 0 and beta where the derivative jumps; a difference that straddles one
is meaningless. :func:`kink_free_network` therefore draws points and shifts biases until every
hidden pre-activation lies at least ``margin`` away from 0 and from its cap, with
``margin >> h * |dz/dx|``.

Run ``python -m nprelu.gradcheck`` for a table of worst relative errors (the capped ReLU's
backward, softmax, cross-entropy, every network gradient through ``MLP.input_grad`` and
``MLP.backward``, and the CW-L2 objective that the attack's loop calls); it exits 1 when any
exceeds its tolerance.
"""
from __future__ import annotations

import sys

from .activations import backward_mask, capped_relu, capped_relu_backward, log_softmax, softmax
from .attacks.cw import cw_objective
from .backend import get_backend, to_host
from .losses import cross_entropy, cross_entropy_per_sample, logit_sum, margin_loss
from .network import MLP, affine_forward

TOLERANCE = 1e-6


def rel_error(a, b, tiny=1e-12) -> float:
    """max |a - b| / max(tiny, max(|a| + |b|)), on the host in float64."""
    a, b = to_host(a).astype("float64"), to_host(b).astype("float64")
    denom = max(tiny, float((abs(a) + abs(b)).max()))
    return float(abs(a - b).max()) / denom


# Central differences err by ~h^2 |f'''| / 6 (truncation) plus ~eps_64 |f| / h (round-off); the
# sum is smallest near h = eps_64^(1/3) ~ 6e-6. With h = 1e-6 the round-off alone reached 1.6e-6
# of a small (1e-4) input gradient, above the 1e-6 tolerance; 1e-5 stays far inside the 1e-3
# margin that kink_free_network keeps from every kink.
H = 1e-5


def numerical_grad(f, x, h=H):
    """Central-difference gradient of the scalar function ``f`` at the float64 array ``x``.

    ``x`` is nudged in place, one entry at a time, and restored; ``f(x)`` is called each time, so
    ``x`` may also be a parameter that ``f`` reads from elsewhere (a network weight).
    """
    flat = x.reshape(-1)
    g = flat.copy()
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + h
        fp = float(f(x))
        flat[i] = old - h
        fm = float(f(x))
        flat[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g.reshape(x.shape)


def min_kink_distance(net, x) -> float:
    """Smallest distance of any hidden pre-activation to a kink (0, or its layer's cap).

    z_{i+1} = a_i W_i + b_i, from the network's own forward pass: its hidden activations a_i and
    the affine part of its layers.
    """
    xp = net.backend.xp
    worst = float("inf")
    for a, W, b, beta in zip([x, *net.hidden(x)], net.W, net.b, net.caps):
        z = affine_forward(a, W, b)
        d = xp.abs(z)
        if beta is not None:
            d = xp.minimum(d, xp.abs(z - beta))
        worst = min(worst, float(d.min()))
    return worst


def kink_free_network(sizes, caps, n, seed, margin=1e-3, tries=200):
    """A float64 network and a batch ``x`` (n rows) with every hidden unit ``margin`` off a kink.

    Redraws the point (and the network's seed) until the condition holds, as Chainer's
    ``dodge_nondifferentiable`` does; raises RuntimeError if it never does.
    """
    be = get_backend("numpy", "float64")
    for k in range(tries):
        net = MLP(sizes, caps, seed=seed + 7919 * k, backend=be)
        rng = be.rng(seed + 104729 * k)
        for b in net.b:
            b[...] = rng.uniform(-0.1, 0.1, size=b.shape)
        x = rng.uniform(0.0, 1.0, size=(n, sizes[0]))
        if min_kink_distance(net, x) > margin:
            return net, x
    raise RuntimeError(f"no kink-free point found for sizes {sizes}, caps {caps}")


def check_network(sizes, caps, n, seed, h=H):
    """Worst relative error of each network gradient: parameters, input (cross-entropy and
    margin losses), a single logit, a full vector-Jacobian product, and the CW-L2 objective."""
    net, x = kink_free_network(sizes, caps, n, seed)
    rng = net.backend.rng(seed + 1)
    y = rng.integers(0, sizes[-1], size=n)
    out = {}

    def loss_of_params(_):
        return cross_entropy(net.logits(x), y)[0]

    _, grads, _ = net.loss_and_grads(x, y)
    out["params (dJ/dW, dJ/db)"] = max(
        rel_error(g, numerical_grad(loss_of_params, p, h))
        for p, g in zip(net.params, grads))

    _, dx = net.input_grad(x, y)
    out["input (d loss_n / d x_n)"] = rel_error(
        dx, numerical_grad(lambda xx: cross_entropy_per_sample(net.logits(xx), y)[0].sum(), x, h))

    _, dm = net.input_grad(x, y, loss="margin")
    out["margin (d m_n / d x_n)"] = rel_error(
        dm, numerical_grad(lambda xx: margin_loss(net.logits(xx), y)[0].sum(), x, h))

    k = int(rng.integers(0, sizes[-1]))
    onehot = net.backend.xp.zeros((n, sizes[-1]))
    onehot[:, k] = 1.0
    _, dz = net.input_grad(x, y, loss=logit_sum(onehot))
    out["single logit (dZ_k / dx)"] = rel_error(
        dz, numerical_grad(lambda xx: net.logits(xx)[:, k].sum(), x, h))

    upstream = rng.normal(size=(n, sizes[-1]))
    logits, caches = net.forward(x)
    grads, dx = net.backward(upstream, caches, params=True, inputs=True)
    jvp_err = rel_error(dx, numerical_grad(lambda xx: (net.logits(xx) * upstream).sum(), x, h))
    for p, g in zip(net.params, grads):
        jvp_err = max(jvp_err, rel_error(g, numerical_grad(lambda _: (net.logits(x) * upstream).sum(), p, h)))
    out["backward(random upstream)"] = jvp_err

    # the CW-L2 objective the attack's loop calls, at w with x'(w) = x (a kink-free point)
    w = net.backend.xp.arctanh(2.0 * x - 1.0)
    x0 = rng.uniform(0.0, 1.0, size=x.shape)
    c = rng.uniform(0.1, 5.0, size=n)
    out["CW-L2 objective (dL/dw)"] = max(
        rel_error(cw_objective(net, w, x0, y, c, kappa).grad,
                  numerical_grad(lambda ww: cw_objective(net, ww, x0, y, c, kappa).loss.sum(), w, h))
        for kappa in (0.0, 100.0))
    return out


def check_activations(seed=0, h=H):
    """Worst relative errors of the capped ReLU's backward and of the softmax and loss gradients."""
    be = get_backend("numpy", "float64")
    rng = be.rng(seed)
    beta = 0.7
    z = rng.uniform(-1.0, 1.5, size=(4, 6))
    z[abs(z) < 1e-3] += 0.01
    z[abs(z - beta) < 1e-3] += 0.01
    up = rng.normal(size=z.shape)
    out = {}
    for name, cap in (("relu mask", None), ("capped relu mask", beta)):
        num = numerical_grad(lambda zz: (capped_relu(zz, cap) * up).sum(), z, h)
        # the backward pass's own pair: the mask read from the output a, then dout * mask
        mask = backward_mask(capped_relu(z, cap), cap)
        out[name] = rel_error(capped_relu_backward(up, mask), num)
    y = rng.integers(0, 6, size=4)
    _, g = cross_entropy(z, y)
    out["softmax cross-entropy"] = rel_error(g, numerical_grad(lambda zz: cross_entropy(zz, y)[0], z, h))
    p = softmax(z)
    jac_vec = p * (up - (p * up).sum(axis=1, keepdims=True))  # J_softmax^T up
    out["softmax"] = rel_error(jac_vec, numerical_grad(lambda zz: (softmax(zz) * up).sum(), z, h))
    out["log_softmax"] = rel_error(
        up - softmax(z) * up.sum(axis=1, keepdims=True),
        numerical_grad(lambda zz: (log_softmax(zz) * up).sum(), z, h))
    return out


CASES = (
    ([5, 4, 3], [None]),
    ([5, 4, 3], [0.5]),
    ([6, 5, 4, 3], [None, 0.3]),
    ([6, 5, 4, 3], [0.4, None]),
    ([7, 6, 5, 4, 3], [0.5, 0.4, 0.3]),
)


def run(stream=None) -> int:
    """Print the table of worst errors; 0 when all are within :data:`TOLERANCE`, else 1."""
    stream = stream or sys.stdout
    worst = dict(check_activations())
    for seed, (sizes, caps) in enumerate(CASES):
        for name, err in check_network(sizes, caps, n=3, seed=seed).items():
            worst[name] = max(worst.get(name, 0.0), err)
    width = max(len(k) for k in worst)
    stream.write(f"{'gradient':<{width}}  worst rel. error  (tolerance {TOLERANCE:g})\n")
    failed = False
    for name, err in worst.items():
        ok = err <= TOLERANCE
        failed |= not ok
        stream.write(f"{name:<{width}}  {err:16.3e}  {'ok' if ok else 'FAIL'}\n")
    stream.write("all gradients match\n" if not failed else "some gradients do NOT match\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
