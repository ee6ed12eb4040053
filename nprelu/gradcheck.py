r"""Check every hand-written gradient against central finite differences in float64.

For a scalar function f and a point x, each coordinate's derivative is estimated by::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

and compared with the analytic gradient g by the relative error (cs231n's convention)::

    rel(g, g_num) = max_i |g_i - g_num_i| / max(tiny, max_i |g_i| + |g_num_i|)

A capped ReLU has kinks at 0 and beta where the derivative jumps; a difference that straddles one
is meaningless. :func:`kink_free_network` therefore draws points and shifts biases until every
hidden pre-activation lies at least ``margin`` away from 0 and from its cap, with
``margin >> h * |dz/dx|``.

Every loss the attacks differentiate is checked twice: on its own, on logits (a row per
function of :mod:`nprelu.losses` that returns a gradient: cross-entropy, margin, DLR, targeted
DLR, logit sum), and through a network by ``MLP.input_grad`` (cross-entropy, margin, DLR,
targeted DLR, a single logit). The losses with a kink where logits tie (margin, DLR) are checked
at points whose logits lie ``logit_gap`` apart.

A BPDA surrogate (``input_grad(..., surrogate=s)``) is the true gradient of a network whose
capped units compute, around the point x (pre-activations z0 there)::

    a(z) = a(z0, beta) + S(z) - S(z0),   S = relu (max(0, z)), identity (z) or
                                          softplus (s_k(z), activations' smooth capped unit)

the real network's values at x with S's derivative in the backward pass (straight-through), so
each surrogate is checked against the finite differences of that network.

Run ``python -m nprelu.gradcheck`` for a table of worst relative errors (the capped ReLU's
backward, softmax, every loss, every network gradient through ``MLP.input_grad`` and
``MLP.backward``, each BPDA surrogate, and the CW-L2 objective that the attack's loop calls); it
exits 1 when any exceeds its tolerance.
"""
from __future__ import annotations

import sys

from .activations import (SMOOTH_SURROGATES, SOFTPLUS_K, SURROGATES, backward_mask, capped_relu,
                          capped_relu_backward, log_softmax, softmax)
from .attacks.cw import cw_objective
from .backend import get_backend, to_host
from .losses import (cross_entropy, cross_entropy_per_sample, dlr_loss, logit_sum, margin_loss,
                     targeted_dlr_loss)
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


def min_logit_gap(net, x) -> float:
    """Smallest distance between two logits of a row (where margin and DLR losses have kinks)."""
    xp = net.backend.xp
    z = xp.sort(net.logits(x), axis=1)
    return float((z[:, 1:] - z[:, :-1]).min())


