"""Checks shared by every layer (training, attacks, measures): scalar settings, finite arrays
and the host memory a computation is about to take.

A setting that is out of range raises a ValueError naming the argument, the bad value and the
valid range, before any work is done: ``eps = -0.1`` must not become a step of |eps|, and
``steps = 2.7`` must not become 2. An array that must be finite and is not raises a ValueError
naming it and its first bad entry (:func:`check_finite`). A computation whose estimated memory
exceeds what the host has available is refused with :class:`InsufficientMemoryError` before it
allocates (:func:`check_memory`), instead of a raw allocation failure midway.
"""
from __future__ import annotations

import math
import os

from .backend import array_module


class InsufficientMemoryError(MemoryError):
    """A computation refused before it started: its estimated memory exceeds what is available."""


def check_real(name, value, low=None, high=None, *, low_open=False, high_open=False) -> float:
    """``value`` as a Python float; ValueError naming ``name`` and ``value`` unless it is a finite
    real number (not a bool or a string) in the interval from ``low`` to ``high`` (None:
    unbounded; ``low_open`` / ``high_open``: the bound itself excluded)."""
    ok = not isinstance(value, (bool, str, bytes))
    try:
        v = float(value)
    except (TypeError, ValueError):
        ok = False
    else:
        ok = ok and math.isfinite(v)
        ok = ok and (low is None or (v > low if low_open else v >= low))
        ok = ok and (high is None or (v < high if high_open else v <= high))
    if not ok:
        interval = _interval(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number {interval}, got {_show(value)}")
    return v


def check_int(name, value, low=1) -> int:
    """``value`` as a Python int; ValueError naming ``name`` and ``value`` unless it is an integer
    (3, 3.0 or a NumPy integer; not 2.5, "3", nor a bool) >= ``low``."""
    try:
        ok = (not isinstance(value, (bool, str, bytes)) and float(value) == int(value)
              and int(value) >= low)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {low}, got {_show(value)}")
    return int(value)


def _interval(low, high, low_open, high_open) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _show(value) -> str:
    """``value`` for a message: NumPy and CuPy scalars as the Python number they hold."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "size", None) == 1:
        value = item()
    return repr(value)


def check_finite(x, name="x"):
    """``x`` itself; ValueError naming ``name`` and its first NaN or infinite entry when the
    floating array ``x`` holds one (one ``isfinite(...).all()`` pass; integer arrays and
    non-arrays pass untouched, for the caller's own shape checks)."""
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind not in ("f", "c") or x.size == 0:
        return x
    xp = array_module(x)
    if bool(xp.isfinite(x).all()):
        return x
    bad = ~xp.isfinite(x)
    count = int(bad.sum())
    first = tuple(int(i) for i in xp.unravel_index(int(bad.ravel().nonzero()[0][0]), x.shape))
    where = ", ".join(map(str, first))
    raise ValueError(f"{name} must be finite: {count} entr{'y is' if count == 1 else 'ies are'} "
                     f"NaN or infinite, the first {name}[{where}] = {x[first].item()}")


def available_memory() -> int:
    """Bytes of host memory available now: ``MemAvailable`` of ``/proc/meminfo`` (free memory
    plus what the kernel can reclaim, Linux), else the free pages ``SC_AVPHYS_PAGES`` times the
    page size; a very large number where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_memory(what: str, nbytes: int) -> None:
    """InsufficientMemoryError naming ``what`` unless ``nbytes`` (an estimate made before any
    allocation) fits in :func:`available_memory`."""
    free = available_memory()
    if nbytes > free:
        raise InsufficientMemoryError(
            f"{what} needs about {_bytes(nbytes)} of memory, but only {_bytes(free)} is "
            "available: attack fewer rows at a time (a smaller batch x) or free memory")


def _bytes(n: int) -> str:
    """``n`` bytes in binary units, e.g. "7.28 TiB", "21,000 TiB"."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.3g} {unit}" if n < 1000 else f"{n:,.0f} {unit}"
