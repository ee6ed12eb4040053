"""Work in fixed pieces on threads: the pieces themselves, the thread runner, the backend's thread
setting, and the promise that a result never depends on the thread count."""
import dataclasses
import threading

import numpy as np
import pytest

from nprelu.attacks import apgd, cw_l2, fgsm, pgd, zero_gradient_pgd
from nprelu.backend import BackendError, cpu_count, get_backend
from nprelu.network import MLP
from nprelu.parallel import flat_parts, over_rows, row_blocks, run
from nprelu.train import train


# ---- the pieces ------------------------------------------------------------------------------
@pytest.mark.parametrize("n, size", [(10000, 512), (513, 512), (512, 512), (7, 3), (1, 512),
                                     (128, 64)])
def test_row_blocks_cover_the_rows_in_order_with_lengths_that_differ_by_at_most_one(n, size):
    blocks = row_blocks(n, size)
    assert len(blocks) == -(-n // size)
    assert blocks[0].start == 0 and blocks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(blocks[:-1], blocks[1:]))
    lengths = [b.stop - b.start for b in blocks]
    assert max(lengths) - min(lengths) <= 1 and max(lengths) <= size


def test_row_blocks_keep_a_batch_whole_without_a_size_and_give_one_empty_block_for_none():
    assert row_blocks(10000, None) == [slice(0, 10000)]
    assert row_blocks(0, 512) == [slice(0, 0)]


@pytest.mark.parametrize("sizes", [[784, 392, 196, 10], [5, 4, 3, 2], [3, 2]])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_flat_parts_cut_theta_between_weight_rows_into_balanced_slices(sizes, parts):
    net = MLP(sizes, seed=0)
    blocks = [(a, b) if i % 2 == 0 else (1, b)
              for a, b in zip(sizes[:-1], sizes[1:]) for i in range(2)]
    cut = flat_parts(blocks, parts)
    assert len(cut) == parts and cut[0].flat.start == 0 and cut[-1].flat.stop == net.theta.size
    assert all(a.flat.stop == b.flat.start for a, b in zip(cut[:-1], cut[1:]))
    seen = np.zeros(net.theta.size, dtype=int)     # every entry of theta in exactly one piece
    views = net.grads
    base = net.grad.__array_interface__["data"][0]
    for part in cut:
        for k, rows in part.pieces:
            piece = views[k] if k % 2 else views[k][rows]   # a bias is one row: all of it
            start = (piece.__array_interface__["data"][0] - base) // piece.itemsize
            assert part.flat.start <= start and start + piece.size <= part.flat.stop
            seen[start:start + piece.size] += 1
    assert (seen == 1).all()
    widest = max(w for _, w in blocks)   # each cut is within one row of its share
    assert all(abs(p.flat.stop - p.flat.start - net.theta.size / parts) <= 2 * widest for p in cut)


@pytest.mark.parametrize("n, batch_size, block", [(23, 10, 4), (23, None, 4), (5, 10, None),
                                                    (1024, 1000, 512)])
def test_over_rows_hands_out_each_chunk_in_its_row_blocks_in_row_order(n, batch_size, block):
    be = dataclasses.replace(get_backend("numpy", threads=2), block_rows=512)
    pieces = over_rows(be, n, lambda rows: rows, batch_size, rows_per_block=block)
    size = batch_size or n
    expected = [slice(start + r.start, start + r.stop) for start in range(0, n, size)
                for r in row_blocks(min(size, n - start), block)]
    assert pieces == expected and pieces[0].start == 0 and pieces[-1].stop == n
    assert over_rows(be, 1024, lambda rows: rows) == row_blocks(1024, 512)   # the backend's


def test_over_rows_gives_one_empty_piece_for_no_rows():
    be = get_backend("numpy", threads=2)
    assert over_rows(be, 0, lambda rows: rows, 10) == [slice(0, 0)]


def test_over_rows_lets_the_blocks_of_a_chunk_enter_their_turns_in_row_order():
    be = dataclasses.replace(get_backend("numpy", threads=2), block_rows=3)
    entered = []

    def work(rows, turn):
        if rows.start % 2 == 0:      # let some blocks reach their turn late
            threading.Event().wait(0.01)
        with turn():
            entered.append(rows.start)
        return rows.start

    starts = over_rows(be, 40, work, 20, in_turn=True)
    assert entered == starts == sorted(starts) and len(starts) == 2 * len(row_blocks(20, 3))


# ---- the runner ------------------------------------------------------------------------------
def test_run_returns_results_in_task_order_and_uses_several_threads():
    both = threading.Barrier(2, timeout=10)    # breaks unless two tasks run at the same time
    idents = set()

    def task(i):
        if i < 2:
            both.wait()
        idents.add(threading.get_ident())
        return i * i
    assert run([lambda i=i: task(i) for i in range(6)], threads=2) == [i * i for i in range(6)]
    assert len(idents) == 2


