"""Adam against updates computed by hand, and the training loop."""
import pathlib
import re

import numpy as np
import pytest

from nprelu.network import MLP
from nprelu.optim import FLUSH_EVERY, Adam, flush_subnormals
from nprelu.train import TrainingError, accuracy, adam_for, train


def test_adam_matches_the_papers_formulas_step_by_step():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    p = np.array([1.0, -2.0, 0.5])
    grads = [np.array([0.1, -0.3, 2.0]), np.array([0.2, 0.1, -1.0]), np.array([-0.5, 0.0, 0.3])]
    opt = Adam([p], lr=lr, beta1=b1, beta2=b2, eps=eps)
    ref, m, v = p.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        opt.step([g])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        ref = ref - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(p, ref, rtol=1e-12, atol=1e-15)
    # the first step of Adam moves every coordinate with a non-zero gradient by lr * sign(g)
    q = np.zeros(2)
    Adam([q], lr=0.5).step([np.array([3.0, -1e-3])])
    np.testing.assert_allclose(q, [-0.5, 0.5], rtol=1e-3)


def test_adam_in_chunks_and_in_parts_gives_the_whole_update_bit_for_bit():
    """The update is elementwise: pieces of the flat vector (the CPU's cache-sized chunks, the
    training step's slices of theta updated by two threads) change no number."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=1000).astype(np.float32)
    grads = [rng.normal(size=1000).astype(np.float32) for _ in range(4)]
    whole, chunked, parts = start.copy(), start.copy(), start.copy()
    opts = [Adam([whole]), Adam([chunked], chunk=64), Adam([parts], chunk=100)]
    for g in grads:
        opts[0].step([g])
        opts[1].step([g])
        opts[2].advance()
        for part in (slice(0, 333), slice(333, 1000)):
            opts[2].update(0, g, part)
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(parts, whole)


def _subnormal(a):
    return (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)


def test_flushing_subnormal_moments_leaves_the_weights_bit_for_bit():
    """Gradients that stop (as a unit held at its cap gives) drive m into the subnormals, where
    it sticks at the smallest one; the flush sets it to 0 and changes no weight. Whole, in
    chunks and in two parts, against Adam without the flush."""
    rng = np.random.default_rng(1)
    n, steps = 1000, 4 * FLUSH_EVERY
    start = rng.normal(scale=0.05, size=n).astype(np.float32)
    stopped = rng.random(n) < 0.5       # tiny gradients that stop after 20 steps
    back = stopped & (rng.random(n) < 0.1)   # and a few that come back at step 350
    grads = []
    for t in range(steps):
        g = rng.normal(scale=1e-3, size=n).astype(np.float32)
        g[stopped] = 0 if t >= 20 else g[stopped] * np.float32(1e-27)
        if t >= 350:
            g[back] = rng.normal(scale=1e-3, size=int(back.sum()))
        grads.append(g)
    runs = {"slow": (start.copy(), {"flush_every": None}), "whole": (start.copy(), {}),
            "chunked": (start.copy(), {"chunk": 64}), "parts": (start.copy(), {"chunk": 100})}
    opts = {k: Adam([p], **kw) for k, (p, kw) in runs.items()}
    for g in grads:
        for k, opt in opts.items():
            if k == "parts":
                opt.advance()
                for part in (slice(0, 333), slice(333, n)):
                    opt.update(0, g, part)
            else:
                opt.step([g])
    slow = opts["slow"].m[0]
    assert _subnormal(slow).sum() > 0.3 * n, "the case must reach the subnormals to test anything"
    assert slow.dtype == np.float32
    for k in ("whole", "chunked", "parts"):
        np.testing.assert_array_equal(runs[k][0], runs["slow"][0])   # the weights
        m = opts[k].m[0]
        assert not _subnormal(m).any() and not _subnormal(opts[k].v[0]).any()
        assert (m[_subnormal(slow)] == 0).all()
        np.testing.assert_array_equal(m[~_subnormal(slow)], slow[~_subnormal(slow)])


def test_flush_subnormals_zeroes_exactly_the_subnormals():
    tiny = np.finfo(np.float32).tiny
    a = np.array([0.0, tiny, -tiny, tiny / 2, -tiny / 4, 1.4e-45, 1.0, -3e-30], np.float32)
    flush_subnormals(a)
    np.testing.assert_array_equal(a, np.array([0, tiny, -tiny, 0, 0, 0, 1, -3e-30], np.float32))


def test_adam_reset_forgets_state():
    p = np.zeros(2)
    opt = Adam([p], lr=0.1)
    opt.step([np.ones(2)])
    opt.reset()
    assert opt.t == 0 and not opt.m[0].any() and not opt.v[0].any()


def test_adam_rejects_bad_settings():
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam([np.zeros(1)], lr=0)
    with pytest.raises(ValueError, match="beta1 and beta2"):
        Adam([np.zeros(1)], beta1=1.0)


def _toy(n=256, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d), dtype=np.float32)
    y = (x[:, 0] + x[:, 1] > x[:, 2] + x[:, 3]).astype(np.int64)
    return x, y


def test_training_learns_a_toy_problem_and_records_history():
    x, y = _toy()
    net = MLP([12, 16, 2], seed=0)
    h = train(net, x, y, epochs=15, batch_size=32, lr=1e-2, x_test=x, y_test=y)
    assert len(h.loss) == len(h.train_acc) == len(h.test_acc) == 15
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.test_acc[-1] > 0.9 and accuracy(net, x, y) == h.test_acc[-1]


def test_training_is_bit_identical_for_the_same_seed():
    x, y = _toy()
    runs = []
    for _ in range(2):
        net = MLP([12, 8, 6, 2], caps=[None, 0.5], seed=4)
        h = train(net, x, y, epochs=3, batch_size=50, seed=11)
        runs.append((net, h))
    (a, ha), (b, hb) = runs
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
    assert ha.loss == hb.loss and ha.train_acc == hb.train_acc
    net = MLP([12, 8, 6, 2], caps=[None, 0.5], seed=4)
    train(net, x, y, epochs=3, batch_size=50, seed=12)
    assert not np.array_equal(net.W[0], a.W[0])


def test_training_goes_on_with_the_optimizer_it_is_given():
    """``optimizer``: a fresh one is the default's, bit for bit; a carried one continues its
    moments and step count; one over other arrays is refused."""
    x, y = _toy()
    nets = [MLP([12, 8, 2], caps=[0.5], seed=2) for _ in range(3)]
    train(nets[0], x, y, epochs=2, batch_size=64, seed=5)
    opt = adam_for(nets[1])
    train(nets[1], x, y, epochs=2, batch_size=64, seed=5, optimizer=opt)
    np.testing.assert_array_equal(nets[1].theta, nets[0].theta)
    assert opt.t == 2 * 4
    moved = nets[1].theta.copy()
    train(nets[1], x, y, epochs=1, batch_size=64, seed=6, optimizer=opt)
    assert opt.t == 3 * 4
    fresh = MLP([12, 8, 2], caps=[0.5], seed=2)
    fresh.theta[...] = moved
    train(fresh, x, y, epochs=1, batch_size=64, seed=6)   # the same weights, moments forgotten
    assert not np.array_equal(fresh.theta, nets[1].theta)
    with pytest.raises(ValueError, match="other arrays than this network's theta"):
        train(nets[2], x, y, epochs=1, optimizer=opt)


def test_batch_hook_replaces_each_batch_before_the_step():
    x, y = _toy(n=100)
    seen = []

    def hook(net, xb, yb):
        seen.append(len(yb))
        return np.zeros_like(xb)  # train on blank inputs: only the biases can learn

    net = MLP([12, 4, 2], seed=0)
    w0 = net.W[0].copy()
    train(net, x, y, epochs=2, batch_size=30, batch_hook=hook)
    assert seen == [30, 30, 30, 10] * 2
    assert np.array_equal(net.W[0], w0)  # zero inputs give zero first-layer weight gradients


def test_nan_loss_fails_early_and_clearly():
    x, y = _toy(n=64)
    x[5, 0] = np.nan
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 1 \(by batch 1\)"):
        train(MLP([12, 4, 2]), x, y, epochs=2, batch_size=64)


def test_training_is_quiet_when_output_is_not_a_terminal(capfd):
    x, y = _toy(n=64)
    train(MLP([12, 4, 2]), x, y, epochs=1, batch_size=16)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_line_is_drawn_on_a_terminal():
    import io
    from nprelu.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    s = Tty()
    p = Progress("train", 4, stream=s)
    for _ in range(4):
        p.update(info="epoch 1")
    p.close()
    assert "train 4/4" in s.getvalue() and "left" in s.getvalue()


COMPUTE_MODULES = ("network.py", "losses.py", "optim.py", "activations.py", "train.py",
                   "measures.py", "attacks", "gradcheck.py")


def test_only_the_backend_imports_numpy_or_cupy():
    """Compute modules take xp from nprelu.backend; host I/O (data, checkpoint, plots) may not."""
    root = pathlib.Path(__file__).resolve().parents[1] / "nprelu"
    pattern = re.compile(r"^\s*(import|from)\s+(numpy|cupy)\b", re.M)
    offenders = []
    for name in COMPUTE_MODULES:
        target = root / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for f in files:
            if f.exists() and pattern.search(f.read_text()):
                offenders.append(str(f.relative_to(root)))
    assert offenders == []
    assert pattern.search((root / "backend.py").read_text())


@pytest.mark.slow
def test_real_mnist_network_reaches_96_percent_in_two_epochs(mnist):
    """The issue's bar: 784-392-196-10, cap 0.1 on HL2, 2 epochs of Adam at batch 128."""
    x_train, y_train, x_test, y_test = mnist
    net = MLP([784, 392, 196, 10], caps=[None, 0.1], seed=0)
    h = train(net, x_train, y_train, epochs=2, batch_size=128, x_test=x_test, y_test=y_test)
    assert h.test_acc[-1] >= 0.96, h
