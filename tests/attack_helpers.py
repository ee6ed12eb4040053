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
