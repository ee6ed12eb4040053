r"""Mini-batch training with Adam on softmax cross-entropy.

Each epoch draws a seeded permutation of the training set and takes one Adam step per batch of
``batch_size`` rows (the last batch may be smaller)::

    theta <- Adam(theta, d/dtheta (1/B) sum_{n in batch} -log softmax(Z(x_n))_{y_n})

An optional ``batch_hook(net, x_batch, y_batch) -> x_batch'`` replaces each batch's inputs
before the step: adversarial training (FGSM or PGD examples made against the current weights)
plugs in there without a second loop. Each step is :func:`~nprelu.threaded_step.train_step`:
the loss and gradients of :mod:`nprelu.network`, computed on the backend's threads, and Adam. The history records, per epoch, the mean training loss
and training accuracy over the batches as they were seen (as Keras reports them), and the test
accuracy after the epoch when test data are given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .checks import check_int
from .network import check_batch, check_labels
from .optim import CHUNK, Adam
from .progress import Progress
from .threaded_step import train_step


CHECK_EVERY = 20  # batches between reads of the running loss (each read waits for a GPU)


class TrainingError(RuntimeError):
    """Training cannot go on (the loss became NaN or infinite)."""


@dataclass
class History:
    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"loss": self.loss, "train_acc": self.train_acc, "test_acc": self.test_acc}


def accuracy(net, x, y, batch_size=8192) -> float:
    """Fraction of the rows of ``x`` classified as ``y``: (1/N) sum_n 1[argmax Z(x_n) = y_n].

    The one accuracy of the package (``measures.standard_accuracy`` and ``robust_accuracy`` are
    this function on clean and on adversarial inputs). ``x``, ``y`` may be host or device
    arrays; nan when N = 0. ValueError unless ``x`` is (N, n_in) and ``y`` holds N integer labels
    in [0, n_out) (:func:`~nprelu.network.check_labels`).
    """
    be = net.backend
    x = be.asarray(x)
    check_batch(x, net.sizes[0])
    y = check_labels(be.xp.asarray(y), net.sizes[-1], n=len(x))
    if len(y) == 0:
        return float("nan")
    return float((net.predict(x, batch_size) == y).sum()) / len(y)


def adam_for(net, lr=1e-3) -> Adam:
    """The Adam that :func:`train` uses on ``net.theta``, the one flat vector of the network's
    weights and biases, in a few array operations a step: on one CPU thread in cache-sized
    chunks (:data:`~nprelu.optim.CHUNK`), on several threads or a GPU in one piece per thread
    (fewer, longer operations share the GIL better); the numbers are the same either way."""
    be = net.backend
    return Adam([net.theta], lr=lr, chunk=CHUNK if be.block_rows and be.threads == 1 else None)


def train(net, x, y, *, epochs=20, batch_size=128, lr=1e-3, seed=0, x_test=None, y_test=None,
          batch_hook=None, label="train", optimizer=None) -> History:
    """Train ``net`` in place on (``x``, ``y``); returns the per-epoch :class:`History`.

    ``x`` and ``y`` may be host or device arrays; they are moved to the network's device once.
    The shuffle uses ``seed`` alone, so the same seed and data give the same weights.

    ValueError before any step unless ``x`` is (N, n_in) with N >= 1, ``y`` holds N integer
    labels in [0, n_out), ``x_test``/``y_test`` likewise (both or neither), epochs >= 0 and
    batch_size >= 1 are integers. The values of ``x`` are not checked: a NaN shows up as a
    non-finite loss (:class:`TrainingError`).

    ``optimizer``: an :func:`adam_for` ``net`` to go on with, its moments and step count, so
    that several calls continue one optimization (each call shuffles with its own ``seed``; a
    benchmark times its epochs so); by default a new one with ``lr``.
    """
    be = net.backend
    x, y = _training_data(net, x, y, "x", "y")
    if len(x) == 0:
        raise ValueError("x is empty: there is nothing to train on")
    if (x_test is None) != (y_test is None):
        raise ValueError("pass both x_test and y_test, or neither")
    if x_test is not None:
        x_test, y_test = _training_data(net, x_test, y_test, "x_test", "y_test")
    epochs, batch_size = check_int("epochs", epochs, 0), check_int("batch_size", batch_size)
    opt = optimizer if optimizer is not None else adam_for(net, lr)
    if opt.params[0] is not net.theta:
        raise ValueError("optimizer updates other arrays than this network's theta")
    rng = be.rng(seed)
    n = len(y)
    n_batches = math.ceil(n / batch_size)
    history = History()
    progress = Progress(label, epochs * n_batches)
    for epoch in range(epochs):
        order = be.asarray(rng.permutation(n))
        loss_sum, correct = 0.0, 0  # device scalars after the first batch
        for k in range(n_batches):
            idx = order[k * batch_size:(k + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if batch_hook is not None:
                xb = batch_hook(net, xb, yb)
            loss, logits = train_step(net, opt, xb, yb)
            loss_sum = loss_sum + loss * float(len(yb))
            correct = correct + (logits.argmax(axis=1) == yb).sum()
            if (k + 1) % CHECK_EVERY == 0 or k + 1 == n_batches:
                running = float(loss_sum)
                if not math.isfinite(running):
                    raise TrainingError(
                        f"{label}: loss became {running} in epoch {epoch + 1} (by batch {k + 1}); "
                        "lower the learning rate or check the inputs for NaN")
                progress.update(CHECK_EVERY if (k + 1) % CHECK_EVERY == 0 else n_batches % CHECK_EVERY,
                                info=f"epoch {epoch + 1} loss {float(loss):.4f}")
        history.loss.append(float(loss_sum) / n)
        history.train_acc.append(int(correct) / n)
        if x_test is not None:
            history.test_acc.append(accuracy(net, x_test, y_test))
    progress.close()
    return history


def _training_data(net, x, y, x_name, y_name):
    """``(x, y)`` on the network's device, checked: (N, n_in) inputs and N labels in [0, n_out)."""
    be = net.backend
    x = be.asarray(x)
    check_batch(x, net.sizes[0], x_name)
    y = check_labels(be.xp.asarray(y), net.sizes[-1], n=len(x), name=y_name)
    return x, y
