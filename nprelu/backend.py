"""The one place that knows which array library is in use.

Every compute module asks this module for its array module ``xp`` (NumPy or CuPy) and never
imports either library itself. The choice comes from an argument or the ``NPRELU_BACKEND``
environment variable (``numpy``, the default, or ``cupy``).

Random numbers are always drawn on the host with NumPy's PCG64 generator and then moved to the
device. That costs a copy, but it makes a seed mean the same weights, shuffles and random starts
on both backends, which is what lets a test compare a CuPy run against a NumPy run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import numpy

BACKENDS = ("numpy", "cupy")
DTYPES = ("float32", "float64")


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
    gradient checks.
    """

    name: str
    xp: ModuleType
    dtype: numpy.dtype

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


def get_backend(name: str | None = None, dtype="float32") -> Backend:
    """The backend called ``name`` (default: ``$NPRELU_BACKEND``, else ``numpy``)."""
    name = (name or os.environ.get("NPRELU_BACKEND") or "numpy").strip().lower()
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    dt = numpy.dtype(dtype)
    if dt.name not in DTYPES:
        raise BackendError(f"unsupported dtype {dt.name!r}: choose one of {', '.join(DTYPES)}")
    xp = numpy if name == "numpy" else _import_cupy()
    return Backend(name, xp, dt)


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
