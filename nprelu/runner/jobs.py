"""Running a list of experiments unit by unit: in this process (``--jobs 1``) or on N workers.

A run lists the units (``runner/units.py``) of the experiments it includes, each id once,
in registry order, and hands them out in that order, no more at a time than it has processes
(``runner/workers.py``: this one, or a ``ProcessPoolExecutor`` of ``min(N, units left)``
workers with one BLAS thread each), or all at once to a Dask cluster, which starts each unit
once the networks it needs are trained (``runner/cluster.py``). Each finished unit is in
``OUT/units/UNIT.json``, so a killed run resumes unit by unit. Once all the units of an
experiment for one seed are in, they are combined and the seed is recorded in ``summary.json``
(the mean over the seeds once the last one is in) with its settings, the test subsets drawn,
the wall time of its units and their useful operations (``nprelu.flops``). Every random draw
is seeded per call and a network loaded from its checkpoint has the weights it was trained to,
so a unit gives the same numbers in any process with the same BLAS threads. A unit's error, Ctrl-C or SIGTERM (``run_all.py``) stops
the run: the queued units are cancelled and the workers terminated; the finished units stay,
and the error of a unit that failed on a worker is logged in one line (its traceback is the
cause of the exception raised here).
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext

from ..progress import format_seconds, log
from .folder import remove_stale_temps
from .summary import run_identity
from .units import UnitFiles
from .workers import WorkerSetup, _Here, _work, executor
# Re-exported: what run_all.py and the tests import from here.
from .workers import (BLAS_THREAD_VARS, WorkerError, clip_jobs, default_jobs,  # noqa: F401
                      run_unit, worker_environment)


def run_experiments(todo: list, plan, summary, out, jobs: int, setup: WorkerSetup,
                    cluster: str | None = None) -> None:
    """Run the experiments ``todo`` (registry entries) unit by unit and record each seed of each
    in ``summary`` (a ``SummaryFile``) when its last unit is in. ``plan``: a planning Context
    (``Context.plan``), whose seeds are the run's; ``jobs``: 1 (here) or the number of workers
    (module doc); ``cluster``: a Dask scheduler's address or ``local:N`` instead
    (``runner/cluster.py``). A seed already recorded in the summary is not run again."""
    run = Run(todo, plan, summary, out, jobs)
    if not run.pending:
        return
    if cluster is not None:
        from .cluster import run_on_cluster
        run_on_cluster(run, cluster, setup)
        return
    n = min(jobs, len(run.pending))
    with nullcontext(_Here(setup)) if jobs == 1 else executor(n, setup) as pool:
        running: dict = {}          # future -> unit
        while run.pending or running:
            while run.pending and len(running) < n:
                unit = run.pending.pop(0)
                log(run.progress.started(unit, "here" if jobs == 1 else ""))
                running[pool.submit(_work, run.owner[unit].key, unit, run.files,
                                    unit in run.forced)] = unit
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in [f for f in running if f in done]:   # in the order they were sent
                unit = running.pop(future)
                run.finish(unit, *_result(future, unit))


class Run:
    """The state of one run of units: what each seed of each experiment still needs
    (``needs``), which experiment runs each unit (``owner``: the first listing it), the units
    finished (``finished``: unit -> record) and still to send (``pending``, in registry order),
    and the seeds recorded as their last unit comes in (:meth:`finish`)."""

    def __init__(self, todo: list, plan, summary, out, jobs: int):
        summary.start()
        remove_stale_temps(out)
        self.plan, self.summary, self.jobs = plan, summary, jobs
        self.files = files = UnitFiles(out, run_identity(summary.meta))
        self.needs = needs = {}     # (experiment key, seed) -> its unit ids, each seed to do
        for e in todo:
            keys = [o.key for o in e.outputs]
            for seed in e.seeds(plan):
                if seed is None or not summary.has_seed(keys, seed):
                    needs[(e.key, seed)] = e.seed_units(plan, seed)
                else:               # recorded: a unit file left behind by a killed run goes
                    for unit in e.seed_units(plan, seed):
                        files.remove(unit)
        self.by_key = by_key = {e.key: e for e in todo}
        self.owner = owner = {}     # unit id -> the experiment that runs it
        for (key, _), units in needs.items():
            for unit in units:
                owner.setdefault(unit, by_key[key])
        minutes = {}                # unit id -> expected minutes on 2 cores
        for (key, seed), units in needs.items():
            own = [u for u in units if owner[u].key == key]
            for unit in own:
                minutes[unit] = by_key[key].estimate(plan.profile.name) / len(own)
        self.finished = {u: r for u in owner if (r := files.load(u)) is not None}
        if self.finished:
            log(f"resuming: {len(self.finished)} finished unit(s) of {len(owner)} found in "
                f"{files.dir}")
        self.progress = _Progress(minutes, jobs, set(self.finished))
        self.record_ready()
        self.pending = [u for u in owner if u not in self.finished]
        self.forced: set = set()    # units to compute although their owner's seed is recorded

    def wanted(self) -> set:
        """The units some seed still to record needs."""
        return {u for rest in self.needs.values() for u in rest}

    def finish(self, unit: str, how: str, where: str, record) -> None:
        """Take in a unit that came back ``(how, where, record)`` (``workers.claim_unit``):
        keep it and record the seeds it completes; ``"recorded"`` (another run on the folder
        recorded its seed): forget the seeds recorded meanwhile, and send the unit again
        (forced, first in ``pending``) if a seed still to record needs it."""
        if how == "recorded":
            self.drop_recorded()
            if unit in self.wanted():
                self.pending.insert(0, unit)
                self.forced.add(unit)
            self.progress.finished(unit, where, 0.0)
            return
        self.finished[unit] = record
        where = "by another run" if how == "read" else where
        log(self.progress.finished(unit, where, record["seconds"]))
        self.record_ready()

    def record_ready(self) -> None:
        """Record every seed whose units are all in; remove the files no seed still needs."""
        for group in [g for g, units in self.needs.items()
                      if all(u in self.finished for u in units)]:
            units = self.needs.pop(group)
            _record(self.by_key[group[0]], group[1], units, self.finished, self.plan,
                    self.summary, self.jobs)
            for unit in set(units) - self.wanted():
                self.files.remove(unit)

    def drop_recorded(self) -> None:
        """Forget the seeds another run on this folder has recorded meanwhile."""
        self.summary.refresh()
        for key, seed in [g for g in self.needs
                          if _recorded(self.summary, self.by_key[g[0]], g[1])]:
            log(f"{key}" + ("" if seed is None else f" seed {seed}") + " recorded by another run")
            self.needs.pop((key, seed))
        wanted = self.wanted()
        self.pending[:] = [u for u in self.pending if u in wanted]


def _recorded(summary, e, seed) -> bool:
    keys = [o.key for o in e.outputs]
    return all(k in summary.data for k in keys) if seed is None else summary.has_seed(keys, seed)


def _result(future: Future, unit: str) -> tuple:
    """A finished unit's ``(how, where, record)``; its error raised here, logged in one line."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerError(f"a worker process ended without a word while {unit} ran: killed, or "
                          "out of memory? Finished units are kept; run the same command again "
                          "to resume") from exc
    except Exception as exc:     # sent back by a worker (--jobs 1 raises from submit)
        log(f"{unit} failed on a worker: {type(exc).__name__}: {' '.join(str(exc).split())}")
        raise


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
        return f"[{len(self.done) + len(self.running)}/{len(self.minutes)}] {unit} started" \
               f"{' ' + where if where else ''} ({self._times()})"

    def finished(self, unit: str, where: str, seconds: float) -> str:
        self.running.pop(unit, None)
        self.done.add(unit)
        return f"{unit} done {where} in {format_seconds(seconds)} ({self._times()})"
