"""Units of work and the worker processes of ``run_all.py --jobs N``: a split experiment equals
its units run apart, a network two processes need is trained once, a failing unit stops the run
and the finished ones resume, and the useful operations are counted (``nprelu.flops``)."""
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import run_all
from nprelu import flops
from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES, Split
from nprelu.experiments.context import Context
from nprelu.experiments.jobs import BLAS_THREAD_VARS, run_unit, worker_environment
from nprelu.experiments.schema import SummaryError
from nprelu.experiments.store import locked
from nprelu.experiments.summary import as_json, check_summary, run_identity, run_meta
from nprelu.experiments.units import UnitFiles

ROOT = Path(__file__).resolve().parents[1]
#: Every experiment in a few seconds: 600 training images, one epoch, tiny test subsets.
TINY = replace(PROFILES["quick"], train_subset=600, epochs=1, adv_epochs=1, n_growth=100,
               n_sweep=50, n_zero=20, zero_max_steps=20, n_sensitivity=50, n_table=100, n_cw=10,
               cw_max_iter=50, cw_search_steps=3, n_adaptive=40, adaptive_queries=50,
               n_checklist=20, checklist_steps=(5, 10), checklist_eps_steps=5, n_fig12=20,
               fig12_queries=30)
#: The split experiments checked, with the seeds each runs over (two where it is cheap).
SPLIT = {"fig01-02": 1, "fig04": 2, "fig08": 1, "table1": 1, "adaptive": 1}


def _numbers(summary):
    """What two runs of the same profile must agree on: every block, the run and the settings
    (not the clocks, the order experiments finished in, the --jobs or the operation counts)."""
    s = json.loads(json.dumps(summary))
    for k in ("wall_seconds", "started", "done", "flops", "matmul_capacity", "jobs"):
        s["meta"].pop(k, None)
    return s


def _context(out, mnist, n_seeds=1):
    be = get_backend("numpy")
    return Context.create(out, TINY, be, 0, tuple(be.asarray(a) for a in mnist), n_seeds)


def test_split_experiments_equal_their_units_run_apart_in_reverse_order(tmp_path, mnist):
    """run(ctx) == combine(run_unit(u) for u in units), seed by seed: here each unit of every
    seed runs last-first, each in a fresh context of another folder (so networks are trained in
    another order and reloaded from their checkpoints), and each seed's combined result is the
    same."""
    for key, n_seeds in SPLIT.items():
        exp = EXPERIMENTS[key]
        assert isinstance(exp.run, Split)
        whole = _context(tmp_path / "whole", mnist, n_seeds=n_seeds)
        plan = Context.plan(TINY, get_backend("numpy"), 0, n_seeds=n_seeds)
        units = exp.units(plan)
        assert len(units) == len(set(units)) > 1
        partials = {u: run_unit(_context(tmp_path / "apart", mnist, n_seeds=n_seeds), exp,
                                u)["partial"] for u in reversed(units)}
        for seed in plan.seeds:
            mine = {u: partials[u] for u in exp.seed_units(plan, seed)}
            assert as_json(exp.combine(plan, seed, mine)) == \
                as_json(exp.run(whole.for_seed(seed))), (key, seed)


_RACE = """
import sys
import numpy as np
from dataclasses import replace
from nprelu.backend import get_backend
from nprelu.experiments import PROFILES
from nprelu.experiments.store import ModelSpec, ModelStore
rng = np.random.default_rng(0)
x = rng.random((2000, 784), dtype=np.float32)
y = rng.integers(0, 10, 2000)
profile = replace(PROFILES["quick"], train_subset=None, epochs=2, adv_epochs=1)
store = ModelStore(sys.argv[1], profile, get_backend("numpy"), (x, y))
adv = None if sys.argv[2] == "none" else sys.argv[2]
net = store.model(ModelSpec((784, 64, 10), (None,), adv=adv))
base = store.model(ModelSpec((784, 64, 10), (None,)))
print(float(np.asarray(base.theta, dtype=np.float64).sum()))
"""


@pytest.mark.parametrize("advs", [("none", "none"), ("fgsm", "pgd")],
                         ids=["the same network", "two adversarial twins of one base"])
