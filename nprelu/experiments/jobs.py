"""Running a list of experiments unit by unit: in this process (``--jobs 1``) or on N workers.

Every experiment is a list of units (``experiments/units.py``); a run lists the units of the
experiments it includes, each id once, in registry order, and hands them out one at a time:

- ``--jobs 1``: each unit runs here, in order, with the BLAS threads this process has;
- ``--jobs N``: N worker processes (``spawn``), each with one BLAS thread (``OPENBLAS_NUM_THREADS``
  and friends are 1 in the environment the workers start with), each loading MNIST and building
  its own :class:`~nprelu.experiments.context.Context`. A worker asks for the next unit as soon
  as it finishes one. Networks that several units need are trained once, by whichever unit
  needs them first, under a lock per network (``experiments/store.py``); the others wait and
  load the checkpoint.

Either way the parent keeps each finished unit in ``OUT/units/`` (a killed run resumes unit by
unit), and once all the units of an experiment for one seed are in, combines them and records
that seed in ``summary.json`` (the mean over the seeds once the last one is in): its numbers, its
settings, the test subsets its units drew, the wall time of its units summed and their useful
operations (``nprelu.flops``). A unit computed in another process gives the same numbers
as one computed here with the same number of BLAS threads: every random draw is seeded per
call, and a network loaded from its checkpoint has the weights it was trained to. A unit that
fails stops the run with its error (the other workers are stopped; the finished units stay).
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass

from .. import flops
from ..progress import format_seconds, log
from .summary import as_json, run_identity
from .units import UnitFiles

#: The environment variables that set the BLAS and OpenMP thread counts NumPy starts with.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerError(RuntimeError):
    """A worker process ended without reporting (killed, out of memory)."""


class WorkerTraceback(Exception):
    """The traceback of a unit that failed in a worker: the cause of the error raised here,
    shown with ``--debug``."""

    def __str__(self):
        return "\n" + self.args[0]


def default_jobs(backend: str) -> int:
    """The default ``--jobs``: the cores this process may use on the NumPy backend, 1 on CuPy
    (one GPU, one process)."""
    if backend == "cupy":
        return 1
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


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


def run_experiments(todo: list, plan, summary, out, jobs: int, setup: WorkerSetup) -> None:
    """Run the experiments ``todo`` (registry entries) unit by unit and record each seed of each
    in ``summary`` (a ``SummaryFile``) when its last unit is in. ``plan``: a planning Context
    (``Context.plan``), whose seeds are the run's; ``jobs``: 1 (here) or the number of workers
    (module doc). A seed already recorded in the summary is not run again."""
    summary.start()
    files = UnitFiles(out, run_identity(summary.meta))
    needs = {}                      # (experiment key, seed) -> its unit ids, for each seed to do
    for e in todo:
        keys = [o.key for o in e.outputs]
        for seed in e.seeds(plan):
            if seed is None or not summary.has_seed(keys, seed):
                needs[(e.key, seed)] = e.seed_units(plan, seed)
            else:                   # recorded: a unit file left behind by a killed run goes
                for unit in e.seed_units(plan, seed):
                    files.remove(unit)
    owner = {}                      # unit id -> the experiment that runs it (the first listing it)
    for e in todo:
        for (key, _), units in needs.items():
            if key == e.key:
                for unit in units:
                    owner.setdefault(unit, e)
    minutes = {}                    # unit id -> expected minutes on 2 cores
    for (key, seed), units in needs.items():
        e = next(x for x in todo if x.key == key)
        own = [u for u in units if owner[u] is e]
        for unit in own:
            minutes[unit] = e.estimate(plan.profile.name) / len(own)
    finished = {u: r for u in owner if (r := files.load(u)) is not None}
    if finished:
        log(f"resuming: {len(finished)} finished unit(s) of {len(owner)} found in {files.dir}")
    progress = _Progress(minutes, jobs, set(finished))
    by_key = {e.key: e for e in todo}

    def record_ready():
        for group in [g for g, units in needs.items() if all(u in finished for u in units)]:
            units = needs.pop(group)
            _record(by_key[group[0]], group[1], units, finished, plan, summary, jobs)
            wanted = {u for rest in needs.values() for u in rest}
            for unit in units:
                if unit not in wanted:
                    files.remove(unit)

    record_ready()
    pending = [u for u in owner if u not in finished]
    if not pending:
        return
    with (_InProcess(setup) if jobs == 1 else _Workers(min(jobs, len(pending)), setup)) as pool:
        while pending or pool.busy:
            while pending and pool.idle():
                unit = pending.pop(0)
                where = pool.start(unit, owner[unit])
                log(progress.started(unit, where))
            done = pool.wait()
            if done is None:        # a worker became ready
                continue
            unit, where, record = done
            files.save(unit, record)
            finished[unit] = record
            log(progress.finished(unit, where, record["seconds"]))
            record_ready()


def _record(e, seed, units, finished, plan, summary, jobs) -> None:
    """Combine the units of ``e`` for ``seed`` (None: not seeded) and record them; the time and
    operations are those of the units computed for it (a unit listed by two experiments counts
    for the one that ran it)."""
    numbers, settings = e.combine(plan, seed, {u: finished[u]["partial"] for u in units})
    own = [finished[u] for u in units if finished[u]["experiment"] == e.key]
    seconds, ops = sum(r["seconds"] for r in own), sum(r["flops"] for r in own)
    capacity = (sum(r["seconds"] * r["matmul_rate"] for r in own)
                if all("matmul_rate" in r for r in own) else None)   # older unit files lack it
    subsets: dict = {}
    for u in units:
        for s, records in finished[u].get("subsets", {}).items():
            subsets.setdefault(s, {}).update(records)
    summary.record(e.key, numbers, settings, seconds, flops=ops, jobs=jobs, seed=seed,
                   subsets=subsets, capacity=capacity)
    what = e.key if seed is None else f"{e.key} seed {seed}"
    log(f"recorded {what}: {len(units)} unit(s), {format_seconds(seconds)} of unit time, "
        f"{ops / 1e12:.3g} TFLOP" + (f"; {e.key} done" if e.key in summary.meta["done"] else ""))


class _Progress:
    """The log lines of units starting and finishing, with the time left overall: the
    registry's estimate (minutes on 2 cores, spread evenly over an experiment's units) of the
    units not finished, less what the running ones have done (their time over ``jobs``)."""

    def __init__(self, minutes: dict, jobs: int, finished: set):
        self.minutes, self.jobs, self.done = minutes, jobs, set(finished)
        self.running: dict = {}
        self.start = time.perf_counter()

    def _times(self) -> str:
        now = time.perf_counter()
        left = sum(max(60 * m - (now - self.running.get(unit, now)) / self.jobs, 0.0)
                   for unit, m in self.minutes.items() if unit not in self.done)
        return f"elapsed {format_seconds(now - self.start)}, ~{format_seconds(left)} left"

    def started(self, unit: str, where: str) -> str:
        self.running[unit] = time.perf_counter()
        return f"[{len(self.done) + len(self.running)}/{len(self.minutes)}] {unit} started " \
               f"{where} ({self._times()})"

    def finished(self, unit: str, where: str, seconds: float) -> str:
        self.running.pop(unit, None)
        self.done.add(unit)
        return f"{unit} done {where} in {format_seconds(seconds)} ({self._times()})"


# ---- executors: start(unit, experiment), wait() -> (unit, where, record) or None ------------

class _InProcess:
    """``--jobs 1``: each unit runs here when waited for, with this process's BLAS threads."""

    def __init__(self, setup: WorkerSetup):
        self.setup, self.ctx, self.task = setup, None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @property
    def busy(self) -> bool:
        return self.task is not None

    def idle(self) -> bool:
        return self.task is None

    def start(self, unit: str, experiment) -> str:
        self.task = (unit, experiment)
        return "here"

    def wait(self):
        unit, experiment = self.task
        if self.ctx is None:
            self.ctx = self.setup.context()
        record = run_unit(self.ctx, experiment, unit)
        self.task = None
        return unit, "here", record


