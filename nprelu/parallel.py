r"""Work cut into fixed pieces, the pieces run on a few Python threads.

On the CPU a long attack or an evaluation is a loop over rows that never look at each other:
row n of PGD's result depends on row n of the input alone. :func:`row_blocks` cuts the rows
into blocks of about ``backend.block_rows`` (:mod:`nprelu.backend`), and :func:`run` computes
the blocks on ``backend.threads`` threads, each taking the next block when it is free. NumPy
releases the GIL inside a matrix product and inside its loops over large arrays, so two threads
keep two cores busy; each thread's products must then run on one BLAS thread
(``OPENBLAS_NUM_THREADS=1``, see :mod:`nprelu.backend`). A training step is cut the same way, in
a few pieces (:mod:`nprelu.threaded_step`): its rows for the one large forward
product, then slices of the flat parameter vector (:func:`flat_parts`), each with its weight
gradients and its share of Adam.

**The pieces never depend on the thread count**, only on the size of the work: one thread runs
the same pieces, with the same matrix products on the same rows, one after the other. So a
result is bit-identical for any thread count (tests/test_parallel.py), which a split decided by
the thread count could not promise: a BLAS may round a product of 64 rows differently from the
same rows inside a product of 128.

Pieces are few and long on purpose. A thread that has to wait (for its first task, for the GIL,
for another thread) took 60 to 80 microseconds to wake on the 2-core machines of this project,
and two threads issuing many small NumPy calls each keep waking each other for the GIL: a
training step cut into two halves of 64 rows, forward and backward, ran no faster on two
threads than on one (docs/benchmarks.md).

A call made from inside a piece runs its own pieces on its own thread (no nesting of threads),
and so does a call made while another thread of the program is already using the workers.

Every attack that splits its rows across threads does it through :func:`over_rows`, so that
the attack's module holds the algorithm on one block of rows and nothing else.
"""
from __future__ import annotations

import math
import os
import queue
import threading
from contextlib import contextmanager
from functools import partial
from typing import NamedTuple


