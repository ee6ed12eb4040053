"""The processes that run units: here (``--jobs 1``) or on a pool of worker processes.

- ``--jobs 1``: :class:`_Here` runs each unit in this process, with its BLAS threads;
- ``--jobs N``: :func:`executor`, a ``concurrent.futures.ProcessPoolExecutor`` of N ``spawn``-ed
  workers started with one BLAS thread (``OPENBLAS_NUM_THREADS`` and friends are 1 in their
  environment, :func:`worker_environment`). Its initializer makes the worker exit soon after
  its parent, however the parent ended (:func:`_watch_parent`), leaves Ctrl-C to the parent
  and builds the worker's Context once (MNIST loaded once per worker). Left by an exception (a
  unit's error, Ctrl-C, SIGTERM), it cancels the queued units and terminates its workers.

Either way a unit runs under its claim (:func:`claim_unit`, ``UnitFiles.claimed``) and is saved
to ``OUT/units/UNIT.json`` before the claim is let go, so that two runs on one folder compute it
once: the second waits, then reads the file (or drops the unit if the first run has recorded
its seed and removed the file meanwhile).
"""
from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from .. import flops
from ..progress import log, status_lines
from .summary import as_json
from .units import UnitFiles, unit_seed

#: The environment variables that set the BLAS and OpenMP thread counts NumPy starts with.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerError(RuntimeError):
    """A worker process ended without reporting (killed, out of memory)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def default_jobs(backend: str) -> int:
    """The default ``--jobs``: the usable cores on the NumPy backend, 1 on CuPy (one GPU, one
    process)."""
    return 1 if backend == "cupy" else usable_cores()


def clip_jobs(jobs: int) -> int:
    """``jobs``, or the usable cores when it asks for more (with a log line saying so): more
    single-thread workers than cores only share the cores and cost memory."""
    cores = usable_cores()
    if jobs > cores:
        log(f"--jobs {jobs} is more than the {cores} usable core(s): running {cores} worker(s)")
        return cores
    return jobs


@dataclass(frozen=True)
class WorkerSetup:
    """What a process needs to build its own Context (picklable, sent to each worker)."""

    out: str
    profile: object          # config.Profile
    backend: str
    seed: int
    n_seeds: int
    data: str | None         # --data, or None for $NPRELU_DATA / the cache
    needs_data: bool = True  # False: no experiment to run reads MNIST (Figure 3 alone)

    def context(self):
        """The data loaded and the model store opened, as ``run_all.py`` did before workers
        (neither when no experiment needs them: a context without data, ``Context.plan``)."""
        from ..backend import get_backend
        from ..data import load_mnist
        from .context import Context
        backend = get_backend(self.backend)
        if not self.needs_data:
            return Context.plan(self.profile, backend, self.seed, self.n_seeds)
        data = tuple(backend.asarray(a) for a in load_mnist(self.data))
        return Context.create(self.out, self.profile, backend, self.seed, data, self.n_seeds)


def run_unit(ctx, experiment, unit: str) -> dict:
    """Run one unit here: ``{"partial", "flops", "seconds", "matmul_rate", "experiment",
    "subsets"}`` (``UnitFiles``); ``subsets``: the test subsets it drew, ``{seed: {n: record}}``;
    ``matmul_rate``: this process's matrix-product rate (FLOP/s, ``flops.matmul_rate``) measured
    right after the unit, under the same load."""
    ops, start = flops.read(), time.perf_counter()
    ctx.subsets.clear()             # what this unit draws, recorded with it
    partial = as_json(experiment.run_unit(ctx, unit))
    seconds = round(time.perf_counter() - start, 3)
    rate = flops.matmul_rate(ctx.backend.xp, ctx.backend.dtype, ctx.backend.synchronize)
    return {"partial": partial, "flops": flops.read() - ops, "seconds": seconds,
            "matmul_rate": round(rate), "experiment": experiment.key,
            "subsets": as_json(ctx.drawn())}


def claim_unit(ctx, experiment, unit: str, files: UnitFiles, force: bool = False,
               charged=()) -> tuple:
    """``(how, record)`` of ``unit``, under its claim: ``("read", record)`` when another run
    saved it; ``("recorded", None)`` when another run has recorded its experiment's seed and
    removed its file (unless ``force``); else ``("ran", record)``, run here and saved.
    ``charged``: ``{"seconds", "flops"}`` of networks trained for it elsewhere (``--cluster``),
    added to its record as if it had trained them itself."""
    with files.claimed(unit):
        record = files.load(unit)
        if record is not None:
            return "read", record
        seed = unit_seed(unit) if experiment.seeded else None
        if not force and files.recorded([o.key for o in experiment.outputs], seed):
            return "recorded", None
        record = run_unit(ctx, experiment, unit)
        for network in charged:
            record["seconds"] = round(record["seconds"] + network["seconds"], 3)
            record["flops"] += network["flops"]
        files.save(unit, record)
        return "ran", record


# ---- the executors: submit(fn, *args) -> Future --------------------------------------------

class _Here:
    """``--jobs 1``: each unit runs here when submitted (an error raised from ``submit``)."""

    def __init__(self, setup):
        self.setup, self.ctx = setup, None

    def submit(self, fn, *args) -> Future:
        if self.ctx is None:
            self.ctx = self.setup.context()
        future = Future()
        future.set_result(fn(*args, context=self.ctx))
        return future


@contextmanager
def executor(n: int, setup):
    """A ``ProcessPoolExecutor`` of ``n`` spawned workers with one BLAS thread each (module
    doc). Left normally, it waits for its workers; left by an exception (a unit's error, Ctrl-C,
    SIGTERM), it cancels what is queued and terminates its workers."""
    with worker_environment(n):
        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(setup, os.getpid()))
        log(f"running on up to {n} worker processes, one BLAS thread each")
        try:
            yield pool
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now (SIGTERM, then SIGKILL after 10 s)."""
    procs = list((pool._processes or {}).values())   # noqa: SLF001 (no public handle in 3.11)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join()


