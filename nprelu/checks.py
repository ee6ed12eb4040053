"""Checks of scalar settings shared by every layer (training, attacks, measures).

A setting that is out of range raises a ValueError naming the argument, the bad value and the
valid range, before any work is done: ``eps = -0.1`` must not become a step of |eps|, and
``steps = 2.7`` must not become 2.
"""
from __future__ import annotations

import math


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
