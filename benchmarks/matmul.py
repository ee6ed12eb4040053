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


BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def paired_seconds(ours, theirs, backend, repeats=5):
    """``(ours_times, theirs_times)``: single calls of ``ours()`` and ``theirs()`` in turn, after
    one warm-up call each, so that both meet the same load on a shared machine."""
    ours()
    theirs()
    a, b = [], []
    for _ in range(repeats):
        backend.synchronize()
        start = time.perf_counter()
        ours()
        backend.synchronize()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs()
        b.append(time.perf_counter() - start)
    return a, b


def blas_threads() -> str:
    """The BLAS thread setting this process started with, as the environment states it."""
    for var in BLAS_VARIABLES:
        if os.environ.get(var):
            return f"{var}={os.environ[var]}"
    return f"BLAS default (up to {os.cpu_count()} threads)"


def cores_used(backend) -> int:
    """The cores a computation of this process keeps busy: its Python threads times the BLAS
    threads of each (as the environment states them), at most the machine's cores. The
    PyTorch comparisons run with as many threads."""
    cores = os.cpu_count() or 1
    blas = next((int(os.environ[v]) for v in BLAS_VARIABLES if os.environ.get(v, "").isdigit()),
                cores)
    return max(1, min(cores, backend.threads * blas))


def setting(backend) -> str:
    """This process's thread setting in words, for the benchmarks' first line."""
    return f"{blas_threads()}, {backend.threads} Python thread(s) per computation"


def matmul_gflops(backend, m=4096, k=4096, n=4096) -> float:
    """GFLOP/s of an (m x k) @ (k x n) float32 product, the best of a few rounds: the rate the
    benchmarks compare against. With ``backend.threads`` > 1 the rows of the product are split
    over that many threads (nprelu.parallel), as the attacks split theirs, so the rate is that
    of all the cores the computation uses."""
    from nprelu.parallel import row_blocks, run
    rng = backend.rng(0)
    a = backend.asarray(rng.random((m, k)), dtype="float32")
    b = backend.asarray(rng.random((k, n)), dtype="float32")
    c = backend.xp.empty((m, n), dtype="float32")
    parts = row_blocks(m, -(-m // backend.threads))

    def product():
        run([lambda r=r: backend.xp.matmul(a[r], b, out=c[r]) for r in parts], backend.threads)
    return 2.0 * m * k * n / best_seconds(product, backend) / 1e9