def row_blocks(n: int, size: int | None) -> list:
    """``[0, n)`` as ``ceil(n / size)`` consecutive slices whose lengths differ by at most one;
    one slice when ``size`` is None (a backend that keeps a batch whole, ``block_rows``).

    No block is much shorter than the others: a lone tail of a few rows could take another path
    through the BLAS. ``n = 0`` gives one empty slice, so that callers keep one code path.
    """
    count = 1 if size is None else max(1, math.ceil(n / size))
    bounds = [n * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


class Part(NamedTuple):
    """A slice ``flat`` of a flat vector and its ``pieces``: (k, rows), rows r0:r1 of block k."""

    flat: slice
    pieces: list


def flat_parts(shapes, shares) -> list:
    """A flat vector made of the 2-D blocks ``shapes`` = [(rows, width), ...], one after the other
    (row-major), cut into consecutive :class:`Part` s of about the fractions ``shares`` of its
    length (summing to 1; an integer k means k equal shares).

    Each cut falls at the boundary between two rows of a block, the one nearest to its share, so
    a part holds whole rows; a one-row block (a bias) is never cut. For a network's ``theta``
    the parts are as balanced in matrix-product work as in length.
    """
    if isinstance(shares, int):
        shares = [1.0 / shares] * shares
    starts, total = [], 0
    for rows, width in shapes:
        starts.append(total)
        total += rows * width
    cuts, acc = [0], 0.0
    for share in shares[:-1]:
        acc += share
        target = total * acc
        b = max(j for j, s in enumerate(starts) if s <= target)   # the block the share ends in
        rows, width = shapes[b]
        row = min(max(round((target - starts[b]) / width), 0), rows)
        cuts.append(max(cuts[-1], starts[b] + row * width))
    cuts.append(total)
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        pieces = []
        for k, ((rows, width), s) in enumerate(zip(shapes, starts)):
            r0, r1 = max(lo - s, 0) // width, min(max(hi - s, 0) // width, rows)
            if r0 < r1:
                pieces.append((k, slice(r0, r1)))
        out.append(Part(slice(lo, hi), pieces))
    return out


def run(tasks, threads: int) -> list:
    """``[task() for task in tasks]``, computed on up to ``threads`` threads (the caller's one of
    them), each thread taking the next task when it is free; results in the order of ``tasks``.

    The first exception raised by a task is raised here, once every thread has stopped taking
    tasks. ``threads <= 1``, a single task, a call from inside a task, or a call while another
    thread is using the workers: the tasks run here, in order.
    """
    tasks = list(tasks)
    count = min(int(threads), len(tasks))
    if count <= 1 or getattr(_state, "inside", False) or not _busy.acquire(blocking=False):
        return [task() for task in tasks]
    try:
        return _run_shared(tasks, count)
    finally:
        _busy.release()


def _run_shared(tasks, count) -> list:
    results = [None] * len(tasks)
    errors = []
    order = iter(range(len(tasks)))
    take = threading.Lock()

    def drain():
        _state.inside = True
        try:
            while not errors:
                with take:
                    i = next(order, None)
                if i is None:
                    return
                try:
                    results[i] = tasks[i]()
                except BaseException as exc:  # handed to the caller below
                    errors.append(exc)
        finally:
            _state.inside = False

    done = queue.SimpleQueue()
    for _ in range(count - 1):
        _workers.submit(drain, done)
    drain()
    for _ in range(count - 1):
        done.get()
    if errors:
        raise errors[0]
    return results


def over_rows(backend, n: int, work, batch_size: int | None = None, *,
              rows_per_block: int | None = None, in_turn: bool = False) -> list:
    """``[work(rows) for rows in pieces of range(n)]``, the results in row order: the rows in
    chunks of ``batch_size`` (all at once when None), one chunk after the other (memory), each
    chunk cut into :func:`row_blocks` of ``rows_per_block`` rows (default: ``backend.block_rows``)
    that :func:`run` computes on ``backend.threads`` threads. ``rows`` is a slice of
    ``range(n)``; ``n = 0`` gives one empty piece, so that callers keep one code path.

    ``in_turn``: call ``work(rows, turn)`` instead, where ``with turn(): ...`` enters in row
    order within the chunk (:class:`InTurn`), for draws from one random generator.
    """
    block = backend.block_rows if rows_per_block is None else rows_per_block
    size = batch_size or max(n, 1)
    results = []
    for start in range(0, max(n, 1), size):
        pieces = [slice(start + r.start, start + r.stop)
                  for r in row_blocks(min(size, n - start), block)]
        if in_turn:
            turn = InTurn()
            tasks = [partial(work, rows, partial(turn, k)) for k, rows in enumerate(pieces)]
        else:
            tasks = [partial(work, rows) for rows in pieces]
        results += run(tasks, backend.threads)
    return results


class InTurn:
    """Lets tasks 0, 1, 2, ... of one :func:`run` each enter a section in index order, whichever
    threads they run on: ``with turn(k): ...`` waits until tasks 0 .. k-1 have left it.

    For the draws from one random generator: drawn block after block in order, a stream gives
    the numbers it would give drawn at once. :func:`run` starts its tasks in index order, so a
    task waits only for tasks already running; each must enter its turn before anything that
    could fail, and leaves it even on an error.
    """

    def __init__(self):
        self._next = 0
        self._cond = threading.Condition()

    @contextmanager
    def __call__(self, k: int):
        with self._cond:
            self._cond.wait_for(lambda: self._next == k)
        try:
            yield
        finally:
            with self._cond:
                self._next += 1
                self._cond.notify_all()


class _Workers:
    """Daemon threads that run submitted functions; started on first use, grown on demand."""

    def __init__(self):
        self.jobs = queue.SimpleQueue()
        self.started = 0
        self.lock = threading.Lock()
        self.idle = 0

    def submit(self, fn, done) -> None:
        with self.lock:
            if self.idle == 0:
                threading.Thread(target=self._loop, name=f"nprelu-{self.started}",
                                 daemon=True).start()
                self.started += 1
                self.idle += 1
            self.idle -= 1
        self.jobs.put((fn, done))

    def _loop(self) -> None:
        while True:
            fn, done = self.jobs.get()
            try:
                fn()
            finally:
                with self.lock:
                    self.idle += 1
                done.put(None)


_state = threading.local()
_busy = threading.Lock()
_workers = _Workers()


def _after_fork() -> None:
    """A forked child has none of its parent's threads: start afresh."""
    global _busy, _workers
    _busy, _workers = threading.Lock(), _Workers()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
