"""Running the units on a Dask distributed cluster (``run_all.py --cluster ADDRESS``).

The same units as ``--jobs N`` (``runner/jobs.py``), submitted to a Dask scheduler as one
task graph instead of a local process pool:

- ``--cluster local:N`` starts a ``LocalCluster`` of N worker processes with one thread and one
  BLAS thread each (the BLAS variables are 1 in the environment they start with,
  ``workers.worker_environment``), and closes it with the run; any other ADDRESS
  (``tcp://host:8786``, or a scheduler file ``*.json``) connects to a running scheduler, whose
  workers must run nprelu with one BLAS thread each (Dask's nanny sets the variables to 1).
- Each trained network that a pending unit declares it needs (``Split.networks``) is a task of
  its own, "network SPEC" (:func:`train_network`: the store trains it, or loads it, and saves
  its checkpoint in ``OUT/models``), and each unit is a task that depends on the tasks of its
  networks: the scheduler starts a unit once they are done. An adversarially trained network
  depends on its base network's task. A network a unit does not declare it gets from the store
  as with ``--jobs``, under the network's file lock.
- A network task's time and operations are counted in the unit that would have trained it in
  one process, the first pending unit (in run order) that needs it (``claim_unit(charged)``),
  so ``meta.wall_seconds`` and ``meta.flops`` mean what they mean with ``--jobs``.

Workers share ``OUT`` (and the MNIST files) with this process through the filesystem: paths are
sent absolute, networks pass from task to task as checkpoints, units as ``units/UNIT.json``.
That holds for a ``LocalCluster`` and for a Slurm cluster with a shared home. Every random draw
is seeded per call and a loaded network has the weights it was trained to, so the numbers equal
those of ``--jobs 1`` run with one BLAS thread. Ctrl-C and SIGTERM cancel the tasks not
started, close the client and the ``LocalCluster`` (its workers end with it); on a remote
cluster a unit already running finishes on its worker and is kept for the next run.

``distributed`` is an optional dependency (``pip install "nprelu[cluster]"``), imported only
here, only when ``--cluster`` is given.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import os
import pickle
import signal
import socket
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..progress import log, status_lines
from .workers import WorkerError, claim_unit, clip_jobs, portable, worker_environment

INSTALL = 'pip install "dask[distributed]" (or pip install -e ".[cluster]")'


def check_address(text: str) -> str:
    """``--cluster``'s value checked without Dask: ``local:N`` (N >= 1) or a scheduler address
    or scheduler file; ValueError with the problem in one line otherwise."""
    if not text.strip():
        raise ValueError("empty; give a scheduler address (tcp://host:8786) or local:N")
    if text.startswith("local:"):
        n = text[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"{text}: local:N needs a worker count N >= 1 (local:2)")
    return text


def missing_distributed() -> str | None:
    """None when Dask distributed can be imported; else the one line saying how to install it."""
    if importlib.util.find_spec("distributed") is None:
        return f"--cluster needs Dask distributed, which is not installed: {INSTALL}"
    return None


@contextmanager
def connect(address: str):
    """``(client, workers)`` of the cluster ``address`` (module doc); ``workers``: the worker
    threads it has now. Left in any way, the client is closed and a LocalCluster with it."""
    import distributed
    cluster = None
    try:
        if address.startswith("local:"):
            n = clip_jobs(int(address[len("local:"):]))
            with worker_environment(n), _sigint_ignored():   # both inherited by its workers
                cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, memory_limit=0,
                    dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
            log(f"started a local Dask cluster of {n} worker process(es), one thread and one "
                "BLAS thread each")
        else:
            try:
                client = (distributed.Client(scheduler_file=address, timeout="30s")
                          if address.endswith(".json") else
                          distributed.Client(address, timeout="30s"))
            except (OSError, ValueError) as exc:
                raise WorkerError(f"--cluster {address}: no Dask scheduler answered "
                                  f"({' '.join(str(exc).split())}); start one (dask scheduler) "
                                  "or check the address") from exc
            log(f"connected to the Dask scheduler at {client.scheduler.address}")
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        workers = sum(client.nthreads().values())
        if not workers:
            raise WorkerError(f"--cluster {address}: the scheduler has no workers; start some "
                              "(dask worker ADDRESS --nthreads 1) and run the same command")
        yield client, workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _sigint_ignored():
    """SIGINT ignored in this process for the block, so that the worker processes started in it
    ignore it too: Ctrl-C reaches the whole process group, and only this process, which closes
    the cluster, should act on it (a worker would print its traceback)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:          # not the main thread: nothing to restore
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def run_on_cluster(run, address: str, setup) -> None:
    """Send ``run``'s pending units (a ``jobs.Run``) to the cluster ``address`` as the task graph
    of the module doc, and take each in as it comes back (``Run.finish``)."""
    from distributed import as_completed
    setup, files = _absolute(setup, run.files)
    with connect(address) as (client, workers):
        run.jobs = run.progress.jobs = workers
        graph = Graph(run)
        tasks: dict = {}            # Dask future -> ("network", spec) or ("unit", unit)
        networks: dict = {}         # spec -> its future

        def network(spec):
            if spec not in networks:
                after = [network(spec.base)] if spec.adv else []
                networks[spec] = client.submit(train_network, setup, spec, after, pure=False,
                                               key=f"network {spec.name} {uuid.uuid4().hex[:8]}")
                tasks[networks[spec]] = ("network", spec)
            return networks[spec]

        def submit(unit):
            needed = [network(s) for s in graph.needs[unit]]
            charged = [networks[s] for s in graph.charged.get(unit, ())]
            future = client.submit(work_unit, setup, run.owner[unit].key, unit, files,
                                   unit in run.forced, charged, needed, pure=False,
                                   key=f"unit {unit} {uuid.uuid4().hex[:8]}")
            tasks[future] = ("unit", unit)
            return future

        for unit in run.pending:
            submit(unit)
        run.pending.clear()
        log(f"sent {len(tasks) - len(networks)} unit(s) and {len(networks)} network(s) to "
            f"train to {workers} Dask worker(s)")
        done = as_completed(list(tasks))
        for future in done:
            what, item = tasks.pop(future)
            result = _result(future, item if what == "unit" else f"network {item.name}")
            if what == "network":
                if result["flops"]:
                    log(f"network {item.name} trained {result['where']} in "
                        f"{result['seconds']:.1f} s")
                continue
            run.finish(item, *result)
            while run.pending:      # sent again: another run recorded its seed meanwhile
                done.add(submit(run.pending.pop(0)))


