"""The same work in PyTorch on the CPU, for the benchmarks' comparison: never a dependency.

``load(threads)`` gives the ``torch`` module with ``threads`` intra-op threads, or None when
PyTorch cannot be imported (the comparison is then skipped). The network is the benchmarks'
dense MLP (``torch.nn.Linear`` layers; ReLU, or Hardtanh(0, beta) for a layer capped at beta),
with nprelu's weights copied in when given, so both sides do the same matrix products.
"""
from __future__ import annotations

import numpy as np


def load(threads: int):
    """``torch`` with ``threads`` intra-op threads, or None when it cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(threads))
    return torch


def mlp(torch, sizes, caps, net=None, seed=0):
    """``torch.nn.Sequential`` of the dense network ``sizes`` with ``caps``; nprelu's ``net``'s
    weights (W: fan_in x fan_out, so Linear.weight = W^T) when given, else PyTorch's init."""
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(caps):  # capped ReLU: clamp to [0, beta]; plain ReLU where beta is None
            layers.append(torch.nn.ReLU() if caps[i] is None else torch.nn.Hardtanh(0.0, caps[i]))
    model = torch.nn.Sequential(*layers)
    if net is not None:
        linear = [m for m in model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for m, W, b in zip(linear, net.W, net.b):
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(net.backend.to_host(W).T)))
                m.bias.copy_(torch.from_numpy(np.array(net.backend.to_host(b))))
    return model


def tensor(torch, a, dtype=None):
    """A CPU tensor holding a copy of the (host or device) array ``a``."""
    from nprelu.backend import to_host
    t = torch.from_numpy(np.array(to_host(a)))
    return t if dtype is None else t.to(dtype)


def pgd(torch, model, x, y, eps, step, steps, random_start=True, seed=0):
    """Madry et al.'s L-infinity PGD as torchattacks writes it, in place where PyTorch allows:
    a uniform start in the eps-ball (clipped to [0, 1]), then ``steps`` times
    x <- min(max(x + step sign(grad), lo), hi), lo/hi = the eps-ball clipped to [0, 1]. The
    gradient is each sample's own cross-entropy's (the loss summed); no parameter gradients."""
    for p in model.parameters():
        p.requires_grad_(False)
    lo, hi = (x - eps).clamp_(0.0, 1.0), (x + eps).clamp_(0.0, 1.0)
    xa = x.clone()
    if random_start:
        gen = torch.Generator().manual_seed(seed)
        xa.add_(torch.empty_like(xa).uniform_(-eps, eps, generator=gen)).clamp_(0.0, 1.0)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(xa), y, reduction="sum")
        g, = torch.autograd.grad(loss, xa)
        with torch.no_grad():
            xa = xa.detach().add_(g.sign_(), alpha=step)
            torch.maximum(xa, lo, out=xa)
            torch.minimum(xa, hi, out=xa)
    return xa


def train_epoch(torch, model, opt, x, y, batch):
    """One epoch of mini-batch training on shuffled batches of ``batch`` rows, with the
    bookkeeping nprelu's loop does too (running loss, correct count); ``(loss, correct)``."""
    order = torch.randperm(len(y))
    loss_sum, correct = 0.0, 0
    loss_fn = torch.nn.CrossEntropyLoss()
    for k in range(0, len(y), batch):
        idx = order[k:k + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        opt.step()
        loss_sum = loss_sum + loss.detach() * len(yb)
        correct = correct + (logits.detach().argmax(dim=1) == yb).sum()
    return float(loss_sum), int(correct)
