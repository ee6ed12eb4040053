#!/usr/bin/env python3
"""Reproduce every figure and Table 1 of "Is ReLU Adversarially Robust?" in one command.

    python run_all.py                       # the paper profile: paper settings, fixed test subsets
    python run_all.py --profile quick       # everything on small subsets, a few minutes
    python run_all.py --full                # no subsets (meant for a GPU: --backend cupy)
    python run_all.py --only fig04 table1   # some experiments (by summary key)
    python run_all.py --seeds 3             # Table 1 over 3 seeds, mean and spread

Outputs in ``--out`` (default ``results/``): ``models/*.npz``, ``summary.json``, one PNG per
figure, ``table1.md`` and ``REPORT.md``. Everything is written atomically and the run is
resumable: run the same command again after an interruption and it continues where it stopped,
giving the same numbers as an uninterrupted run.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from nprelu.backend import get_backend
from nprelu.data import load_mnist
from nprelu.experiments import EXPERIMENTS, PROFILES, Context, table1
from nprelu.experiments.context import same_run
from nprelu.progress import log

# Rough wall-clock minutes of each experiment per profile on a 2-core CPU (measured; see
# docs/benchmarks.md); used only for the estimate printed at the start.
ESTIMATE_MINUTES = {
    "quick": {"fig01-02": 0.3, "fig03": 0.0, "fig04": 0.3, "fig05": 0.2, "fig06": 0.4,
              "fig08": 0.2, "fig09": 0.2, "fig10": 0.2, "fig11": 0.05, "table1": 0.5, "adaptive": 0.5},
    "paper": {"fig01-02": 10, "fig03": 0, "fig04": 6, "fig05": 4, "fig06": 16, "fig08": 6,
              "fig09": 4, "fig10": 10, "fig11": 0.5, "table1": 40, "adaptive": 10},
}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="paper")
    ap.add_argument("--full", action="store_true", help="lift every test subset (profile 'full')")
    ap.add_argument("--out", type=Path, default=Path("results"))
    ap.add_argument("--backend", choices=["numpy", "cupy"], default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="repeat Table 1 over this many seeds")
    ap.add_argument("--only", nargs="+", metavar="EXP", help=f"among: {' '.join(EXPERIMENTS)}")
    ap.add_argument("--data", type=Path, default=None, help="MNIST directory (else $NPRELU_DATA)")
    args = ap.parse_args(argv)
    if args.full:
        args.profile = "full"
    if args.only:
        unknown = [e for e in args.only if e not in EXPERIMENTS]
        if unknown:
            ap.error(f"unknown experiment(s) {', '.join(unknown)}; choose among {', '.join(EXPERIMENTS)}")
    if args.seeds < 1:
        ap.error("--seeds must be >= 1")
    return args


def load_summary(path: Path, run_meta: dict) -> dict:
    """The summary of an earlier run with the same profile and seed, else a fresh one."""
    if path.exists():
        try:
            summary = json.loads(path.read_text())
            if same_run(summary.get("meta", {}), run_meta):
                return summary
            log(f"{path}: made with other settings; starting a fresh summary")
        except (json.JSONDecodeError, OSError) as exc:
            log(f"{path}: unreadable ({exc}); starting a fresh summary")
    return {"meta": {**run_meta, "settings": {}, "wall_seconds": {}, "done": []}}


def main(argv=None) -> int:
    args = parse_args(argv)
    profile = PROFILES[args.profile]
    backend = get_backend(args.backend)
    selected = args.only or list(EXPERIMENTS)
    run_meta = {"profile": profile.name, "seed": args.seed, "profile_settings": asdict(profile)}
    args.out.mkdir(parents=True, exist_ok=True)
    summary = load_summary(args.out / "summary.json", run_meta)
    meta = summary["meta"]
    meta.update(backend=backend.name, subsets=profile.describe_subsets())
    meta.setdefault("started", datetime.datetime.now().isoformat(timespec="seconds"))
    todo = [e for e in selected if e not in meta["done"]]
    if args.seeds > 1:
        todo.append("table1_seeds") if "table1_seeds" not in meta["done"] else None
    est = ESTIMATE_MINUTES.get(profile.name, ESTIMATE_MINUTES["paper"])
    total = sum(est.get(e, est["table1"] * (args.seeds - 1) if e == "table1_seeds" else 0) for e in todo)
    log(f"nprelu run_all: profile {profile.name}, backend {backend.name}, seed {args.seed}, out {args.out}")
    log(f"to do: {', '.join(todo) or 'nothing (all done)'}; estimated {total:.0f} min on 2 CPU cores"
        + (" (a GPU is much faster)" if backend.name == "cupy" else ""))

    x_train, y_train, x_test, y_test = load_mnist(args.data)
    data = tuple(backend.asarray(a) for a in (x_train, y_train, x_test, y_test))
    ctx = Context(args.out, profile, backend, args.seed, data, summary)
    start = time.perf_counter()
    for k, name in enumerate(todo, start=1):
        t = time.perf_counter()
        elapsed = t - start
        left = sum(est.get(e, 0) for e in todo[k - 1:]) * 60
        log(f"[{k}/{len(todo)}] {name} (elapsed {elapsed / 60:.1f} min, ~{left / 60:.0f} min left)")
        if name == "table1_seeds":
            numbers = {"table1_seeds": table1.run_seeds(ctx, args.seeds)}
            settings = {"seeds": list(range(args.seed, args.seed + args.seeds))}
        else:
            numbers, settings = EXPERIMENTS[name][0](ctx)
        ctx.record(name, numbers, settings, time.perf_counter() - t)
    ctx.refresh()  # with what a concurrent run (another --only list) has added meanwhile
    write_outputs(summary, args.out)
    log(f"done in {(time.perf_counter() - start) / 60:.1f} min; report: {args.out / 'REPORT.md'}")
    return 0


def write_outputs(summary: dict, out: Path) -> None:
    from nprelu.plots import plot_all
    from nprelu.report import write_report, write_table1
    plot_all(summary, out)
    if "table1" in summary:
        write_table1(summary, out)
    write_report(summary, out)


if __name__ == "__main__":
    sys.exit(main())