def test_a_network_two_processes_need_is_trained_once(tmp_path, advs):
    """Two processes want the same network (or two networks fine-tuned from it) at once: the
    first to get its lock trains it, the other waits and loads the checkpoint."""
    base = tmp_path / "models" / "64_capnone_s0.npz"
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARS, "1"), "NPRELU_THREADS": "1"}
    logs = [tmp_path / f"race{k}.err" for k in range(2)]
    with locked(base):                  # hold the base network until both are waiting for it
        procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(tmp_path), adv], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
                 for adv, log in zip(advs, logs)]
        deadline = time.monotonic() + 120
        while not all("waiting for 64_capnone_s0.npz" in log.read_text() for log in logs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [log.read_text() for log in logs]
            time.sleep(0.1)
    sums = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [log.read_text() for log in logs]
    trained = [line for log in logs for line in log.read_text().splitlines()
               if line.startswith("trained 64_capnone_s0 ")]
    assert len(trained) == 1, trained
    assert sums[0] == sums[1]           # the loader got the trainer's weights
    if advs[0] != advs[1]:
        for adv in advs:
            assert (tmp_path / "models" / f"64_capnone_{adv}0.1_s0.npz").exists()


def _tiny_run(monkeypatch, out, *args):
    monkeypatch.setitem(PROFILES, "quick", TINY)
    return run_all.main(["--profile", "quick", "--out", str(out), *args])


def test_a_unit_that_fails_stops_the_run_and_the_finished_units_resume(tmp_path, mnist,
                                                                        monkeypatch, capfd):
    """In one process: a unit raising midway leaves the units before it in units/; the next run
    resumes from them and gives the numbers of an uninterrupted run."""
    assert _tiny_run(monkeypatch, tmp_path / "whole", "--jobs", "1", "--only", "fig04") == 0
    real = EXPERIMENTS["fig04"]
    ran = []

    def failing(ctx, unit):
        if unit == "fig04/s0/HL2-0.1":
            raise KeyboardInterrupt
        ran.append(unit)
        return real.run.run_unit(ctx, unit)

    broken = replace(real, run=replace(real.run, run_unit=failing))
    monkeypatch.setitem(EXPERIMENTS, "fig04", broken)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        _tiny_run(monkeypatch, out, "--jobs", "1", "--only", "fig04")
    kept = sorted(p.stem for p in (out / "units" / "fig04" / "s0").iterdir())
    assert kept == sorted(u.split("/")[2] for u in ran) and len(kept) == 4
    assert json.loads((out / "summary.json").read_text())["meta"]["done"] == []
    monkeypatch.setitem(EXPERIMENTS, "fig04", real)
    capfd.readouterr()
    assert _tiny_run(monkeypatch, out, "--jobs", "1", "--only", "fig04") == 0
    err = capfd.readouterr().err
    assert "resuming: 4 finished unit(s) of 9" in err and "fig04/s0/HL1-0.01 started" not in err
    assert not (out / "units").exists()   # recorded: its unit files are gone
    resumed, whole = (json.loads((d / "summary.json").read_text())
                      for d in (out, tmp_path / "whole"))
    assert _numbers(resumed) == _numbers(whole)


def test_a_unit_failing_on_a_worker_stops_the_run_in_one_line_and_resumes(tmp_path, mnist,
                                                                           monkeypatch, capfd):
    """On two workers: a network that cannot be saved (its path is a directory) fails its unit;
    the run stops with one line (exit 1) and keeps what finished; once the path is freed the
    run resumes to the numbers of an uninterrupted two-worker run."""
    assert _tiny_run(monkeypatch, tmp_path / "whole", "--jobs", "2", "--only", "fig04") == 0
    out = tmp_path / "killed"
    blocker = out / "models" / "392-196_capnone-1_s0.npz"     # fig04/HL2-1's network
    blocker.mkdir(parents=True)
    capfd.readouterr()
    assert _tiny_run(monkeypatch, out, "--jobs", "2", "--only", "fig04") == 1
    err = capfd.readouterr().err
    error = [line for line in err.splitlines() if line.startswith("run_all.py: error:")]
    assert len(error) == 1 and "Is a directory" in error[0] and "resumes" in error[0], err
    assert "fig04/s0/HL2-1 failed on worker" in err and "Traceback" not in err
    kept = list((out / "units" / "fig04" / "s0").iterdir())
    assert kept and "HL2-1.json" not in {p.name for p in kept}
    blocker.rmdir()
    assert _tiny_run(monkeypatch, out, "--jobs", "2", "--only", "fig04") == 0
    assert f"resuming: {len(kept)} finished unit(s)" in capfd.readouterr().err
    resumed, whole = (json.loads((d / "summary.json").read_text())
                      for d in (out, tmp_path / "whole"))
    assert _numbers(resumed) == _numbers(whole)
    assert resumed["meta"]["jobs"] == {"fig04": 2}


def test_a_run_records_the_operations_and_time_of_each_experiments_units(tmp_path, monkeypatch,
                                                                         mnist):
    """meta.flops[key] is the sum of what nprelu.flops counted while its units ran; a unit
    listed by two experiments counts once, for the one that ran it."""
    block = {"c": [1.0], "z": [0.0], "sigmoid": {"1": [0.5]}}

    def run_part(ctx, unit):
        flops.add(1000 * int(unit[-1]))
        time.sleep(0.01)            # a measurable time, for matmul_capacity
        return {"part": int(unit[-1])}

    def combine(ctx, partials):
        total = float(sum(p["part"] for p in partials.values()))
        return {"fig03": {**block, "c": [total], "sigmoid": {format(total, "g"): [0.5]}}}, {}

    fake = Split(lambda ctx: ["fig03/1", "fig03/2", "fig03/3"], run_part, combine)
    monkeypatch.setitem(EXPERIMENTS, "fig03", replace(EXPERIMENTS["fig03"], run=fake))
    assert _tiny_run(monkeypatch, tmp_path, "--jobs", "1", "--only", "fig03") == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["fig03"]["c"] == [6.0]
    assert summary["meta"]["flops"] == {"fig03": 6000} and summary["meta"]["jobs"] == {"fig03": 1}
    # each unit's time at the matrix-product rate measured after it (flops.matmul_rate)
    # each unit's seconds (>= 0.01) times the rate measured after it: 1e8 to 1e15 FLOP/s
    meta = summary["meta"]
    assert 1e8 * meta["wall_seconds"]["fig03"] <= meta["matmul_capacity"]["fig03"] \
        <= 1e15 * (meta["wall_seconds"]["fig03"] + 0.05)


def test_matmul_rate_times_a_real_product_and_counts_nothing():
    before = flops.read()
    rate = flops.matmul_rate(np, "float32", n=256, repeats=2)
    assert flops.read() == before               # not useful work of the run
    start = time.perf_counter()
    a = np.ones((256, 256), dtype=np.float32)
    for _ in range(5):
        a @ a
    slowest_possible = 2 * 256 ** 3 / ((time.perf_counter() - start) / 5)
    assert 1e8 < rate and rate > 0.2 * slowest_possible   # the best of its rounds, same order


def test_flops_count_the_matrix_products_the_math_needs():
    sizes = (784, 392, 196, 10)
    macs = 784 * 392 + 392 * 196 + 196 * 10
    assert flops.forward_flops(sizes, 128) == 2 * 128 * macs
    training = flops.backward_flops(sizes, 128, params=True, inputs=False)
    assert training == 2 * 128 * (macs + macs - 784 * 392)     # no dJ/dx
    attack = flops.backward_flops(sizes, 100, params=False, inputs=True)
    assert attack == 2 * 100 * macs                            # dJ/dx, no dW
    before = flops.read()
    flops.count_forward(sizes, 3)
    flops.count_backward(sizes, 3, params=True, inputs=True)
    assert flops.read() - before == 2 * 3 * macs * 3


def test_every_pass_through_the_network_is_counted():
    from nprelu import network
    if not hasattr(network, "count_forward"):
        pytest.skip("nprelu/network.py does not call nprelu.flops yet")
    sizes = (20, 8, 6, 3)
    net = network.MLP(sizes, [0.5, None], seed=0)
    x = np.random.default_rng(0).random((5, 20), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1])
    fwd = flops.forward_flops(sizes, 5)
    for call, expected in [
            (lambda: net.logits(x), fwd),
            (lambda: net.loss_and_grads(x, y), fwd + flops.backward_flops(sizes, 5, params=True,
                                                                          inputs=False)),
            (lambda: net.input_grad(x, y), fwd + flops.backward_flops(sizes, 5, params=False,
                                                                      inputs=True))]:
        before = flops.read()
        call()
        assert flops.read() - before == expected


