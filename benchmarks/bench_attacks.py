"""Attack speed on MNIST: PGD (10 steps) on 10,000 test images, a CW-L2 iteration, a zero-gradient
PGD step, and CW-L2 at the paper's settings.

The 784-392-196-10 network is trained for one epoch first (``--train-epochs``; 0 keeps the Glorot
initialization), so that the attacks meet a realistic network: CW's early abort and the
zero-gradient search depend on it.

Useful FLOPs of one gradient evaluation on one image, counting a multiply-add as 2 (biases,
activations, the loss and the attack's own elementwise work are the overhead measured against)::

    forward          2 sum_i fan_in_i * fan_out_i
    input backward   2 sum_i fan_in_i * fan_out_i      (every layer, down to dJ/dx)

PGD takes one per step and image. A CW-L2 iteration takes one per active image (the logits of
the forward pass feed the hinge, the backward pass its gradient); it is timed on ``--cw-batch``
images for ``--cw-iter`` iterations of one search step without early abort, so every image stays
active. Zero-gradient PGD evaluates the gradient of each image ``steps_n + 1`` times (at x_0 ..
x_{steps_n}; ``steps_n`` = ``max_steps`` where no zero gradient was found), and the FLOPs are
summed over those evaluations, since images that reach a zero gradient leave the batch.
APGD-CE (``--apgd-steps`` steps, one restart) evaluates it ``steps + 1`` times per image.

Every rate is compared with the float32 matrix-multiply rate measured in the same run. Each path
runs ``--repeats`` times; its rate is that of the best run (the matrix-multiply rate is a best
too), and the median time is printed beside it. CW-L2 at the paper's settings (9 search steps,
10000 iterations, lr 0.01, c_init 0.001, abort early) is reported as images per second on
``--cw-samples`` test images (0 skips it).

Run: ``python benchmarks/bench_attacks.py [--backend numpy|cupy] [--cw-samples N]``. NumPy's BLAS
uses every core unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) says otherwise. With
``OPENBLAS_NUM_THREADS=1`` the attacks split their rows over ``NPRELU_THREADS`` Python threads
(default: every core; :mod:`nprelu.parallel`), each with one BLAS thread, which is the fast
setting on the CPU; the matrix-multiply rate is then measured on as many threads::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_attacks.py                  # 2 cores
    OPENBLAS_NUM_THREADS=1 NPRELU_THREADS=1 python benchmarks/bench_attacks.py # one core

When PyTorch can be imported, PGD-10 (same network and weights, eps, step, steps, a random
start, sign steps with projection, the cross-entropy of each sample) is timed in PyTorch on the
CPU in the same process, one PyTorch run after each of ours, with as many threads as ours keeps
busy, and the ratio of the times is printed. PyTorch is not a dependency; without it (or with
``--no-torch``) the comparison is skipped.
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
from matmul import cores_used, matmul_gflops, median_seconds, paired_seconds, setting  # noqa: E402

from nprelu.attacks import apgd, cw_l2, pgd, zero_gradient_pgd  # noqa: E402
from nprelu.backend import get_backend  # noqa: E402
from nprelu.network import MLP  # noqa: E402
from nprelu.train import accuracy, train  # noqa: E402

SIZES = [784, 392, 196, 10]
PGD = {"eps": 0.1, "step": 0.01, "steps": 10, "random_start": True}
CW = {"c_init": 1e-3, "search_steps": 9, "max_iter": 10000, "lr": 1e-2, "abort_early": True}


def gradient_flops(sizes) -> float:
    """Useful FLOPs of one input-gradient evaluation (forward + backward to dJ/dx), one image."""
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2.0 * (2 * macs)


def pgd_flops_per_sample(sizes, steps) -> float:
    return steps * gradient_flops(sizes)


def cw_iteration_flops(sizes, n) -> float:
    """One CW-L2 iteration on ``n`` active images: a forward and an input backward each."""
    return n * gradient_flops(sizes)


def zero_gradient_flops(sizes, steps_taken) -> float:
    """Zero-gradient PGD: image n's gradient is evaluated ``steps_n + 1`` times."""
    return float((steps_taken + 1).sum()) * gradient_flops(sizes)