class _Workers:
    """``--jobs N``: N spawned worker processes with one BLAS thread each (module doc)."""

    def __init__(self, n: int, setup: WorkerSetup):
        self.n, self.setup = n, setup
        self.running: dict = {}          # worker -> the unit it runs
        self.ready: set = set()
        self.suspect: set = set()        # workers found dead once (their last words may lag)

    def __enter__(self):
        mp = multiprocessing.get_context("spawn")
        self.results = mp.Queue()
        self.tasks, self.procs = {}, {}
        with worker_environment(self.n):
            for w in range(1, self.n + 1):
                self.tasks[w] = mp.SimpleQueue()
                self.procs[w] = mp.Process(target=_worker_main, name=f"nprelu-worker-{w}",
                                           args=(w, self.setup, self.tasks[w], self.results),
                                           daemon=True)
                self.procs[w].start()
        log(f"started {self.n} worker processes, one BLAS thread each")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            for w in self.procs:
                self.tasks[w].put(None)
            for p in self.procs.values():
                p.join(timeout=30)
        for p in self.procs.values():    # a unit failed or the run was interrupted: stop now
            if p.is_alive():
                p.terminate()
        for p in self.procs.values():
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        for q in (self.results, *self.tasks.values()):
            q.close()
        return False

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def idle(self) -> bool:
        return any(w not in self.running for w in self.ready)

    def start(self, unit: str, experiment) -> str:
        w = min(w for w in self.ready if w not in self.running)
        self.tasks[w].put((experiment.key, unit))
        self.running[w] = unit
        return f"on worker {w}"

    def wait(self):
        """The next finished unit ``(unit, where, record)``, or None when a worker became ready;
        a unit's error is raised here, with the worker's traceback as its cause."""
        while True:
            try:
                kind, w, unit, payload, tb = self.results.get(timeout=1.0)
            except queue.Empty:
                self._check_alive()
                continue
            if kind == "ready":
                self.ready.add(w)
                return None
            if kind == "failed":
                log(f"{unit or 'starting'} failed on worker {w}: "
                    f"{type(payload).__name__}: {' '.join(str(payload).split())}")
                raise payload from WorkerTraceback(tb)
            del self.running[w]
            return unit, f"on worker {w}", payload

    def _check_alive(self) -> None:
        for w, p in self.procs.items():
            if p.is_alive():
                continue
            if w not in self.suspect:     # read the queue once more before calling it dead
                self.suspect.add(w)
                continue
            doing = f"running {self.running[w]}" if w in self.running else "starting"
            raise WorkerError(f"worker {w} ended (exit code {p.exitcode}) while {doing}, "
                              "without a word: killed, or out of memory? Finished units are "
                              "kept; run the same command again to resume")