def test_run_raises_a_tasks_error_and_then_runs_again():
    def bad():
        raise KeyError("task 3")
    with pytest.raises(KeyError, match="task 3"):
        run([lambda: 1, lambda: 2, bad, lambda: 4], threads=2)
    assert run([lambda: 1, lambda: 2], threads=2) == [1, 2]


def test_a_run_inside_a_task_and_a_run_with_one_thread_stay_on_their_thread():
    def inner():
        here = threading.get_ident()
        return run([threading.get_ident, threading.get_ident], threads=2) == [here, here]
    assert run([inner, inner], threads=2) == [True, True]
    assert run([threading.get_ident] * 3, threads=1) == [threading.get_ident()] * 3


# ---- the setting -----------------------------------------------------------------------------
def test_thread_count_comes_from_nprelu_threads_else_from_a_one_thread_blas(monkeypatch):
    for var in ("NPRELU_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    assert get_backend("numpy").threads == 1          # the BLAS threads its own products
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert get_backend("numpy").threads == cpu_count()
    monkeypatch.setenv("NPRELU_THREADS", "3")
    assert get_backend("numpy").threads == 3
    assert get_backend("numpy", threads=2).threads == 2
    for bad in ("0", "two", "1.5"):
        monkeypatch.setenv("NPRELU_THREADS", bad)
        with pytest.raises(BackendError, match="NPRELU_THREADS must be an integer >= 1"):
            get_backend("numpy")
    assert get_backend("numpy", threads=1).block_rows == 512


# ---- results never depend on the thread count ------------------------------------------------
def _pair(sizes, caps, block_rows=64):
    """The same float32 network on one thread and on two, both in blocks of ``block_rows``."""
    be = get_backend("numpy")
    one = dataclasses.replace(be, threads=1, block_rows=block_rows)
    two = dataclasses.replace(be, threads=2, block_rows=block_rows)
    a, b = MLP(sizes, caps, seed=3, backend=one), MLP(sizes, caps, seed=3, backend=two)
    return a, b


def _data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d), dtype=np.float32), rng.integers(0, k, size=n)


@pytest.mark.parametrize("attack", [
    lambda net, x, y: pgd(net, x, y, eps=0.1, step=0.01, steps=5, random_start=True, seed=4),
    lambda net, x, y: pgd(net, x, y, eps=0.1, step=0.02, steps=4, early_stop=True, batch_size=150),
    lambda net, x, y: fgsm(net, x, y, eps=0.1),
    lambda net, x, y: zero_gradient_pgd(net, x, y, step=0.05, max_steps=8, eps=0.3).x_final,
    lambda net, x, y: cw_l2(net, x[:90], y[:90], search_steps=2, max_iter=20).x_adv,
    lambda net, x, y: net.logits(x, batch_size=250),
    lambda net, x, y: apgd(net, x, y, eps=0.1, steps=12, loss="dlr", restarts=2, seed=5,
                           surrogate="softplus", batch_size=150),
], ids=["pgd", "pgd-early-stop", "fgsm", "zero-gradient", "cw", "logits", "apgd"])
def test_attacks_and_evaluations_are_bit_identical_on_one_thread_and_on_two(attack):
    one, two = _pair([30, 16, 12, 4], [None, 0.4])
    x, y = _data(400, 30, 4)
    np.testing.assert_array_equal(attack(one, x, y), attack(two, x, y))


def test_training_is_bit_identical_on_one_thread_and_on_two():
    one, two = _pair([30, 16, 12, 4], [None, 0.4])
    x, y = _data(300, 30, 4)
    h1 = train(one, x, y, epochs=2, batch_size=64, seed=5)
    h2 = train(two, x, y, epochs=2, batch_size=64, seed=5)
    np.testing.assert_array_equal(one.theta, two.theta)
    assert h1.loss == h2.loss and h1.train_acc == h2.train_acc


def test_a_batch_in_blocks_matches_the_batch_as_one_piece():
    """Blocks change which rows share a matrix product, which a BLAS may round differently;
    the values agree to float32 rounding."""
    one, _ = _pair([30, 16, 12, 4], [None, 0.4])
    whole = MLP([30, 16, 12, 4], [None, 0.4], seed=3,
                backend=dataclasses.replace(one.backend, block_rows=None))
    x, y = _data(400, 30, 4)
    kw = {"eps": 0.1, "step": 0.01, "steps": 5, "random_start": True, "seed": 4}
    np.testing.assert_allclose(pgd(one, x, y, **kw), pgd(whole, x, y, **kw), atol=1e-6)
    np.testing.assert_allclose(one.logits(x), whole.logits(x), rtol=1e-5, atol=1e-6)
    loss1, _, _ = one.loss_and_grads(x[:128], y[:128])
    g1 = one.grad.copy()
    loss2, _, _ = whole.loss_and_grads(x[:128], y[:128])
    np.testing.assert_allclose(loss1, loss2, rtol=1e-6)
    np.testing.assert_allclose(g1, whole.grad, rtol=1e-4, atol=1e-7)
