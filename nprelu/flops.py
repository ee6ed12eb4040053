r"""The useful work of a run: the floating-point operations of its matrix products, counted.

A dense layer i with W_i of shape (fan_in_i, fan_out_i) costs, for a batch of N rows, one
product of N x fan_in_i by fan_in_i x fan_out_i: N fan_in_i fan_out_i multiply-adds, counted
as 2 N fan_in_i fan_out_i operations. What the math of a pass needs::

    forward                     2 N sum_i fan_in_i fan_out_i          z_{i+1} = a_i W_i
    parameter gradients         2 N sum_i fan_in_i fan_out_i          dW_i = a_i^T delta_{i+1}
    input-side gradients        2 N sum_{i >= 1} fan_in_i fan_out_i   da_i = delta_{i+1} W_i^T
      and, when dJ/dx is wanted, the first layer's too                dx = delta_1 W_0^T

Training needs the forward pass, the parameter gradients and the input-side gradients of
every layer but the first; an attack needs the forward pass and every input-side gradient,
the first layer's included, and no parameter gradient. Elementwise work (masks, softmax,
Adam, clipping) is not counted: the count is the work a perfect matrix-product engine could
not avoid, and its rate against the matrix-product rate says how much else costs.

The counter is per process and thread-safe (an attack may split its batch over threads);
``nprelu.network.MLP`` calls :func:`count_forward` and :func:`count_backward` once per pass.
A leaf module: it imports nothing from nprelu.
"""
from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_total = 0


def add(n: int) -> None:
    """Count ``n`` more floating-point operations in this process."""
    global _total
    with _lock:
        _total += int(n)


def read() -> int:
    """Operations counted in this process since it started (or since :func:`reset`)."""
    with _lock:
        return _total


def reset() -> None:
    """Start counting from zero again."""
    global _total
    with _lock:
        _total = 0


def macs(sizes) -> int:
    """Multiply-adds of one row through a dense network of layer widths ``sizes``:
    sum_i fan_in_i fan_out_i."""
    sizes = [int(s) for s in sizes]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def forward_flops(sizes, n: int) -> int:
    """A forward pass of ``n`` rows: 2 n sum_i fan_in_i fan_out_i."""
    return 2 * int(n) * macs(sizes)


def backward_flops(sizes, n: int, *, params: bool, inputs: bool) -> int:
    """A backward pass of ``n`` rows (module doc): the parameter gradients when ``params``,
    the input-side gradients of every layer but the first, and the first layer's (dJ/dx)
    when ``inputs``."""
    total, first = macs(sizes), int(sizes[0]) * int(sizes[1])
    work = (total if params else 0) + (total if inputs else total - first)
    return 2 * int(n) * work


def count_forward(sizes, n: int) -> None:
    """Count a forward pass of ``n`` rows through a network of widths ``sizes``."""
    add(forward_flops(sizes, n))


def count_backward(sizes, n: int, *, params: bool, inputs: bool) -> None:
    """Count a backward pass of ``n`` rows (see :func:`backward_flops`)."""
    add(backward_flops(sizes, n, params=params, inputs=inputs))


def matmul_rate(xp, dtype="float32", synchronize=None, n: int = 1536, repeats: int = 3) -> float:
    """The matrix-product rate of this process now, in FLOP/s: the best of ``repeats`` timed
    products of two n x n matrices of ``dtype`` (2 n^3 operations each, about 50 ms on one CPU
    core at n = 1536) with the array module ``xp``, after one untimed product.
    ``synchronize``: called before each clock read (a GPU's queue). Not counted by :func:`add`.

    What the run's useful operations are measured against: a unit that did ``f`` of them in
    ``t`` seconds ran at ``f / (t * rate)`` of this rate (``meta.matmul_capacity``)."""
    sync = synchronize or (lambda: None)
    a = xp.ones((n, n), dtype=dtype)
    b = a @ a
    best = float("inf")
    for _ in range(max(int(repeats), 1)):
        sync()
        start = time.perf_counter()
        b = a @ a
        sync()
        best = min(best, time.perf_counter() - start)
    del b
    return 2.0 * n ** 3 / max(best, 1e-9)
