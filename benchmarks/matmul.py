"""The float32 matrix-multiply rate of this machine, measured in the same run as a benchmark.

Every speed figure of the project is reported as a fraction of this rate, so that a noisy,
shared machine compares against itself.
"""
from __future__ import annotations

import time


def best_seconds(fn, backend, repeats=5, min_time=0.2):
    """The best mean time of ``fn()`` over ``repeats`` rounds of at least ``min_time`` seconds."""
    fn()
    backend.synchronize()
    best = float("inf")
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            backend.synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / n)
    return best


def matmul_gflops(backend, m=4096, k=4096, n=4096) -> float:
    """GFLOP/s of an (m x k) @ (k x n) float32 product, the best of a few rounds."""
    rng = backend.rng(0)
    a = backend.asarray(rng.random((m, k)), dtype="float32")
    b = backend.asarray(rng.random((k, n)), dtype="float32")
    return 2.0 * m * k * n / best_seconds(lambda: a @ b, backend) / 1e9
