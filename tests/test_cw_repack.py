"""CW-L2's rows in blocks (issue 23): abort-early is decided per image, so the rows still
optimizing may be repacked into full blocks at each check (``cw.REPACK``, off by default), and an
image's result does not depend on the other images of its batch, their order, the chunks or the
blocks (up to the BLAS's rounding of a row at another place in a product, which
``rowwise_products`` sets aside)."""
from dataclasses import replace

import numpy as np
import pytest

from attack_helpers import counting, host, rowwise_products
from nprelu.attacks import cw as cw_module
from nprelu.attacks import cw_l2
from nprelu.backend import get_backend
from nprelu.network import MLP

BE = replace(get_backend("numpy", threads=1), block_rows=16)   # CW blocks of 8 rows
N = 40
FIELDS = ("x_adv", "l2", "success", "c")


def case(be=BE):
    rng = np.random.default_rng(7)
    net = MLP([30, 16, 12, 4], [None, 0.4], seed=3, backend=be)
    return net, rng.random((N, 30), dtype=np.float32), rng.integers(0, 4, size=N)


def run(net, x, y, **kw):
    res = cw_l2(net, x, y, **{"search_steps": 3, "max_iter": 60, **kw})
    return {f: host(getattr(res, f)) for f in FIELDS}


def same(a, b, what):
    for f in FIELDS:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f"{what}: {f}")


@pytest.mark.parametrize("options", [{}, {"random_start": 0.05, "restarts": 2, "seed": 4},
                                     {"surrogate": "relu"}], ids=["plain", "restarts", "bpda"])
def test_repacked_blocks_give_each_image_the_result_of_the_old_blocks(options, monkeypatch):
    rowwise_products(monkeypatch)
    monkeypatch.setattr(cw_module, "MIN_BLOCK_ROWS", 3)           # repacked blocks of 3 to 8 rows
    monkeypatch.setattr(cw_module, "REPACK", True)
    net, x, y = case()
    log_new, log_old = [], []
    new = run(counting(net, log_new), x, y, **options)
    monkeypatch.setattr(cw_module, "REPACK", False)
    old = run(counting(case()[0], log_old), x, y, **options)
    same(new, old, "repacked vs old blocks")
    assert new["success"].any() and not new["success"].all()
    # abort-early fired, and repacking ran the same rows in no more blocks (fewer: plain CW;
    # from random starts few rows stop)
    assert sum(log_new) == sum(log_old) < 3 * 60 * N * options.get("restarts", 1)
    assert len(log_new) < len(log_old) if not options else len(log_new) <= len(log_old)


@pytest.mark.parametrize("repack", [False, True])
def test_cw_gives_each_image_the_same_result_shuffled_split_or_in_other_blocks(repack,
                                                                               monkeypatch):
    rowwise_products(monkeypatch)
    monkeypatch.setattr(cw_module, "MIN_BLOCK_ROWS", 3)
    monkeypatch.setattr(cw_module, "REPACK", repack)
    net, x, y = case()
    whole = run(net, x, y)
    perm = np.random.default_rng(3).permutation(N)
    shuffled = run(net, x[perm], y[perm])
    same(shuffled, {f: v[perm] for f, v in whole.items()}, "shuffled")
    halves = [run(net, x[s], y[s]) for s in (slice(0, 17), slice(17, N))]
    same({f: np.concatenate([h[f] for h in halves]) for f in FIELDS}, whole, "split 17 + 23")
    same(run(net, x, y, batch_size=13), whole, "chunks of 13")
    other = case(replace(BE, block_rows=6))[0]                      # blocks of 3 rows
    same(run(other, x, y), whole, "blocks of 3 rows")
    whole_batch = case(replace(BE, block_rows=None))[0]             # one block (the GPU's way)
    same(run(whole_batch, x, y), whole, "one block")


def test_without_abort_early_every_row_runs_every_iteration(monkeypatch):
    monkeypatch.setattr(cw_module, "MIN_BLOCK_ROWS", 3)
    net, x, y = case()
    log = []
    run(counting(net, log), x, y, abort_early=False, search_steps=2, max_iter=7)
    assert log == [8] * (5 * 2 * 7)                 # 5 blocks of 8 rows, 2 x 7 iterations


def test_repacking_never_makes_more_blocks_than_the_first_layout_nor_blocks_under_the_minimum(
        monkeypatch):
    monkeypatch.setattr(cw_module, "REPACK", True)
    act = type("Rows", (), {"__len__": lambda self: self.n})()
    for n, count, sizes in [(400, 2, [200, 200]), (130, 2, [65, 65]), (127, 2, [127]),
                            (5, 2, [5]), (300, 4, [75, 75, 75, 75]), (257, 9, [64, 64, 64, 65])]:
        act.n = n
        got = [s.stop - s.start for s in cw_module._blocks(act, 256, count, BE)]
        assert got == sizes, (n, count)


def test_abort_early_checks_fall_on_iterations_0_and_every_tenth_of_max_iter():
    assert cw_module._segments(25, 2, True) == [(0, 1, True)] + [
        (a, a + 2, True) for a in range(1, 25, 2)]
    assert cw_module._segments(100, 10, True)[:3] == [(0, 1, True), (1, 11, True),
                                                      (11, 21, True)]
    assert cw_module._segments(100, 10, True)[-1] == (91, 100, False)
    assert cw_module._segments(1, 1, True) == [(0, 1, True)]
    assert cw_module._segments(50, 5, False) == [(0, 50, False)]
