#!/usr/bin/env python3
"""Reproduce every figure and Table 1 of "Is ReLU Adversarially Robust?" in one command.

    python run_all.py                       # the paper profile: paper settings, fixed test subsets
    python run_all.py --profile quick       # everything on small subsets, a few minutes
    python run_all.py --full                # no subsets (meant for a GPU: --backend cupy)
    python run_all.py --only fig04 table1   # some experiments (by registry key)
    python run_all.py --seeds 3             # every experiment over 3 seeds, mean and interval
    python run_all.py --jobs 1              # one process (default: one worker per core)
    python run_all.py --cluster local:4     # on a Dask cluster (or --cluster tcp://host:8786)

Outputs in ``--out`` (default ``results/``): ``models/*.npz``, ``summary.json``, one PNG per
figure, ``table1.md`` and ``REPORT.md``. Everything is written atomically and the run is
resumable: run the same command again after an interruption and it continues where it stopped,
giving the same numbers as an uninterrupted run. A folder holding another run's results (other
profile, seeds or settings) is refused unless ``--overwrite`` is given: two runs never mix.

The work is split into units (an experiment, or one trained network or one row of Table 1 of a
long one; ``nprelu/runner/units.py``) run by ``--jobs N`` worker processes with one BLAS
thread each (``nprelu/runner/jobs.py``), or by a Dask cluster's workers with ``--cluster``
(``nprelu/runner/cluster.py``); finished units are kept in ``units/`` until their
experiment is recorded, so an interrupted run resumes unit by unit.

Mistakes are reported in one line, ``run_all.py: error: ...``, naming the problem and the fix,
before any data is loaded where they can be, and leave no empty ``--out`` behind. Exit status 2
is a mistake in what the run was given: a bad argument, an ``--out`` that cannot be written, or a
``--data`` or ``$NPRELU_DATA`` that is empty, missing, or lacks or holds a bad MNIST file. Exit
status 1 is an error of the run: no CuPy, a folder holding another run, a failed download into
the cache, a full disk, ... ``--debug`` shows the traceback instead. ``~`` is expanded in
``--out`` and ``--data``; a run of experiments that need no data (Figure 3) neither looks for nor
downloads MNIST.

What runs, and in which order, is the registry ``nprelu.experiments.EXPERIMENTS``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from nprelu.backend import BackendError, get_backend
from nprelu.checkpoint import CheckpointError
from nprelu.data import DataError, data_given, find_data_dir, load_mnist
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.runner.config import describe_subsets, describe_training
from nprelu.runner.context import Context
from nprelu.runner.cluster import check_address, missing_distributed
from nprelu.runner.jobs import WorkerError, WorkerSetup, clip_jobs, default_jobs, \
    run_experiments
from nprelu.runner.schema import SummaryError
from nprelu.runner.folder import REPORT_FILES, set_aside
from nprelu.runner.summary import SummaryFile, run_meta
from nprelu.progress import format_seconds, log

PROG = "run_all.py"
DEFAULT_PROFILE = "paper"
#: What a run writes into ``--out`` besides ``models/``, and what ``--overwrite`` clears.
SUMMARY, REPORTS = "summary.json", REPORT_FILES
#: Errors of a run that are reported in one line (exit status 1) unless ``--debug``.
RUN_ERRORS = (BackendError, DataError, SummaryError, CheckpointError, OSError, WorkerError)


class UsageError(Exception):
    """An argument that cannot work (exit status 2), found after parsing (``--out``)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line naming the problem (argparse would print the usage block first)."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def profile_minutes(profile: str) -> float:
    """Expected wall-clock minutes of a default run (one seed) of ``profile`` on 2 CPU cores."""
    return sum(e.estimate(profile) for e in EXPERIMENTS.values())


def _directory(text: str) -> Path:
    """An argparse ``type`` for ``--out`` and ``--data``: ``~`` expanded, empty refused."""
    if not text:
        raise argparse.ArgumentTypeError("empty; give a directory")
    return Path(text).expanduser()


