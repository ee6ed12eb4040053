"""One training epoch of the 784-392-196-10 network (batch 128, Adam), against the matmul rate.

Useful FLOPs per sample and epoch, counting a multiply-add as 2 (biases, activations, the loss
and Adam are not counted: they are the overhead we measure against)::

    forward            2 * sum_i fan_in_i * fan_out_i
    weight gradients   2 * sum_i fan_in_i * fan_out_i
    input gradients    2 * sum_{i >= 1} fan_in_i * fan_out_i    (none for the first layer)

Run: ``python benchmarks/bench_train.py [--backend numpy|cupy] [--epochs N]``. The matrix-multiply
rate is measured in the same run, so the ratio is meaningful on a shared, noisy machine; the
fraction is that of the best epoch (the matrix-multiply rate is a best too), and the median epoch
is printed beside it. NumPy's BLAS uses every core unless ``OPENBLAS_NUM_THREADS`` says otherwise;
the elementwise work (activations, loss, Adam) runs on one core either way.

When PyTorch can be imported, the same epoch (same sizes, cap, batch, Adam settings) is timed in
PyTorch on the CPU in the same process, for comparison; PyTorch is not a dependency, and the
comparison is skipped without it.
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

from matmul import blas_threads, matmul_gflops  # noqa: E402

from nprelu.backend import get_backend, to_host  # noqa: E402
from nprelu.data import load_mnist  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.train import train  # noqa: E402

SIZES = [784, 392, 196, 10]
CAPS = [None, 0.1]
BATCH = 128


def training_flops_per_sample(sizes) -> float:
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def torch_epoch_seconds(x, y, epochs, seed=0):
    """Seconds of each of ``epochs`` epochs of the same training in PyTorch on the CPU (after a
    warm-up), and PyTorch's thread count; None when PyTorch cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(CAPS):  # capped ReLU: clamp to [0, beta]; plain ReLU where beta is None
            layers.append(torch.nn.ReLU() if CAPS[i] is None else torch.nn.Hardtanh(0.0, CAPS[i]))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(to_host(x)), torch.from_numpy(to_host(y)).long()

    def epoch(n):
        order = torch.randperm(n)
        loss_sum, correct = 0.0, 0
        for k in range(0, n, BATCH):
            idx = order[k:k + BATCH]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            loss_sum = loss_sum + loss.detach() * len(yb)  # the bookkeeping ours does too
            correct = correct + (logits.detach().argmax(dim=1) == yb).sum()
        return float(loss_sum), int(correct)

    epoch(10 * BATCH)  # warm-up
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        epoch(len(yt))
        times.append(time.perf_counter() - t)
    return times, torch.get_num_threads()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None)
    ap.add_argument("--epochs", type=int, default=3, help="epochs timed (best and median reported)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)
    be = get_backend(args.backend)
    x, y, _, _ = load_mnist()
    x, y = be.asarray(x), be.asarray(y)
    rate = matmul_gflops(be)
    net = MLP(SIZES, caps=CAPS, seed=0, backend=be)
    train(net, x[:10 * BATCH], y[:10 * BATCH], epochs=1, batch_size=BATCH)  # warm-up
    times = []
    for e in range(args.epochs):
        be.synchronize()
        t = time.perf_counter()
        train(net, x, y, epochs=1, batch_size=BATCH, seed=e)
        be.synchronize()
        times.append(time.perf_counter() - t)
    best, median = min(times), statistics.median(times)
    flops = training_flops_per_sample(SIZES) * len(y)
    gflops = flops / best / 1e9
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"backend {be.name}, {blas_threads()}")
    print(f"float32 matmul rate (4096^3): {rate:8.1f} GFLOP/s")
    print(f"train epoch, {len(y)} samples, batch {BATCH}: best {best:.3f} s (median {median:.3f} s "
          f"of {len(times)}), {gflops:.1f} GFLOP/s useful, {100 * gflops / rate:.0f}% of matmul "
          f"(median: {100 * flops / median / 1e9 / rate:.0f}%)")
    ref = None if args.no_torch else torch_epoch_seconds(x, y, args.epochs)
    if ref is None:
        print("PyTorch: not compared (not importable, or --no-torch)")
    else:
        torch_times, threads = ref
        tbest = min(torch_times)
        print(f"PyTorch CPU ({threads} threads), same epoch: best {tbest:.3f} s (median "
              f"{statistics.median(torch_times):.3f} s), {flops / tbest / 1e9:.1f} GFLOP/s useful, "
              f"{100 * flops / tbest / 1e9 / rate:.0f}% of matmul; ours / PyTorch time: "
              f"{best / tbest:.2f}")


if __name__ == "__main__":
    main()