def test_unit_files_of_another_summary_are_ignored_and_removed(tmp_path, capfd):
    meta = run_meta(TINY, 0, "numpy")
    mine = UnitFiles(tmp_path, run_identity(meta))
    record = {"partial": [1], "flops": 0, "seconds": 0.1, "experiment": "fig03"}
    mine.save("fig03/a", record)
    assert mine.load("fig03/a") == record
    restarted = UnitFiles(tmp_path, run_identity({**meta, "started": "another start"}))
    assert restarted.load("fig03/a") is None
    assert "not a unit of this run's summary" in capfd.readouterr().err
    assert not (tmp_path / "units").exists()


def test_summaries_without_operation_counts_still_load():
    meta = run_meta(TINY, 0, "numpy")
    old = {k: v for k, v in meta.items() if k not in ("flops", "jobs")}
    check_summary({"meta": old}, OUTPUTS)
    with pytest.raises(SummaryError, match=r"meta\.flops\.fig03 should be an integer"):
        check_summary({"meta": {**meta, "flops": {"fig03": "many"}}}, OUTPUTS)


def test_workers_start_with_one_blas_thread_and_the_environment_is_put_back(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.delenv("NPRELU_THREADS", raising=False)
    with worker_environment(2):
        assert all(os.environ[v] == "1" for v in BLAS_THREAD_VARS)
        assert int(os.environ["NPRELU_THREADS"]) >= 1
    assert os.environ["OPENBLAS_NUM_THREADS"] == "7"
    assert "MKL_NUM_THREADS" not in os.environ and "NPRELU_THREADS" not in os.environ


def test_jobs_must_be_a_positive_count(capsys):
    with pytest.raises(SystemExit):
        run_all.parse_args(["--jobs", "0"])
    assert "--jobs must be >= 1 (got 0)" in capsys.readouterr().err