def _cluster(text: str) -> str:
    """An argparse ``type`` for ``--cluster`` (``runner/cluster.check_address``)."""
    try:
        return check_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv=None):
    durations = {p: format_seconds(60 * profile_minutes(p)) for p in ("quick", "paper")}
    ap = _Parser(
        prog=PROG, description=__doc__.split("\n\n")[0],
        epilog=f"The default profile ({DEFAULT_PROFILE}) takes about {durations['paper']} on 2 "
               f"CPU cores, the quick profile about {durations['quick']}; the estimate of each "
               "run is printed at its start. An interrupted run resumes when the same command is "
               "run again.")
    ap.add_argument("--profile", choices=sorted(PROFILES), default=None,
                    help=f"how much of the paper's work to do: quick (small subsets and few "
                         f"epochs, ~{durations['quick']}), paper (the paper's settings, test "
                         f"subsets where a full evaluation is too slow on a CPU, "
                         f"~{durations['paper']}), full (no subsets, meant for a GPU); "
                         f"default: {DEFAULT_PROFILE}")
    ap.add_argument("--full", action="store_true",
                    help="the same as --profile full (every test subset lifted); default: off")
    ap.add_argument("--out", type=_directory, default=Path("results"), metavar="DIR",
                    help="output directory, created if missing; default: results")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace another run's results found in --out: its summary is kept "
                         f"as {SUMMARY}.previous, its {', '.join(REPORTS)} and figures are "
                         "deleted (trained models in models/ are kept, and reused only when "
                         "trained with the same settings); default: off, such a folder is refused")
    ap.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                    help="numpy (CPU) or cupy (NVIDIA GPU); default: $NPRELU_BACKEND, else numpy")
    ap.add_argument("--seed", type=int, default=0, metavar="N",
                    help="the (first) seed of the networks, attacks and test subsets, >= 0; "
                         "default: 0")
    ap.add_argument("--seeds", type=int, default=1, metavar="N",
                    help="run every experiment that trains or draws at random over N seeds "
                         "(seed, seed + 1, ...: each seed its own initialisation, shuffle, "
                         "random starts and test subsets); the summary keeps each seed's "
                         "numbers, their mean and a 95%% interval; default: 1")
    ap.add_argument("--only", nargs="+", metavar="EXP",
                    help=f"run only these experiments, among: {' '.join(EXPERIMENTS)}; "
                         "default: all")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="worker processes, each with one BLAS thread, that share the units of "
                         "work (trained networks, rows of Table 1); 1 runs everything in this "
                         "process with its BLAS threads; default: the number of cores "
                         f"({default_jobs('numpy')} here) on numpy, 1 on cupy")
    ap.add_argument("--cluster", type=_cluster, default=None, metavar="ADDRESS",
                    help="run the units on a Dask distributed cluster instead of local worker "
                         "processes: a scheduler's address (tcp://host:8786) or scheduler file "
                         "(*.json), or local:N for a cluster of N single-thread worker processes "
                         "on this machine; the workers must share --out (and the MNIST files) "
                         "through the filesystem; needs pip install \"nprelu[cluster]\"; "
                         "default: off")
    ap.add_argument("--data", type=_directory, default=None, metavar="DIR",
                    help="directory holding the four MNIST files (.gz or raw); default: "
                         "$NPRELU_DATA, else ~/.cache/nprelu/mnist (downloaded if missing)")
    ap.add_argument("--debug", action="store_true",
                    help="on an error, show the full traceback instead of one line; default: off")
    args = ap.parse_args(argv)
    if args.full:
        if args.profile not in (None, "full"):
            ap.error(f"--full and --profile {args.profile} contradict each other (--full means "
                     f"--profile full); drop one of them")
        args.profile = "full"
    args.profile = args.profile or DEFAULT_PROFILE
    if args.only:
        unknown = [e for e in args.only if e not in EXPERIMENTS]
        if unknown:
            ap.error(f"unknown experiment(s) {', '.join(unknown)}; choose among {', '.join(EXPERIMENTS)}")
    if args.seed < 0:
        ap.error(f"--seed must be >= 0 (got {args.seed})")
    if args.seeds < 1:
        ap.error(f"--seeds must be >= 1 (got {args.seeds})")
    if args.jobs is not None and args.jobs < 1:
        ap.error(f"--jobs must be >= 1 (got {args.jobs})")
    if args.cluster is not None and args.jobs is not None and args.jobs > 1:
        ap.error(f"--cluster and --jobs {args.jobs} exclude each other (the cluster's workers run "
                 "the units); drop one of them")
    return args


