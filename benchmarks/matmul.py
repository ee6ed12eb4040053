"""The float32 matrix-multiply rate of this machine, measured in the same run as a benchmark.

Every speed figure of the project is reported as a fraction of this rate, so that a noisy,
shared machine compares against itself.
"""
from __future__ import annotations

import os
import statistics
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


def median_seconds(fn, backend, repeats=5):
    """``(median, best)`` seconds of single calls of ``fn()`` after one warm-up call.

    The median says what a run on a shared machine costs; the best approaches a quiet machine,
    which is what :func:`matmul_gflops` measures too.
    """
    fn()
    backend.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        backend.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def blas_threads() -> str:
    """The BLAS thread setting this process started with, as the environment states it."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return f"{var}={os.environ[var]}"
    return f"BLAS default (up to {os.cpu_count()} threads)"


def matmul_gflops(backend, m=4096, k=4096, n=4096) -> float:
    """GFLOP/s of an (m x k) @ (k x n) float32 product, the best of a few rounds."""
    rng = backend.rng(0)
    a = backend.asarray(rng.random((m, k)), dtype="float32")
    b = backend.asarray(rng.random((k, n)), dtype="float32")
    return 2.0 * m * k * n / best_seconds(lambda: a @ b, backend) / 1e9