@contextmanager
def worker_environment(n_workers: int):
    """This process's environment, for the block, as worker processes started inside it must
    inherit it (they load NumPy with it); put back after. The BLAS and OpenMP thread counts are
    1; ``NPRELU_THREADS``, the Python threads one computation may use (``nprelu.backend``), is
    the cores left to each worker, ``cores // n_workers`` (at least 1), unless already set."""
    saved = {v: os.environ.get(v) for v in (*BLAS_THREAD_VARS, "NPRELU_THREADS")}
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARS, "1"))
    os.environ.setdefault("NPRELU_THREADS", str(max(default_jobs("numpy") // n_workers, 1)))
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _worker_main(index: int, setup: WorkerSetup, tasks, results) -> None:
    """A worker: build a Context, say "ready", then run the units it is sent until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C: the parent stops the workers
    signal.signal(signal.SIGTERM, _exit)              # files being written clean up first
    from ..progress import status_lines
    status_lines(False)                               # one terminal, N workers: log lines only
    try:
        from . import EXPERIMENTS
        ctx = setup.context()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, which raises it)
        results.put(("failed", index, None, *_portable(exc)))
        return
    results.put(("ready", index, None, None, None))
    while (task := tasks.get()) is not None:
        key, unit = task
        try:
            record = run_unit(ctx, EXPERIMENTS[key], unit)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 (reported to the parent, which raises it)
            results.put(("failed", index, unit, *_portable(exc)))
            return
        results.put(("done", index, unit, record, None))


def _exit(signum, frame):
    raise SystemExit(128 + signum)


def _portable(exc: BaseException) -> tuple:
    """``(exception, traceback text)``, the exception replaced by a RuntimeError with its text
    when it cannot be pickled back to the parent."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 (any pickling failure)
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc, text
