"""Attack speed on MNIST: PGD (10 steps) on 10,000 test images and CW-L2 at the paper's settings.

The 784-392-196-10 network is trained for one epoch first (``--train-epochs``; 0 keeps the Glorot
initialization), so that the attack meets a realistic network: CW's early abort depends on it.

Useful FLOPs of one PGD step on N images, counting a multiply-add as 2 (the loss, sign, clip and
projection are the overhead measured against)::

    forward          2 N sum_i fan_in_i * fan_out_i
    input backward   2 N sum_i fan_in_i * fan_out_i      (every layer, down to dJ/dx)

and are compared with the float32 matrix-multiply rate measured in the same run. CW-L2 is
reported as samples per second at the paper's settings (9 search steps, 10000 iterations,
lr 0.01, c_init 0.001, abort early) on ``--cw-samples`` test images.

Run: ``python benchmarks/bench_attacks.py [--backend numpy|cupy] [--cw-samples N]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # runs from a clone without installing

from matmul import best_seconds, matmul_gflops  # noqa: E402

from nprelu.attacks import cw_l2, pgd  # noqa: E402
from nprelu.backend import get_backend  # noqa: E402
from nprelu.data import load_mnist  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.train import accuracy, train  # noqa: E402

SIZES = [784, 392, 196, 10]
PGD = {"eps": 0.1, "step": 0.01, "steps": 10, "random_start": True}
CW = {"c_init": 1e-3, "search_steps": 9, "max_iter": 10000, "lr": 1e-2, "abort_early": True}


def pgd_flops_per_sample(sizes, steps) -> float:
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return steps * 2.0 * (2 * macs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None, help="numpy or cupy (default $NPRELU_BACKEND)")
    ap.add_argument("--train-epochs", type=int, default=1)
    ap.add_argument("--pgd-samples", type=int, default=10000)
    ap.add_argument("--cw-samples", type=int, default=None,
                    help="images for CW (default 1000 on cupy, 100 on numpy)")
    ap.add_argument("--cw-max-iter", type=int, default=CW["max_iter"])
    ap.add_argument("--cw-batch", type=int, default=1000, help="CW batch_size (rows attacked together)")
    args = ap.parse_args(argv)
    be = get_backend(args.backend)
    cw_n = args.cw_samples or (1000 if be.name == "cupy" else 100)

    x_train, y_train, x_test, y_test = load_mnist()
    x_test, y_test = be.asarray(x_test[:args.pgd_samples]), be.asarray(y_test[:args.pgd_samples])
    rate = matmul_gflops(be)
    net = MLP(SIZES, caps=[None, None], seed=0, backend=be)
    if args.train_epochs:
        train(net, x_train, y_train, epochs=args.train_epochs, seed=0)
    clean = accuracy(net, x_test, y_test)

    n = len(y_test)
    pgd_s = best_seconds(lambda: pgd(net, x_test, y_test, seed=0, **PGD), be, repeats=3, min_time=0.0)
    pgd_gflops = pgd_flops_per_sample(SIZES, PGD["steps"]) * n / pgd_s / 1e9
    pgd_acc = accuracy(net, pgd(net, x_test, y_test, seed=0, **PGD), y_test)
    fixed = {**PGD, "random_start": False}  # the same without the host-drawn random start
    pgd0_s = best_seconds(lambda: pgd(net, x_test, y_test, **fixed), be, repeats=3, min_time=0.0)
    pgd0_gflops = pgd_flops_per_sample(SIZES, PGD["steps"]) * n / pgd0_s / 1e9

    cw_kw = {**CW, "max_iter": args.cw_max_iter}
    xc, yc = x_test[:cw_n], y_test[:cw_n]
    be.synchronize()
    t = time.perf_counter()
    res = cw_l2(net, xc, yc, batch_size=args.cw_batch, **cw_kw)
    be.synchronize()
    cw_s = time.perf_counter() - t
    success = be.to_host(res.success)
    l2 = be.to_host(res.l2)[success]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"backend {be.name}")
    print(f"network {SIZES}, trained {args.train_epochs} epoch(s), clean test accuracy "
          f"{100 * clean:.2f}% on {n}")
    print(f"float32 matmul rate (4096^3): {rate:.1f} GFLOP/s")
    print()
    print(f"{'attack':<52} {'seconds':>9} {'throughput':>18} {'GFLOP/s':>9} {'of matmul':>9}")
    print(f"{'PGD eps 0.1, step 0.01, 10 steps, N=' + str(n):<52} {pgd_s:9.3f} "
          f"{n / pgd_s:12.0f} img/s {pgd_gflops:9.1f} {100 * pgd_gflops / rate:8.0f}%")
    print(f"{'  same, no random start':<52} {pgd0_s:9.3f} "
          f"{n / pgd0_s:12.0f} img/s {pgd0_gflops:9.1f} {100 * pgd0_gflops / rate:8.0f}%")
    print(f"{'CW-L2 9x' + str(cw_kw['max_iter']) + ' it, abort early, N=' + str(cw_n) + ', batch ' + str(args.cw_batch):<52} "
          f"{cw_s:9.2f} {cw_n / cw_s:12.2f} img/s {'-':>9} {'-':>9}")
    print()
    print(f"PGD robust accuracy {100 * pgd_acc:.2f}%; CW success {100 * success.mean():.1f}% "
          f"(mean L2 of successes {l2.mean() if len(l2) else float('nan'):.3f})")


if __name__ == "__main__":
    main()