def row(name, median, best, flops, rate) -> str:
    """One table line: seconds (median and best), and the useful rate of the best run."""
    gflops = flops / best / 1e9
    return (f"{name:<50} {median:9.3f} {best:9.3f} {gflops:9.1f} {100 * gflops / rate:8.0f}%")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None, help="numpy or cupy (default $NPRELU_BACKEND)")
    ap.add_argument("--train-epochs", type=int, default=1)
    ap.add_argument("--pgd-samples", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    ap.add_argument("--cw-iter", type=int, default=50, help="iterations in the CW-iteration timing")
    ap.add_argument("--zg-steps", type=int, default=20, help="max_steps in the zero-gradient timing")
    ap.add_argument("--apgd-steps", type=int, default=20,
                    help="steps in the APGD-CE timing (0 skips it)")
    ap.add_argument("--cw-samples", type=int, default=None,
                    help="images for CW at the paper's settings (default 1000 on cupy, 100 on "
                         "numpy; 0 skips it)")
    ap.add_argument("--cw-max-iter", type=int, default=CW["max_iter"])
    ap.add_argument("--cw-batch", type=int, default=1000, help="CW batch_size (rows attacked together)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)
    be = get_backend(args.backend)
    cw_n = (1000 if be.name == "cupy" else 100) if args.cw_samples is None else args.cw_samples

    x_train, y_train, x_test, y_test = load_mnist_or_exit(__file__)
    x_test, y_test = be.asarray(x_test[:args.pgd_samples]), be.asarray(y_test[:args.pgd_samples])
    rate = matmul_gflops(be)
    net = MLP(SIZES, caps=[None, None], seed=0, backend=be)
    if args.train_epochs:
        train(net, x_train, y_train, epochs=args.train_epochs, seed=0)
    clean = accuracy(net, x_test, y_test)
    n, reps = len(y_test), args.repeats

    torch = None if args.no_torch or be.name != "numpy" else torch_ref.load(cores_used(be))
    ours = lambda: pgd(net, x_test, y_test, seed=0, **PGD)  # noqa: E731
    if torch is None:
        pgd_t = median_seconds(ours, be, reps)
    else:
        model = torch_ref.mlp(torch, SIZES, [None, None], net)
        xt, yt = torch_ref.tensor(torch, x_test), torch_ref.tensor(torch, y_test, torch.long)
        theirs = lambda: torch_ref.pgd(torch, model, xt, yt, PGD["eps"], PGD["step"],  # noqa: E731
                                       PGD["steps"], PGD["random_start"])
        ours_times, torch_times = paired_seconds(ours, theirs, be, reps)
        pgd_t = statistics.median(ours_times), min(ours_times)
        torch_t = statistics.median(torch_times), min(torch_times)
        torch_acc = float((model(theirs()).argmax(dim=1) == yt).float().mean())
    pgd_acc = accuracy(net, ours(), y_test)
    fixed = {**PGD, "random_start": False}  # the same without the host-drawn random start
    pgd0_t = median_seconds(lambda: pgd(net, x_test, y_test, **fixed), be, reps)

    nc = min(args.cw_batch, n)  # one search step, no early abort: every image stays active
    cw_it = {"search_steps": 1, "max_iter": args.cw_iter, "abort_early": False, "batch_size": nc}
    cw_t = median_seconds(lambda: cw_l2(net, x_test[:nc], y_test[:nc], **cw_it), be, reps)
    cw_t = tuple(t / args.cw_iter for t in cw_t)

    zg = {"step": 0.01, "max_steps": args.zg_steps}
    zg_t = median_seconds(lambda: zero_gradient_pgd(net, x_test, y_test, **zg), be, reps)
    zg_res = zero_gradient_pgd(net, x_test, y_test, **zg)
    zg_steps = be.to_host(zg_res.steps)
    zg_found = float(be.to_host(zg_res.found).mean())
    zg_evals = float((zg_steps + 1).sum())

    if args.apgd_steps:
        apgd_kw = {"eps": 0.1, "steps": args.apgd_steps, "loss": "ce", "seed": 0}
        apgd_t = median_seconds(lambda: apgd(net, x_test, y_test, **apgd_kw), be, reps)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"backend {be.name}, {setting(be)}")
    print(f"network {SIZES}, trained {args.train_epochs} epoch(s), clean test accuracy "
          f"{100 * clean:.2f}% on {n}")
    print(f"float32 matmul rate (4096^3, rows on {be.threads} Python thread(s)): "
          f"{rate:.1f} GFLOP/s")
    print()
    print(f"{'hot path (useful GFLOP/s of the best run)':<50} {'median s':>9} {'best s':>9} "
          f"{'GFLOP/s':>9} {'of matmul':>9}")
    pgd_flops = pgd_flops_per_sample(SIZES, PGD["steps"]) * n
    print(row(f"PGD eps 0.1, step 0.01, 10 steps, N={n}", *pgd_t, pgd_flops, rate))
    if torch is not None:
        print(row(f"  PyTorch CPU, {torch.get_num_threads()} threads, same PGD", *torch_t,
                  pgd_flops, rate))
    print(row("  same, no random start", *pgd0_t, pgd_flops, rate))
    if args.apgd_steps:   # steps + 1 gradient evaluations (the start is evaluated too)
        print(row(f"APGD-CE eps 0.1, {args.apgd_steps} steps, N={n}", *apgd_t,
                  pgd_flops_per_sample(SIZES, args.apgd_steps + 1) * n, rate))
    print(row(f"CW-L2 one iteration, N={nc}", *cw_t, cw_iteration_flops(SIZES, nc), rate))
    print(row(f"zero-gradient PGD, max {args.zg_steps} steps, N={n}", *zg_t,
              zero_gradient_flops(SIZES, zg_steps), rate))
    print()
    print(f"PGD robust accuracy {100 * pgd_acc:.2f}%; zero gradient found for {100 * zg_found:.1f}% "
          f"within {args.zg_steps} steps ({zg_evals / n:.1f} gradient evaluations per image)")
    if torch is not None:
        print(f"PGD-10 nprelu / PyTorch time: {pgd_t[1] / torch_t[1]:.2f} (best), "
              f"{pgd_t[0] / torch_t[0]:.2f} (median); PyTorch's robust accuracy "
              f"{100 * torch_acc:.2f}% (its own random start)")

    if cw_n:
        cw_kw = {**CW, "max_iter": args.cw_max_iter}
        xc, yc = x_test[:cw_n], y_test[:cw_n]
        be.synchronize()
        t = time.perf_counter()
        res = cw_l2(net, xc, yc, batch_size=args.cw_batch, **cw_kw)
        be.synchronize()
        cw_s = time.perf_counter() - t
        success = be.to_host(res.success)
        l2 = be.to_host(res.l2)[success]
        print(f"CW-L2 9x{cw_kw['max_iter']} it, abort early, N={cw_n}, batch {args.cw_batch}: "
              f"{cw_s:.2f} s, {cw_n / cw_s:.2f} img/s; success {100 * success.mean():.1f}% "
              f"(mean L2 of successes {l2.mean() if len(l2) else float('nan'):.3f})")


if __name__ == "__main__":
    main()
