"""The one place that knows which array library is in use.

Every compute module asks this module for its array module ``xp`` (NumPy or CuPy) and never
imports either library itself. The choice comes from an argument or the ``NPRELU_BACKEND``
environment variable (``numpy``, the default, or ``cupy``).

Random numbers are always drawn on the host with NumPy's PCG64 generator and then moved to the
device. That costs a copy, but it makes a seed mean the same weights, shuffles and random starts
on both backends, which is what lets a test compare a CuPy run against a NumPy run.

Threads (:attr:`Backend.threads`): on the CPU a long attack, an evaluation or a training step
can split its work over several Python threads (:mod:`nprelu.parallel`), NumPy releasing the GIL
inside its matrix products and its loops over large arrays. That only pays when each thread's
matrix products run on one core: a BLAS that threads each product itself would put two threads
on each core. ``NPRELU_THREADS`` sets the count; without it, it is the number of cores this
process may use when the environment limits the BLAS to one thread (``OPENBLAS_NUM_THREADS=1``,
as ``run_all.py``'s worker processes and the benchmarks set it), and 1 otherwise, so that the
BLAS keeps both cores. CuPy always uses 1. The thread count never changes a result: the work is
cut into the same pieces whatever the count (:mod:`nprelu.parallel`).

Pieces (:attr:`Backend.block_rows`): on the CPU a long attack runs its rows in blocks of
:data:`BLOCK_ROWS` (1.6 MB per 784-wide float32 array, near a core's 2 MB L2 cache: PGD-10 on
10,000 images ran 1.2x to 1.5x faster so, on one core) and a training step in a few pieces; on a
GPU, where each array operation costs a kernel launch, a batch stays one piece (``block_rows``
None).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import numpy

BACKENDS = ("numpy", "cupy")
DTYPES = ("float32", "float64")
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BLOCK_ROWS = 512  # rows per block of a long attack on the CPU (nprelu.parallel)


class BackendError(RuntimeError):
    """The requested array library or dtype cannot be used."""


def _import_cupy() -> ModuleType:
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # ImportError, or a CUDA driver error raised on first use
        raise BackendError(
            "backend 'cupy' was requested but CuPy cannot be used here "
            f"({type(exc).__name__}: {exc}); on a machine with an NVIDIA GPU, install it with "
            "`pip install -e \".[gpu]\"` (CUDA 13) or `pip install cupy-cuda12x` (CUDA 12), "
            "or compute on the CPU with --backend numpy"
        ) from exc
    return cupy


@dataclass(frozen=True)
class Backend:
    """An array module with the dtype the hot path computes in.

    ``xp`` is ``numpy`` or ``cupy``; ``dtype`` is float32 for training and attacks, float64 for
    gradient checks; ``threads``: how many Python threads may share one computation;
    ``block_rows``: rows per piece of a long computation, None for one piece (module doc).
    """

    name: str
    xp: ModuleType
    dtype: numpy.dtype
    threads: int = 1
    block_rows: int | None = None

    def asarray(self, a, dtype=None):
        """``a`` on this backend's device; floating arrays take the backend's dtype."""
        if dtype is None:
            a_dtype = getattr(a, "dtype", None)
            is_float = a_dtype is None or numpy.dtype(a_dtype).kind == "f"
            dtype = self.dtype if is_float else a_dtype
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a) -> numpy.ndarray:
        """A NumPy copy (or view, on the NumPy backend) of a device array."""
        return to_host(a)

    def rng(self, seed) -> numpy.random.Generator:
        """A host generator; move its draws with :meth:`asarray`."""
        return numpy.random.default_rng(seed)

    def synchronize(self) -> None:
        """Wait for queued device work, so that a clock read afterwards means something."""
        if self.name == "cupy":
            self.xp.cuda.get_current_stream().synchronize()


def get_backend(name: str | None = None, dtype="float32", threads: int | None = None) -> Backend:
    """The backend called ``name`` (default: ``$NPRELU_BACKEND``, else ``numpy``).

    ``threads``: Python threads per computation (default: ``$NPRELU_THREADS``, else as the
    module doc says); always 1 on CuPy.
    """
    name = (name or os.environ.get("NPRELU_BACKEND") or "numpy").strip().lower()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    dt = numpy.dtype(dtype)
    if dt.name not in DTYPES:
        raise BackendError(f"unsupported dtype {dt.name!r}: choose one of {', '.join(DTYPES)}")
    if name == "numpy":
        return Backend(name, numpy, dt, _thread_count(threads), BLOCK_ROWS)
    return Backend(name, _import_cupy(), dt, 1, None)


def _thread_count(threads) -> int:
    """``threads``, else ``$NPRELU_THREADS``, else the cores this process may use if the BLAS is
    limited to one thread, else 1; BackendError unless it is an integer >= 1."""
    source = "threads"
    if threads is None and os.environ.get("NPRELU_THREADS", "").strip():
        threads, source = os.environ["NPRELU_THREADS"].strip(), "NPRELU_THREADS"
    if threads is None:
        single = any(os.environ.get(v, "").strip() == "1" for v in BLAS_THREAD_VARIABLES)
        return cpu_count() if single else 1
    try:
        count = int(threads)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or isinstance(threads, bool) or str(count) != str(threads).strip():
        raise BackendError(f"{source} must be an integer >= 1, got {threads!r}")
    return count


def cpu_count() -> int:
    """The number of cores this process may run on (its CPU affinity, where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def array_module(a) -> ModuleType:
    """The array module that owns ``a`` (``cupy`` for a CuPy array, else ``numpy``)."""
    return numpy if isinstance(a, numpy.ndarray) or numpy.isscalar(a) else _module_of(a)


def _module_of(a) -> ModuleType:
    module = type(a).__module__.split(".")[0]
    if module == "cupy":
        import cupy
        return cupy
    return numpy


def to_host(a) -> numpy.ndarray:
    """A NumPy array with the contents of ``a``, wherever ``a`` lives."""
    if isinstance(a, numpy.ndarray):
        return a
    get = getattr(a, "get", None)
    return get() if callable(get) else numpy.asarray(a)
