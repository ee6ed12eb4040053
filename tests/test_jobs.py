"""Units of work and the worker processes of ``run_all.py --jobs N``: a split experiment equals
its units run apart, a network two processes need is trained once, a failing unit stops the run
and the finished ones resume, and the useful operations are counted (``nprelu.flops``)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import run_all
from nprelu import flops
from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES, Split
from nprelu.runner.context import Context
from nprelu.runner import workers
from nprelu.runner.jobs import BLAS_THREAD_VARS, run_experiments, run_unit, \
    worker_environment
from nprelu.runner.schema import SummaryError
from nprelu.runner.store import locked
from nprelu.runner.folder import remove_stale_temps
from nprelu.runner.summary import SummaryFile, as_json, check_summary, run_identity, run_meta
from nprelu.runner.units import UnitFiles

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


@pytest.mark.slow
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
from nprelu.runner.store import ModelSpec, ModelStore
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


@pytest.mark.slow
def test_a_unit_that_fails_stops_the_run_and_the_finished_units_resume(tmp_path, mnist,
                                                                        monkeypatch, capfd):
    """In one process: a unit interrupted midway (Ctrl-C: exit status 130, one line) leaves the units before it in units/; the next run
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
    capfd.readouterr()
    assert _tiny_run(monkeypatch, out, "--jobs", "1", "--only", "fig04") == 130
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("run_all.py:")]
    assert lines == ["run_all.py: interrupted: run the same command to resume"]
    kept = sorted(p.stem for p in (out / "units" / "fig04" / "s0").glob("*.json"))
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


@pytest.mark.slow
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
    assert "fig04/s0/HL2-1 failed on a worker" in err and "Traceback" not in err
    kept = list((out / "units" / "fig04" / "s0").glob("*.json"))
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
        time.sleep(0.05)            # a measurable time, for matmul_capacity
        return {"part": int(unit[-1])}

    def combine(ctx, partials):
        total = float(sum(p["part"] for p in partials.values()))
        return {"fig03": {**block, "c": [total], "sigmoid": {format(total, "g"): [0.5]}}}, {}

    fake = Split(lambda ctx: ["fig03/1", "fig03/2", "fig03/3"], run_part, combine)
    monkeypatch.setitem(EXPERIMENTS, "fig03", replace(EXPERIMENTS["fig03"], run=fake))
    monkeypatch.setattr(flops, "matmul_rate", lambda *args, **kw: 2e9)   # measured after each
    assert _tiny_run(monkeypatch, tmp_path, "--jobs", "1", "--only", "fig03") == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["fig03"]["c"] == [6.0]
    assert summary["meta"]["flops"] == {"fig03": 6000} and summary["meta"]["jobs"] == {"fig03": 1}
    # each unit's seconds times the rate measured after it (wall_seconds is rounded to 0.1 s)
    meta = summary["meta"]
    assert meta["wall_seconds"]["fig03"] >= 0.1
    assert abs(meta["matmul_capacity"]["fig03"] - 2e9 * meta["wall_seconds"]["fig03"]) <= 2e9 * 0.05 + 1


def test_matmul_rate_times_a_real_product_and_counts_nothing():
    """A rate (positive, finite: no speed asserted) from products that nprelu.flops does not
    count; every product is synchronised before the clock is read."""
    synced = []
    before = flops.read()
    rate = flops.matmul_rate(np, "float32", synchronize=lambda: synced.append(1), n=64,
                             repeats=2)
    assert flops.read() == before               # not useful work of the run
    assert 0 < rate < float("inf") and len(synced) == 2 * 2


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


# ---- faults: workers die with their parent, signals, limits, temp files, claims ---------------