def kink_free_network(sizes, caps, n, seed, margin=1e-3, tries=200, logit_gap=None):
    """A float64 network and a batch ``x`` (n rows) with every hidden unit ``margin`` off a kink
    (and, with ``logit_gap``, every two logits of a row at least that far apart).

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
        if min_kink_distance(net, x) > margin and (
                logit_gap is None or min_logit_gap(net, x) > logit_gap):
            return net, x
    raise RuntimeError(f"no kink-free point found for sizes {sizes}, caps {caps}")


#: Every two logits of a row at least this far apart where the losses with kinks at ties (margin,
#: DLR) are differentiated through a network; far above h * |dZ/dx| ~ 1e-5.
LOGIT_GAP = 1e-2


def _other_class(rng, y, k):
    """A class per row other than ``y`` (uniform over the other k - 1)."""
    return (y + 1 + rng.integers(0, k - 1, size=y.shape)) % k


def check_network(sizes, caps, n, seed, h=H):
    """Worst relative error of each network gradient: parameters, input (cross-entropy, margin,
    DLR and targeted DLR losses, a single logit), a full vector-Jacobian product, each BPDA
    surrogate, and the CW-L2 objective. Needs at least 4 classes (targeted DLR)."""
    net, x = kink_free_network(sizes, caps, n, seed, logit_gap=LOGIT_GAP)
    rng = net.backend.rng(seed + 1)
    k = sizes[-1]
    y = rng.integers(0, k, size=n)
    out = {}

    def loss_of_params(_):
        return cross_entropy(net.logits(x), y)[0]

    _, grads, _ = net.loss_and_grads(x, y)
    out["params (dJ/dW, dJ/db)"] = max(
        rel_error(g, numerical_grad(loss_of_params, p, h))
        for p, g in zip(net.params, grads))

    t = _other_class(rng, y, k)
    onehot = net.backend.xp.zeros((n, k))
    onehot[:, int(rng.integers(0, k))] = 1.0
    inputs = (("cross-entropy (d loss_n / d x_n)", cross_entropy_per_sample),
              ("margin (d m_n / d x_n)", margin_loss),
              ("DLR (d L_n / d x_n)", dlr_loss),
              ("targeted DLR (d L_n / d x_n)", lambda z, yy: targeted_dlr_loss(z, yy, t)),
              ("single logit (dZ_k / dx)", logit_sum(onehot)))
    for name, loss in inputs:
        _, dx = net.input_grad(x, y, loss=loss)
        out[f"input, {name}"] = rel_error(
            dx, numerical_grad(lambda xx: loss(net.logits(xx), y)[0].sum(), x, h))

    upstream = rng.normal(size=(n, k))
    logits, caches = net.forward(x)
    grads, dx = net.backward(upstream, caches, params=True, inputs=True)
    jvp_err = rel_error(dx, numerical_grad(lambda xx: (net.logits(xx) * upstream).sum(), x, h))
    for p, g in zip(net.params, grads):
        jvp_err = max(jvp_err, rel_error(g, numerical_grad(lambda _: (net.logits(x) * upstream).sum(), p, h)))
    out["backward(random upstream)"] = jvp_err
    out.update(check_surrogates(net, x, y, h))

    # the CW-L2 objective the attack's loop calls, at w with x'(w) = x (a kink-free point)
    w = net.backend.xp.arctanh(2.0 * x - 1.0)
    x0 = rng.uniform(0.0, 1.0, size=x.shape)
    c = rng.uniform(0.1, 5.0, size=n)
    out["CW-L2 objective (dL/dw)"] = max(
        rel_error(cw_objective(net, w, x0, y, c, kappa).grad,
                  numerical_grad(lambda ww: cw_objective(net, ww, x0, y, c, kappa).loss.sum(), w, h))
        for kappa in (0.0, 100.0))
    return out


# --------------------------------------------------------------------------- BPDA surrogates

def _smooth_unit(z, beta, k=SOFTPLUS_K):
    """s_k(z) = (softplus(k z) - softplus(k (z - beta))) / k, whose derivative is the softplus
    surrogate (:func:`nprelu.activations.smooth_cap_derivative`)."""
    xp = get_backend("numpy", "float64").xp
    return (xp.logaddexp(0.0, k * z) - xp.logaddexp(0.0, k * (z - beta))) / k


#: S(z) of each surrogate: the function whose derivative the backward pass uses (module doc).
SURROGATE_UNITS = {"relu": lambda z, beta: capped_relu(z, None),
                   "identity": lambda z, beta: z,
                   "softplus": _smooth_unit}


def straight_through_logits(net, x, z0, unit):
    """Logits of ``net`` with each capped unit a(z0, beta) + S(z) - S(z0) (module doc); ``z0``:
    the pre-activations of every hidden layer at the point the surrogate is taken."""
    a = x
    for i, (W, b) in enumerate(zip(net.W, net.b)):
        z = affine_forward(a, W, b)
        if i == len(net.W) - 1:
            return z
        beta = net.caps[i]
        a = (capped_relu(z, None) if beta is None else
             capped_relu(z0[i], beta) + unit(z, beta) - unit(z0[i], beta))


def check_surrogates(net, x, y, h=H):
    """Each BPDA surrogate's input gradient (cross-entropy) against the finite differences of
    the straight-through network it is the gradient of."""
    z0, a = [], x
    for W, b, beta in zip(net.W, net.b, net.caps):
        z0.append(affine_forward(a, W, b))
        a = capped_relu(z0[-1], beta)
    out = {}
    for s in SURROGATES + SMOOTH_SURROGATES:
        _, dx = net.input_grad(x, y, surrogate=s)
        num = numerical_grad(lambda xx: cross_entropy_per_sample(
            straight_through_logits(net, xx, z0, SURROGATE_UNITS[s]), y)[0].sum(), x, h)
        out[f"BPDA {s} surrogate (straight-through)"] = rel_error(dx, num)
    return out


# --------------------------------------------------------------------------- on logits

def check_losses(seed=0, n=5, k=6, h=H):
    """Each loss of :mod:`nprelu.losses` with a gradient, against finite differences on logits
    whose values in a row lie at least 0.3 apart (away from the ties where margin and DLR have
    kinks); one row per function, named ``losses.<function>``."""
    be = get_backend("numpy", "float64")
    rng = be.rng(seed)
    z = be.xp.stack([rng.permutation(k) * 0.5 + rng.uniform(-0.1, 0.1, size=k)
                     for _ in range(n)]) - 1.0
    y = rng.integers(0, k, size=n)
    t = _other_class(rng, y, k)
    w = rng.normal(size=(n, k))
    per_row = (("cross_entropy_per_sample (d loss_n / dZ)", cross_entropy_per_sample),
               ("margin_loss (d m_n / dZ)", margin_loss),
               ("dlr_loss (d L_n / dZ)", dlr_loss),
               ("targeted_dlr_loss (d L_n / dZ)", lambda zz, yy: targeted_dlr_loss(zz, yy, t)),
               ("logit_sum (d s_n / dZ)", logit_sum(w)))
    out = {"losses.cross_entropy (d mean / dZ)": rel_error(
        cross_entropy(z, y)[1], numerical_grad(lambda zz: cross_entropy(zz, y)[0], z, h))}
    for name, loss in per_row:
        out[f"losses.{name}"] = rel_error(
            loss(z, y)[1], numerical_grad(lambda zz: loss(zz, y)[0].sum(), z, h))
    return out


def check_activations(seed=0, h=H):
    """Worst relative errors of the capped ReLU's backward and of the softmax's."""
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
    p = softmax(z)
    jac_vec = p * (up - (p * up).sum(axis=1, keepdims=True))  # J_softmax^T up
    out["softmax"] = rel_error(jac_vec, numerical_grad(lambda zz: (softmax(zz) * up).sum(), z, h))
    out["log_softmax"] = rel_error(
        up - softmax(z) * up.sum(axis=1, keepdims=True),
        numerical_grad(lambda zz: (log_softmax(zz) * up).sum(), z, h))
    return out


CASES = (
    ([5, 4, 4], [None]),
    ([5, 4, 4], [0.5]),
    ([6, 5, 4, 5], [None, 0.3]),
    ([6, 5, 4, 4], [0.4, None]),
    ([7, 6, 5, 4, 5], [0.5, 0.4, 0.3]),
)


def worst_errors() -> dict:
    """Every row of the table: its name and its worst relative error over :data:`CASES`."""
    worst = {**check_activations(), **check_losses()}
    for seed, (sizes, caps) in enumerate(CASES):
        for name, err in check_network(sizes, caps, n=3, seed=seed).items():
            worst[name] = max(worst.get(name, 0.0), err)
    return worst


def run(stream=None) -> int:
    """Print the table of worst errors; 0 when all are within :data:`TOLERANCE`, else 1."""
    stream = stream or sys.stdout
    worst = worst_errors()
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