@contextmanager
def worker_environment(n_workers: int):
    """This process's environment, for the block, as worker processes started inside it must
    inherit it (they load NumPy with it); put back after. The BLAS and OpenMP thread counts are
    1; ``NPRELU_THREADS``, the Python threads one computation may use (``nprelu.backend``), is
    the cores left to each worker, ``cores // n_workers`` (at least 1), unless already set."""
    saved = {v: os.environ.get(v) for v in (*BLAS_THREAD_VARS, "NPRELU_THREADS")}
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARS, "1"))
    os.environ.setdefault("NPRELU_THREADS", str(max(usable_cores() // n_workers, 1)))
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


# ---- in a worker process -------------------------------------------------------------------

_WORKER: dict = {}   # a worker's Context ("ctx"), or the error that building it raised ("error")


def _init_worker(setup, parent: int) -> None:
    """A worker's start: die with the parent, leave Ctrl-C to the parent (which stops the
    workers), SIGTERM as SystemExit (files being written clean up), no status lines (one
    terminal, N workers), the Context built once (an error raised by the first unit)."""
    _watch_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)
    status_lines(False)
    try:
        _WORKER["ctx"] = setup.context()
    except Exception as exc:  # noqa: BLE001 (raised again by _work)
        _WORKER["error"] = exc


def _watch_parent(parent: int) -> None:
    """Exit when the process ``parent`` ends, however it ended: Linux's parent-death signal
    (SIGTERM, ``prctl``) and, everywhere, a daemon thread that checks every 0.5 s that
    ``parent`` is still this process's parent (``os._exit`` otherwise)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # not Linux: the thread alone
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="nprelu-watch-parent", daemon=True).start()


#: The registry the units come from, named rather than imported: the runner runs whatever
#: experiments it is given and never imports the science above it (``run_all.py`` and each
#: worker resolve it by this name, in their own process).
REGISTRY = "nprelu.experiments:EXPERIMENTS"


def experiments() -> dict:
    """The experiment registry :data:`REGISTRY` names, imported on first use."""
    module, name = REGISTRY.split(":")
    return getattr(importlib.import_module(module), name)


def _work(key: str, unit: str, files: UnitFiles, force: bool = False, context=None) -> tuple:
    """``(how, where, record)`` of ``unit`` of the experiment ``key`` (:func:`claim_unit`), with
    ``context`` (``--jobs 1``) or the worker's. In a worker, an exception that cannot be
    pickled is sent back as a RuntimeError with its text; SIGTERM ends the worker."""
    EXPERIMENTS = experiments()
    if context is not None:
        how, record = claim_unit(context, EXPERIMENTS[key], unit, files, force)
        return how, "here", record
    try:
        if "error" in _WORKER:
            raise _WORKER["error"]
        how, record = claim_unit(_WORKER["ctx"], EXPERIMENTS[key], unit, files, force)
        return how, f"on worker {os.getpid()}", record
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException as exc:
        sent = portable(exc)
        if sent is exc:
            raise
        raise sent from exc


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (it travels back to the parent or the cluster's client),
    else a RuntimeError with its type and text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 (any pickling failure)
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _exit(signum, frame):
    raise SystemExit(128 + signum)