class Graph:
    """Which networks each pending unit of ``run`` waits for (``needs``: unit -> [spec], an
    adversarially trained network's base included) and which unit each network's task is
    counted in (``charged``: unit -> [spec], the first pending unit needing it)."""

    def __init__(self, run):
        self.needs: dict = {}
        self.charged: dict = {}
        seen: set = set()
        for unit in run.pending:
            specs = []
            for spec in run.owner[unit].networks(run.plan, unit):
                specs += [spec.base, spec] if spec.adv else [spec]
            self.needs[unit] = list(dict.fromkeys(specs))
            mine = [s for s in self.needs[unit] if s not in seen]
            seen.update(mine)
            if mine:
                self.charged[unit] = mine


def _absolute(setup, files):
    """``setup`` and ``files`` with absolute paths (a remote worker's working directory is
    another), MNIST's directory found here once (a worker may have no ``$NPRELU_DATA``)."""
    from ..data import find_data_dir
    data = setup.data
    if setup.needs_data:
        found = find_data_dir(setup.data, flag="--data")
        data = str(Path(found).resolve()) if found is not None else data
    files = copy.copy(files)
    files.dir = Path(files.dir).resolve()
    return replace(setup, out=str(Path(setup.out).resolve()), data=data), files


def _result(future, what: str):
    """A finished task's result; its error raised here (a lost worker as a ``WorkerError``)."""
    try:
        return future.result()
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise WorkerError(f"{what}: the Dask workers that ran it ended without a word "
                              "(killed, or out of memory?). Finished units are kept; run the "
                              "same command again to resume") from exc
        log(f"{what} failed on a Dask worker: {type(exc).__name__}: {' '.join(str(exc).split())}")
        raise


# ---- on a Dask worker ------------------------------------------------------------------------

_CONTEXTS: dict = {}    # pickled WorkerSetup -> this worker process's Context


def _context(setup):
    """This worker's Context for ``setup``, built once (MNIST loaded once per worker)."""
    key = pickle.dumps(setup)
    if key not in _CONTEXTS:
        status_lines(False)
        _CONTEXTS[key] = setup.context()
    return _CONTEXTS[key]


def _where() -> str:
    return f"on {socket.gethostname()}:{os.getpid()}"


def train_network(setup, spec, after=()) -> dict:
    """Task "network SPEC": the network trained (or loaded from its checkpoint) and saved in
    ``OUT/models``; ``{"network", "seconds", "flops", "where"}``. ``after``: the results of the
    tasks it waits for (an adversarially trained network's base)."""
    import time
    from .. import flops
    ctx = _context(setup)
    ops, start = flops.read(), time.perf_counter()
    _portable(ctx.model, spec)
    return {"network": spec.name, "seconds": round(time.perf_counter() - start, 3),
            "flops": flops.read() - ops, "where": _where()}


def work_unit(setup, key: str, unit: str, files, force: bool, charged=(), after=()) -> tuple:
    """Task "unit UNIT": ``(how, where, record)`` as ``--jobs`` workers return it
    (``workers.claim_unit``), ``charged``: the results of the network tasks counted in it;
    ``after``: those of every network task it waits for."""
    from .workers import experiments
    EXPERIMENTS = experiments()
    how, record = _portable(claim_unit, _context(setup), EXPERIMENTS[key], unit, files, force,
                            charged)
    return how, _where(), record


def _portable(fn, *args):
    """``fn(*args)``; an exception that cannot be pickled is raised as a RuntimeError with its
    text, so the client receives it."""
    try:
        return fn(*args)
    except Exception as exc:
        sent = portable(exc)
        if sent is exc:
            raise
        raise sent from exc
