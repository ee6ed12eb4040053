"""One training epoch of the 784-392-196-10 network (batch 128, Adam), against the matmul rate.

Useful FLOPs per sample and epoch, counting a multiply-add as 2 (biases, activations, the loss
and Adam are not counted: they are the overhead we measure against)::

    forward            2 * sum_i fan_in_i * fan_out_i
    weight gradients   2 * sum_i fan_in_i * fan_out_i
    input gradients    2 * sum_{i >= 1} fan_in_i * fan_out_i    (none for the first layer)

The epochs are those of one training run (one Adam, its moments carried from epoch to epoch, as
in the experiments), so that what builds up over a run shows: under a small cap many moments
decay into the subnormal floats unless they are flushed (:mod:`nprelu.optim`). ``--no-flush``
times, in the same run and from the same weights, a second network whose Adam never flushes
(``flush_every=None``), one epoch of it after each of ours, and prints the ratio per epoch.

Run: ``python benchmarks/bench_train.py [--backend numpy|cupy] [--epochs N]``. The matrix-multiply
rate is measured in the same run, on as many threads as the training uses, so the ratio is
meaningful on a shared, noisy machine; the fraction is that of the best epoch (the
matrix-multiply rate is a best too), and the median epoch is printed beside it.

Threads: NumPy's BLAS uses every core unless ``OPENBLAS_NUM_THREADS`` says otherwise. With
``OPENBLAS_NUM_THREADS=1`` a training step splits its work over ``NPRELU_THREADS`` Python
threads (default: every core; :mod:`nprelu.parallel`), which is the fast setting on the CPU::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_train.py          # 2 cores: 2 threads
    OPENBLAS_NUM_THREADS=1 NPRELU_THREADS=1 python benchmarks/bench_train.py   # one core

When PyTorch can be imported, the same epoch (same sizes, cap, batch, Adam settings) is timed in
PyTorch on the CPU in the same process, with as many threads as ours keeps busy, one PyTorch
epoch after each of ours, with PyTorch's flush of subnormals to zero on during its epochs
(``torch.set_flush_denormal``; without it its epochs slow down as ours did); the ratio of the
times (best and median) is printed. PyTorch is not a
dependency, and the comparison is skipped without it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # runs from a clone without installing

import torch_ref  # noqa: E402
from data_or_exit import load_mnist_or_exit  # noqa: E402
from matmul import cores_used, matmul_gflops, setting  # noqa: E402

from nprelu.backend import get_backend  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.train import adam_for, train  # noqa: E402

SIZES = [784, 392, 196, 10]
BATCH = 128


def training_flops_per_sample(sizes) -> float:
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None)
    ap.add_argument("--epochs", type=int, default=3, help="epochs timed (best and median reported)")
    ap.add_argument("--cap", type=float, default=0.1, help="beta of HL2 (default 0.1)")
    ap.add_argument("--no-flush", action="store_true",
                    help="also time Adam without the flush of subnormal moments, same weights")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)
    be = get_backend(args.backend)
    x, y, _, _ = load_mnist_or_exit(__file__)
    x, y = be.asarray(x), be.asarray(y)
    rate = matmul_gflops(be)
    caps = [None, args.cap]
    net = MLP(SIZES, caps=caps, seed=0, backend=be)
    cores = cores_used(be)
    torch = None if args.no_torch or be.name != "numpy" else torch_ref.load(cores)
    if torch is not None:
        model = torch_ref.mlp(torch, SIZES, caps)
        torch_opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
        xt, yt = torch_ref.tensor(torch, x), torch_ref.tensor(torch, y, torch.long)
        torch_ref.train_epoch(torch, model, torch_opt, xt[:10 * BATCH], yt[:10 * BATCH], BATCH)
    train(MLP(SIZES, caps, backend=be), x[:10 * BATCH], y[:10 * BATCH], epochs=1,
          batch_size=BATCH)  # warm-up, on a network of its own
    slow = MLP(SIZES, caps=caps, seed=0, backend=be) if args.no_flush else None
    opt = adam_for(net)
    slow_opt = None if slow is None else opt.like([slow.theta], flush_every=None)
    times, torch_times, slow_times = [], [], []
    for e in range(args.epochs):  # ours and the others in turn, so that all meet the same load
        for model_e, opt_e, out in ((net, opt, times), (slow, slow_opt, slow_times)):
            if model_e is None:
                continue
            be.synchronize()
            t = time.perf_counter()
            train(model_e, x, y, epochs=1, batch_size=BATCH, seed=e, optimizer=opt_e)
            be.synchronize()
            out.append(time.perf_counter() - t)
        if torch is not None:
            # PyTorch's own switch for what nprelu's Adam does (nprelu.optim): subnormals flushed
            # to zero, set in the CPU for this thread only while its epoch runs, so that ours
            # runs without it
            torch.set_flush_denormal(True)
            t = time.perf_counter()
            torch_ref.train_epoch(torch, model, torch_opt, xt, yt, BATCH)
            torch_times.append(time.perf_counter() - t)
            torch.set_flush_denormal(False)
    best, median = min(times), statistics.median(times)
    flops = training_flops_per_sample(SIZES) * len(y)
    gflops = flops / best / 1e9
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"backend {be.name}, {setting(be)}")
    print(f"float32 matmul rate (4096^3, rows on {be.threads} Python thread(s)): "
          f"{rate:8.1f} GFLOP/s")
    print(f"train epoch, {len(y)} samples, batch {BATCH}: best {best:.3f} s (median {median:.3f} s "
          f"of {len(times)}), {gflops:.1f} GFLOP/s useful, {100 * gflops / rate:.0f}% of matmul "
          f"(median: {100 * flops / median / 1e9 / rate:.0f}%)")
    print("epochs in order: " + ", ".join(f"{t:.3f}" for t in times) + " s")
    if slow_times:
        print("without the flush of subnormal moments, same weights: "
              + ", ".join(f"{t:.3f}" for t in slow_times) + " s; ours / that: "
              + ", ".join(f"{a / b:.2f}" for a, b in zip(times, slow_times))
              + f"; all epochs {sum(times) / sum(slow_times):.2f}; the same weights at the end: "
              + str(bool((be.to_host(net.theta) == be.to_host(slow.theta)).all())))
    if not torch_times:
        print("PyTorch: not compared (not importable, --no-torch, or not the numpy backend)")
        return
    tbest, tmedian = min(torch_times), statistics.median(torch_times)
    print(f"PyTorch CPU ({torch.get_num_threads()} threads), same epoch: best {tbest:.3f} s "
          f"(median {tmedian:.3f} s), {flops / tbest / 1e9:.1f} GFLOP/s useful, "
          f"{100 * flops / tbest / 1e9 / rate:.0f}% of matmul")
    print(f"nprelu / PyTorch time: {best / tbest:.2f} (best), {median / tmedian:.2f} (median)")


if __name__ == "__main__":
    main()