def selected(only) -> list:
    """The experiments a run includes, in registry order."""
    keys = set(only or EXPERIMENTS)
    return [e for key, e in EXPERIMENTS.items() if key in keys]


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that the run stops as on Ctrl-C: the workers are
    stopped and files being written clean up (a BaseException, like KeyboardInterrupt)."""


def _terminate(signum, frame):
    raise Terminated


def main(argv=None) -> int:
    """Run what the arguments ask for; 0 on success, 2 for bad usage, 1 for a run error (each
    reported in one line on stderr, or raised with ``--debug``); 130 after Ctrl-C and 143 after
    SIGTERM, in one line each (finished units are kept: the same command resumes)."""
    args = parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:      # not the main thread (a test): SIGTERM is left as it is
        previous = None
    try:
        return _run(args)
    except (KeyboardInterrupt, Terminated) as exc:
        if args.debug:
            raise
        what, status = ("interrupted", 130) if isinstance(exc, KeyboardInterrupt) else \
            ("terminated", 143)
        print(f"{PROG}: {what}: run the same command to resume", file=sys.stderr)
        return status
    except (UsageError, *RUN_ERRORS) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split())  # one line, whatever the exception's text
        if isinstance(exc, OSError):
            message += ("; fix this and run the same command again: finished experiments are "
                        "kept and the run resumes")
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args) -> int:
    # Everything that can be checked before the data is loaded and anything is computed; what
    # needs no data (Figure 3) does not look for it:
    profile = PROFILES[args.profile]
    backend = get_backend(args.backend)
    if args.cluster is not None and (missing := missing_distributed()):
        raise UsageError(missing)
    if any(e.needs_data for e in selected(args.only)):
        with given_data(args.data):   # a --data or $NPRELU_DATA lacking a file fails here
            find_data_dir(args.data, flag="--data")
    created = check_out_dir(args.out)
    try:
        return _run_in(args, profile, backend)
    except BaseException:
        remove_if_empty(created)      # an early error leaves no empty folder behind
        raise


def _run_in(args, profile, backend) -> int:
    """The run, once its arguments, data directory and ``--out`` are checked."""
    meta = run_meta(profile, args.seed, backend.name, args.seeds)
    meta["subsets"] = {"training": describe_training(profile),
                       **{e.key: describe_subsets(profile, e.subsets)
                          for e in EXPERIMENTS.values() if e.subsets}}
    if args.overwrite:
        clear_previous_run(args.out)
    summary = SummaryFile(args.out, meta, OUTPUTS)
    todo = [e for e in selected(args.only) if e.key not in summary.meta["done"]]
    minutes = [e.estimate(profile.name, args.seeds) for e in todo]
    jobs = 1 if args.cluster else clip_jobs(args.jobs or default_jobs(backend.name))
    seeds = f"seed {args.seed}" if args.seeds == 1 else \
        f"seeds {args.seed}-{args.seed + args.seeds - 1}"
    log(f"nprelu run_all: profile {profile.name}, backend {backend.name}, {seeds}, "
        f"out {args.out}, " + (f"cluster {args.cluster}" if args.cluster else f"jobs {jobs}"))
    log(f"to do: {', '.join(e.key for e in todo) or 'nothing (all done)'}; estimated "
        f"{sum(minutes):.0f} min on 2 CPU cores"
        + (" (on a GPU, training's many small steps are bound by kernel launches: the quick "
           "profile took 2m49s on one H200, docs/benchmarks.md)" if backend.name == "cupy" else ""))

    start = time.perf_counter()
    if todo:
        needs_data = any(e.needs_data for e in todo)
        if needs_data:
            with given_data(args.data):
                load_mnist(args.data)  # downloaded here, once, if it must be (workers read them)
        setup = WorkerSetup(str(args.out), profile, backend.name, args.seed, args.seeds,
                            None if args.data is None else str(args.data), needs_data)
        plan = Context.plan(profile, backend, args.seed, args.seeds)
        run_experiments(todo, plan, summary, args.out, jobs, setup, args.cluster)
    summary.refresh()  # with what a concurrent run (another --only list) has added meanwhile
    write_outputs(summary.data, args.out)
    log(f"done in {format_seconds(time.perf_counter() - start)}; report: {args.out / 'REPORT.md'}")
    return 0


@contextlib.contextmanager
def given_data(data):
    """A :class:`DataError` about a directory given by ``--data`` or ``$NPRELU_DATA`` (missing,
    empty, lacking or holding a bad file) as a :class:`UsageError` (exit status 2); one about the
    download cache (a failed download) stays a run error (1)."""
    try:
        yield
    except DataError as exc:
        if data_given(data):
            raise UsageError(str(exc)) from exc
        raise


def check_out_dir(out: Path) -> list:
    """Create ``out`` if missing and check that files can be written there (and in
    ``out/models`` when it exists); :class:`UsageError` naming the problem and the fix otherwise.
    Returns the directories it created, outermost first (:func:`remove_if_empty`)."""
    models = out / "models"
    for path in (out, models):
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {out}: {path} exists and is not a directory; choose "
                             "another --out")
    missing, path = [], out
    try:
        while not path.exists() and not path.is_symlink():  # the folders to create, innermost first
            missing.append(path)
            path = path.parent
    except OSError as exc:            # a folder above that cannot be searched
        raise UsageError(f"--out {out}: cannot be created ({exc.strerror or exc}); choose "
                         "another --out") from exc
    for link in (path, models):
        if link.is_symlink() and not link.exists():
            raise UsageError(f"--out {out}: {link} is a symbolic link to {os.readlink(link)}, "
                             "which does not exist; create its target, or choose another --out")
    if not path.is_dir():
        raise UsageError(f"--out {out}: cannot be created ({path} is a file); choose another --out")
    created = []
    for directory in reversed(missing):
        try:
            directory.mkdir()
            created.append(directory)
        except FileExistsError:       # made by a run started at the same time: not ours
            if not directory.is_dir():
                raise UsageError(f"--out {out}: {directory} exists and is not a directory; "
                                 "choose another --out") from None
        except OSError as exc:
            remove_if_empty(created)
            raise UsageError(f"--out {out}: {directory} cannot be created "
                             f"({exc.strerror or exc}); choose another --out") from exc
    for directory in (out, models) if models.is_dir() else (out,):
        try:
            fd, probe = tempfile.mkstemp(prefix=".nprelu-write-test.", dir=directory)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            remove_if_empty(created)
            raise UsageError(f"--out {out}: cannot write in {directory} ({exc.strerror or exc}); "
                             "choose a writable --out, or make it writable") from exc
    return created


def remove_if_empty(created: list) -> None:
    """Remove the directories ``check_out_dir`` created, innermost first, as long as they are
    still empty (an early error leaves no empty ``--out`` behind; a concurrent run's files stay)."""
    for directory in reversed(created):
        try:
            directory.rmdir()
        except OSError:               # not empty (or gone): keep it and the folders above it
            return


def clear_previous_run(out: Path) -> None:
    """``--overwrite``: the summary in ``out`` kept as ``summary.json.previous``, the report and
    figures drawn from it deleted (``summary.set_aside``), its finished units too; the models
    stay."""
    kept = (out / SUMMARY).exists()
    removed = set_aside(out, OUTPUTS, ".previous")
    if (out / "units").is_dir():
        shutil.rmtree(out / "units")
        removed.append("units/")
    if removed or kept:
        log(f"--overwrite: removed {', '.join(removed) or 'no report or figure'} from {out}"
            + (f"; the previous summary is kept as {out / SUMMARY}.previous" if kept else ""))


def write_outputs(summary: dict, out: Path) -> None:
    """Figures, ``table1.md`` and ``REPORT.md`` from the summary (see ``nprelu.report``)."""
    from nprelu.report import write_all
    write_all(summary, out)


if __name__ == "__main__":
    sys.exit(main())
