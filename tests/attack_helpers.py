"""Helpers shared by the attack tests (test_attacks.py, test_adaptive.py)."""
import numpy as np

from nprelu.backend import get_backend
from nprelu.network import MLP

F64 = get_backend("numpy", "float64")


def host(a):
    return get_backend("numpy").to_host(a)


def random_batch(be, n, d, seed, lo=0.0, hi=1.0, k=3):
    """``n`` inputs uniform in [lo, hi]^d and labels in 0..k-1, on the backend ``be``."""
    rng = np.random.default_rng(seed)
    return be.asarray(rng.uniform(lo, hi, size=(n, d))), be.xp.asarray(rng.integers(0, k, size=n))


def saturated_net(be=F64, d=5):
    """One hidden layer capped at 0.1 whose bias (100) puts every unit above the cap for x in
    [0, 1]^d: the true input gradient is exactly zero everywhere and the output is constant."""
    net = MLP([d, 4, 3], [0.1], seed=1, backend=be)
    net.b[0][...] = 100.0
    return net


def rowwise_products(monkeypatch):
    """Make every matrix product of the networks' forward and input-gradient passes row by row
    (one (1, K) product per row, on a fresh copy), so that a row's numbers never depend on the
    other rows of its batch nor on its place there. A BLAS rounds a row of a batched product
    differently at another place in a batch of another shape (last bits; measured with
    OpenBLAS 0.3.31), which would hide what a per-image test checks: the attacks' own
    arithmetic and random draws."""
    import nprelu.network as network
    original = network.layer_backward

    def rows(a, W):
        xp = network.array_module(a)
        out = xp.empty((a.shape[0], W.shape[1]), dtype=np.result_type(a.dtype, W.dtype))
        for i in range(a.shape[0]):
            out[i] = xp.matmul(a[i:i + 1].copy(), W)[0]
        return out

    def affine_forward(a, W, b, out=None):
        z = rows(a, W)
        z += b
        if out is not None:
            out[...] = z
            return out
        return z

    def layer_backward(dout, cache, W, *, surrogate=None, params=True, inputs=True, out=None,
                       inplace=False, b=None):
        a_in, a_out, beta = cache
        delta = dout
        if a_out is not None:
            z = affine_forward(a_in, W, b) if surrogate in network.SMOOTH_SURROGATES and beta \
                else None
            delta = network.capped_relu_backward(dout.copy(), network.backward_mask(
                a_out, beta, surrogate, z))
        dW, db, _ = original(delta, (a_in, None, None), W, params=params, inputs=False, out=out)
        return dW, db, (rows(delta, W.T.copy()) if inputs else None)

    monkeypatch.setattr(network, "affine_forward", affine_forward)
    monkeypatch.setattr(network, "layer_backward", layer_backward)


def counting(net, log):
    """Wrap ``net.input_grad`` to add each call's rows to ``log`` (gradient evaluations)."""
    inner = net.input_grad

    def input_grad(x, y, loss="cross_entropy", surrogate=None):
        log.append(len(x))
        return inner(x, y, loss=loss, surrogate=surrogate)
    net.input_grad = input_grad
    return net
