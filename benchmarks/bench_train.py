"""One training epoch of the 784-392-196-10 network (batch 128, Adam), against the matmul rate.

Useful FLOPs per sample and epoch, counting a multiply-add as 2 (biases, activations, the loss
and Adam are not counted: they are the overhead we measure against)::

    forward            2 * sum_i fan_in_i * fan_out_i
    weight gradients   2 * sum_i fan_in_i * fan_out_i
    input gradients    2 * sum_{i >= 1} fan_in_i * fan_out_i    (none for the first layer)

Run: ``python benchmarks/bench_train.py [--backend numpy|cupy] [--epochs N]``. The matrix-multiply
rate is measured in the same run, so the ratio is meaningful on a shared, noisy machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # runs from a clone without installing

from matmul import matmul_gflops  # noqa: E402

from nprelu.backend import get_backend  # noqa: E402
from nprelu.data import load_mnist  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.train import train  # noqa: E402

SIZES = [784, 392, 196, 10]


def training_flops_per_sample(sizes) -> float:
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None)
    ap.add_argument("--epochs", type=int, default=2, help="epochs timed; the best is reported")
    args = ap.parse_args(argv)
    be = get_backend(args.backend)
    x, y, _, _ = load_mnist()
    x, y = be.asarray(x), be.asarray(y)
    rate = matmul_gflops(be)
    net = MLP(SIZES, caps=[None, 0.1], seed=0, backend=be)
    train(net, x[:1280], y[:1280], epochs=1)  # warm-up
    best = float("inf")
    for e in range(args.epochs):
        be.synchronize()
        t = time.perf_counter()
        train(net, x, y, epochs=1, seed=e)
        be.synchronize()
        best = min(best, time.perf_counter() - t)
    gflops = training_flops_per_sample(SIZES) * len(y) / best / 1e9
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, backend {be.name}")
    print(f"float32 matmul rate (4096^3): {rate:8.1f} GFLOP/s")
    print(f"train epoch, 60000 samples, batch 128: {best:.3f} s, {gflops:.1f} GFLOP/s useful, "
          f"{100 * gflops / rate:.0f}% of matmul")


if __name__ == "__main__":
    main()
