r"""Mini-batch training with Adam on softmax cross-entropy.

Each epoch draws a seeded permutation of the training set and takes one Adam step per batch of
``batch_size`` rows (the last batch may be smaller)::

    theta <- Adam(theta, d/dtheta (1/B) sum_{n in batch} -log softmax(Z(x_n))_{y_n})

An optional ``batch_hook(net, x_batch, y_batch) -> x_batch'`` replaces each batch's inputs
before the step: adversarial training (FGSM or PGD examples made against the current weights)
plugs in there without a second loop. The history records, per epoch, the mean training loss
and training accuracy over the batches as they were seen (as Keras reports them), and the test
accuracy after the epoch when test data are given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .optim import Adam
from .progress import Progress


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
    """Fraction of rows of ``x`` whose predicted class equals ``y``."""
    if len(y) == 0:
        return float("nan")
    return float((net.predict(x, batch_size) == y).sum()) / len(y)


def train(net, x, y, *, epochs=20, batch_size=128, lr=1e-3, seed=0, x_test=None, y_test=None,
          batch_hook=None, optimizer=None, label="train") -> History:
    """Train ``net`` in place on (``x``, ``y``); returns the per-epoch :class:`History`.

    ``x`` and ``y`` may be host or device arrays; they are moved to the network's device once.
    The shuffle uses ``seed`` alone, so the same seed and data give the same weights.
    """
    be = net.backend
    x, y = be.asarray(x), be.asarray(y)
    if x_test is not None:
        x_test, y_test = be.asarray(x_test), be.asarray(y_test)
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    opt = optimizer or Adam(net.params, lr=lr)
    rng = be.rng(seed)
    n = len(y)
    n_batches = math.ceil(n / batch_size)
    history = History()
    progress = Progress(label, epochs * n_batches)
    for epoch in range(epochs):
        order = be.asarray(rng.permutation(n))
        loss_sum, correct = 0.0, 0
        for k in range(n_batches):
            idx = order[k * batch_size:(k + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if batch_hook is not None:
                xb = batch_hook(net, xb, yb)
            loss, grads, logits = net.loss_and_grads(xb, yb)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"{label}: loss became {loss} at epoch {epoch + 1}, batch {k + 1}; lower the "
                    "learning rate or check the inputs for NaN")
            opt.step(grads)
            loss_sum += loss * len(yb)
            correct += int((logits.argmax(axis=1) == yb).sum())
            progress.update(info=f"epoch {epoch + 1} loss {loss:.4f}")
        history.loss.append(loss_sum / n)
        history.train_acc.append(correct / n)
        if x_test is not None:
            history.test_acc.append(accuracy(net, x_test, y_test))
    progress.close()
    return history
