"""CW-L2's blocks of rows on the CPU (issue 23): each block on its own rows for the whole binary
search (the path before), larger blocks, or the rows still optimizing repacked into full blocks
at each abort-early check into at most as many blocks, of at least so many rows (nprelu.attacks.cw,
``REPACK``, ``MIN_BLOCK_ROWS``).

Abort-early is per image: every max_iter // 10 iterations an image whose loss L_n did not fall
below 0.9999 times its loss at the previous check stops its search step. Before the repacking a
block kept iterating, with all its per-iteration array operations, for as long as one of its rows
did; the repacked rows form min(K, floor(active / least)) blocks of nearly equal size, K the
first layout's count.

Every setting runs on the same trained network and images, in turn within each repeat (so a
shared machine's load meets all of them alike); the script prints each setting's median and best
seconds, its median CPU seconds (the process's, all threads: less sensitive to other jobs than
the wall clock), the ratios of the old path's medians to its, and whether it gives each image
the old path's result (success the same; L2 up to the rounding of the matrix products: a BLAS
rounds a row differently at another place in a product).

The network is the paper's 784-392-196-10 (HL2 capped at ``--cap``, or not) trained
``--epochs`` epochs on the 60,000 training images, batch 128, seed 0 (a few seconds).

Run (one BLAS thread per Python thread; set here if unset)::

    python benchmarks/bench_cw_blocks.py [--n 500] [--search-steps 3] [--max-iter 1000]
        [--threads 1 2] [--repeats 3] [--cap 0.1]
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # runs from a clone without installing

from data_or_exit import load_mnist_or_exit  # noqa: E402
from matmul import blas_threads  # noqa: E402

from nprelu.attacks import cw as cw_module  # noqa: E402
from nprelu.backend import get_backend  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.paper import GENERAL  # noqa: E402
from nprelu.train import accuracy, train  # noqa: E402

CW = {"c_init": 1e-3, "lr": 1e-2, "kappa": 0.0, "abort_early": True}
#: name: (rows per first CW block, repack, least rows per repacked block). The CW block is half
#: the backend's block_rows.
SETTINGS = {"old: blocks of 256": (256, False, 0), "blocks of 512": (512, False, 0),
            "repacked, >= 64 rows": (256, True, 64), "repacked, >= 128 rows": (256, True, 128)}
OLD = "old: blocks of 256"


def attack(net, be, setting, x, y, kw):
    block, repack, least = setting
    variant = copy.copy(net)
    variant.backend = dataclasses.replace(be, block_rows=2 * block)
    saved = cw_module.REPACK, cw_module.MIN_BLOCK_ROWS
    cw_module.REPACK, cw_module.MIN_BLOCK_ROWS = repack, least
    try:
        return cw_module.cw_l2(variant, x, y, **kw)
    finally:
        cw_module.REPACK, cw_module.MIN_BLOCK_ROWS = saved


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="test images attacked")
    ap.add_argument("--search-steps", type=int, default=3)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--cap", type=float, default=None, help="HL2's cap (default: uncapped)")
    ap.add_argument("--only", nargs="+", default=None,
                    help="names of SETTINGS to time beside the old path")
    args = ap.parse_args(argv)
    base = get_backend("numpy")
    x_train, y_train, x_test, y_test = load_mnist_or_exit(__file__)
    net = MLP(list(GENERAL), [None, args.cap], seed=0, backend=base)
    t0 = time.perf_counter()
    train(net, x_train, y_train, epochs=args.epochs, seed=0)
    train_s = time.perf_counter() - t0
    x, y = base.asarray(x_test[:args.n]), y_test[:args.n]
    kw = {**CW, "search_steps": args.search_steps, "max_iter": args.max_iter}
    settings = {k: v for k, v in SETTINGS.items() if k == OLD or k in (args.only or SETTINGS)}
    print(f"{blas_threads()}; load average {os.getloadavg()[0]:.2f} at start")
    print(f"network {list(GENERAL)}, HL2 cap {args.cap}, trained {args.epochs} epoch(s) in "
          f"{train_s:.1f} s, clean accuracy {accuracy(net, x, y):.3f} on {args.n} images")
    print(f"CW-L2 {args.search_steps} x {args.max_iter}, {args.n} images, "
          f"{args.repeats} repeats")
    for threads in args.threads:
        be = dataclasses.replace(base, threads=threads)
        times = {k: [] for k in settings}
        cpu = {k: [] for k in settings}
        last = {}
        for _ in range(args.repeats):
            for name, setting in settings.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                last[name] = attack(net, be, setting, x, y, kw)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
            print("  repeat (wall / CPU s): " + ", ".join(
                f"{k} {v[-1]:.1f} / {cpu[k][-1]:.1f}" for k, v in times.items()), flush=True)
        ref = last[OLD]
        old, old_cpu = statistics.median(times[OLD]), statistics.median(cpu[OLD])
        print(f"\n{threads} thread(s); load average {os.getloadavg()[0]:.2f} after")
        print(f"{'setting':<26} {'median s':>9} {'best s':>9} {'old/this':>9} {'CPU s':>7} "
              f"{'old/this':>9}  per image vs old")
        for name, res in last.items():
            same = bool((be.to_host(res.success) == be.to_host(ref.success)).all())
            dl2 = float(abs(be.to_host(res.l2) - be.to_host(ref.l2)).max())
            med = statistics.median(times[name])
            med_cpu = statistics.median(cpu[name])
            print(f"{name:<26} {med:9.2f} {min(times[name]):9.2f} {old / med:9.2f} "
                  f"{med_cpu:7.1f} {old_cpu / med_cpu:9.2f}  "
                  f"success {'same' if same else 'DIFFERS'}, max |dL2| {dl2:.1e}")
        ok = float(be.to_host(ref.success).mean())
        print(f"old path: success {ok:.3f}, mean L2 of successes "
              f"{float(be.to_host(ref.l2)[be.to_host(ref.success)].mean()):.3f}")


if __name__ == "__main__":
    main()