_FAKE_RUN = '''
import os, sys, time
sys.path.insert(0, {root!r})
from dataclasses import replace
from nprelu.experiments import EXPERIMENTS, Split
import run_all

PIDS = os.environ["FAKE_PIDS"]


def run_part(ctx, unit):            # in a worker: say who runs it, then take long
    with open(os.path.join(PIDS, str(os.getpid())), "a") as f:
        f.write(unit + "\\n")
    time.sleep(float(os.environ["FAKE_SLEEP"]))
    return int(unit.split("/")[-1])


def combine(ctx, partials):
    total = float(sum(partials.values()))
    return {{"fig03": {{"c": [total], "z": [0.0], "sigmoid": {{"1": [0.5]}}}}}}, {{}}


N = int(os.environ["FAKE_UNITS"])
fake = Split(lambda ctx: [f"fig03/{{k}}" for k in range(1, N + 1)], run_part, combine)
EXPERIMENTS["fig03"] = replace(EXPERIMENTS["fig03"], run=fake)     # here and in each worker

if __name__ == "__main__":
    sys.exit(run_all.main(sys.argv[1:]))
'''


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by PID 1, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _start_fake_run(tmp_path, *args, units=2, sleep=60.0):
    """run_all.py on a fake fig03 of ``units`` units that each sleep ``sleep`` s, in a session
    of its own; returns the process once every worker it needs has started a unit, and the
    workers' pids."""
    script, pids = tmp_path / "fake_run.py", tmp_path / "pids"
    script.write_text(_FAKE_RUN.format(root=str(ROOT)))
    pids.mkdir()
    env = {**os.environ, "FAKE_PIDS": str(pids), "FAKE_SLEEP": str(sleep),
           "FAKE_UNITS": str(units)}
    proc = subprocess.Popen([sys.executable, str(script), "--profile", "quick", "--only", "fig03",
                             "--out", str(tmp_path / "out"), *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    want = min(units, run_all.default_jobs("numpy"), *[int(a) for a in args[1:2]])
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < want:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    return proc, [int(p.name) for p in pids.iterdir()]


def _all_gone(pids, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_workers_end_with_their_parent_whatever_signal_ends_it(tmp_path, mnist, sig):
    """A run on two workers is killed (SIGKILL), terminated (SIGTERM) or interrupted (SIGINT to
    its whole process group, as Ctrl-C does): no worker is alive 10 s later; SIGTERM and SIGINT
    end the run with one line and 143 / 130, no traceback."""
    proc, workers = _start_fake_run(tmp_path, "--jobs", "2")
    assert len(workers) == 2
    try:
        if sig == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, getattr(signal, sig))
        err = proc.communicate(timeout=60)[1]
        assert _all_gone(workers), [p for p in workers if _alive(p)]
    finally:
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
    if sig != "SIGKILL":
        what, status = ("interrupted", 130) if sig == "SIGINT" else ("terminated", 143)
        assert proc.returncode == status, err
        lines = [ln for ln in err.splitlines() if ln.startswith("run_all.py:")]
        assert lines == [f"run_all.py: {what}: run the same command to resume"], err
        assert "Traceback" not in err


@pytest.mark.slow
def test_jobs_beyond_the_cores_or_the_units_left_start_no_more_workers(tmp_path, mnist):
    """--jobs 64 runs at most one worker per usable core, with a note, and never more workers
    than units left."""
    cores = run_all.default_jobs("numpy")
    proc, workers = _start_fake_run(tmp_path, "--jobs", "64", units=3, sleep=0.5)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0, err
    assert f"--jobs 64 is more than the {cores} usable core(s): running {cores} worker(s)" in err
    n = min(cores, 3)
    if n > 1:
        assert f"running on up to {n} worker processes" in err
    assert len(workers) <= n


def test_jobs_are_clipped_to_the_usable_cores_with_a_note(monkeypatch, capfd):
    monkeypatch.setattr(workers, "usable_cores", lambda: 3)
    assert workers.clip_jobs(2) == 2 and workers.clip_jobs(3) == 3
    assert "usable" not in capfd.readouterr().err
    assert workers.clip_jobs(1000) == 3
    assert capfd.readouterr().err.strip() == \
        "--jobs 1000 is more than the 3 usable core(s): running 3 worker(s)"


def test_stale_temporary_files_are_removed_and_fresh_ones_and_others_kept(tmp_path):
    old = time.time() - 3600
    stale = [tmp_path / ".summary.json.k2_x9a0b.tmp", tmp_path / "models" / ".n.npz.abcdefgh.tmp",
             tmp_path / "units" / "fig04" / "s0" / ".HL1-1.json.0123abcd.tmp",
             tmp_path / ".nprelu-write-test.zz00yy11"]
    fresh = tmp_path / ".summary.json.freshone.tmp"          # a concurrent run's write
    others = [tmp_path / "summary.json", tmp_path / ".summary.json.short.tmp",
              tmp_path / "units" / "fig04" / "s0" / ".HL1-1.json.lock", tmp_path / "a.abcdefgh.tmp"]
    for p in [*stale, fresh, *others]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        if p is not fresh:
            os.utime(p, (old, old))
    assert sorted(remove_stale_temps(tmp_path)) == sorted(stale)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in others)


def test_two_runs_on_one_folder_compute_each_unit_once(tmp_path, monkeypatch):
    """Two runs of the same experiment started at once on one folder (two threads, each its
    own run; the claims are flocks, which two opens in one process contend for as two processes
    do): each unit is computed once, and both runs end with the same summary."""
    computed, guard = [], threading.Lock()

    def run_part(ctx, unit):
        with guard:
            computed.append(unit)
        time.sleep(0.2)
        return {"part": int(unit[-1])}

    def combine(ctx, partials):
        total = float(sum(p["part"] for p in partials.values()))
        return {"fig03": {"c": [total], "z": [0.0], "sigmoid": {"1": [0.5]}}}, {}

    fake = Split(lambda ctx: [f"fig03/{k}" for k in range(1, 6)], run_part, combine)
    monkeypatch.setitem(EXPERIMENTS, "fig03", replace(EXPERIMENTS["fig03"], run=fake))
    monkeypatch.setattr(flops, "matmul_rate", lambda *args, **kw: 1e9)   # not measured here
    be = get_backend("numpy")

    class Here:                     # a Context without data: the fake reads none
        subsets = {}
        backend = be

        @staticmethod
        def context():
            return Here

        @staticmethod
        def drawn():
            return {}

    def one_run(results, k):
        try:
            summary = SummaryFile(tmp_path, run_meta(TINY, 0, "numpy"), OUTPUTS)
            run_experiments([EXPERIMENTS["fig03"]], Context.plan(TINY, be, 0), summary,
                            tmp_path, 1, Here)
            summary.refresh()
            results[k] = summary.data
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            results[k] = exc

    results = {}
    threads = [threading.Thread(target=one_run, args=(results, k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, dict) for r in results.values()) and len(results) == 2, results
    assert sorted(computed) == [f"fig03/{k}" for k in range(1, 6)]
    assert results[0]["fig03"] == results[1]["fig03"] and results[0]["fig03"]["c"] == [15.0]
    assert not (tmp_path / "units").exists()


def test_a_claimed_unit_is_read_from_its_file_or_dropped_once_another_run_recorded_it(
        tmp_path, monkeypatch):
    """claim_unit runs a unit only when no other run has: a saved unit is read; a unit whose
    file is gone because another run recorded its experiment's seed comes back "recorded"
    (computed anyway when forced, for another seed that still needs it)."""
    ran = []
    monkeypatch.setattr(flops, "matmul_rate", lambda *args, **kw: 1e9)   # not measured here

    def run_part(ctx, unit):
        ran.append(unit)
        return 1

    def combine(ctx, partials):
        return {"fig03": {"c": [1.0], "z": [0.0], "sigmoid": {"1": [0.5]}}}, {}

    exp = replace(EXPERIMENTS["fig03"], run=Split(lambda ctx: ["fig03/1"], run_part, combine))
    ctx = type("Ctx", (), {"subsets": {}, "backend": get_backend("numpy"),
                           "drawn": staticmethod(dict)})
    summary = SummaryFile(tmp_path, run_meta(TINY, 0, "numpy"), OUTPUTS)
    summary.start()
    files = UnitFiles(tmp_path, run_identity(summary.meta))
    how, record = workers.claim_unit(ctx, exp, "fig03/1", files)
    assert how == "ran" and record["partial"] == 1 and files.load("fig03/1") == record
    assert workers.claim_unit(ctx, exp, "fig03/1", files) == ("read", record) and len(ran) == 1
    summary.record("fig03", *combine(None, None), 1.0)      # another run recorded it ...
    files.remove("fig03/1")                                  # ... and removed its unit
    assert workers.claim_unit(ctx, exp, "fig03/1", files) == ("recorded", None) and len(ran) == 1
    assert workers.claim_unit(ctx, exp, "fig03/1", files, force=True)[0] == "ran" and len(ran) == 2
