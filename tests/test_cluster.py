"""``run_all.py --cluster``: the units on a Dask distributed cluster (``runner/cluster.py``).

The task graph (each declared network a task, counted in the first unit needing it), the
argument checks (without Dask installed too), and, slow: the quick profile's units on a
2-worker ``LocalCluster`` give the numbers of ``--jobs 1`` with one BLAS thread, and Ctrl-C or
SIGTERM ends such a run in one line with no worker left.
"""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import run_all
from nprelu import flops
from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, PROFILES, Split
from nprelu.runner.cluster import Graph
from nprelu.runner.context import Context, subset_key
from nprelu.runner.store import ModelSpec
from nprelu.runner.units import UnitFiles
from nprelu.runner.workers import claim_unit

ROOT = Path(__file__).resolve().parents[1]
QUICK = PROFILES["quick"]


# ---- the task graph ----------------------------------------------------------------------------

def _spec(beta, adv=None, seed=0):
    return ModelSpec((784, 8, 10), (beta,), seed=seed, adv=adv)


#: A fake experiment: unit -> the networks it declares.
DECLARED = {
    "fig04/s0/a": [_spec(0.1)],
    "fig04/s0/b": [_spec(0.1), _spec(1.0)],
    "fig04/s0/c": [_spec(1.0, "pgd")],              # its base, _spec(1.0), is b's
    "fig04/s0/d": [],
    "fig04/s0/e": [_spec(0.1, "fgsm"), _spec(0.1)],
}


class _FakeRun:
    """What ``Graph`` reads of a ``jobs.Run``: the pending units, their owner, the plan."""

    def __init__(self, pending, experiment):
        self.pending = list(pending)
        self.owner = dict.fromkeys(pending, experiment)
        self.plan = Context.plan(QUICK, get_backend("numpy"), 0)


def _fake_experiment(networks=lambda ctx, unit: DECLARED[unit]):
    fake = Split(lambda ctx: list(DECLARED), lambda ctx, unit: {}, lambda ctx, p: ({}, {}),
                 networks)
    return replace(EXPERIMENTS["fig04"], run=fake)


def test_each_declared_network_is_waited_for_and_counted_in_the_first_pending_unit_needing_it():
    graph = Graph(_FakeRun(DECLARED, _fake_experiment()))
    assert graph.needs == {
        "fig04/s0/a": [_spec(0.1)],
        "fig04/s0/b": [_spec(0.1), _spec(1.0)],
        "fig04/s0/c": [_spec(1.0), _spec(1.0, "pgd")],          # the base first
        "fig04/s0/d": [],
        "fig04/s0/e": [_spec(0.1), _spec(0.1, "fgsm")],         # listed once
    }
    assert graph.charged == {"fig04/s0/a": [_spec(0.1)], "fig04/s0/b": [_spec(1.0)],
                             "fig04/s0/c": [_spec(1.0, "pgd")],
                             "fig04/s0/e": [_spec(0.1, "fgsm")]}


def test_a_network_is_counted_in_the_first_unit_still_pending_not_in_a_finished_one():
    graph = Graph(_FakeRun(["fig04/s0/b", "fig04/s0/c"], _fake_experiment()))
    assert graph.charged == {"fig04/s0/b": [_spec(0.1), _spec(1.0)],
                             "fig04/s0/c": [_spec(1.0, "pgd")]}


def test_an_experiment_declaring_no_networks_has_no_network_tasks():
    undeclared = replace(EXPERIMENTS["fig04"], run=Split(lambda ctx: list(DECLARED),
                                                         lambda ctx, u: {}, lambda ctx, p: ({}, {})))
    graph = Graph(_FakeRun(DECLARED, undeclared))
    assert graph.needs == dict.fromkeys(DECLARED, []) and graph.charged == {}


#: No images: only the test set's size, which the subsets are drawn from.
TEST_SET_ONLY = (None, None, None, range(10_000))


@pytest.mark.parametrize("key", ["fig01-02", "fig04", "fig05", "fig06", "fig08", "fig09",
                                 "fig10", "table1", "cw_gap", "cw_paper", "adaptive", "suite",
                                 "control"])
def test_the_declared_networks_are_those_the_units_ask_the_store_for(key):
    """Each unit's declared networks are exactly those it asks ``ctx.model`` for before it
    computes with one (the store is replaced by one that records what is asked and hands out
    networks that stop the unit when used)."""
    plan = Context.plan(QUICK, get_backend("numpy"), 0)
    e = EXPERIMENTS[key]

    class Asked(Exception):
        pass

    class Store:
        def __init__(self):
            self.asked = []

        def model(self, spec):
            self.asked.append(spec)
            return _Net()

        def config(self, spec):
            return {}

    class _Net:
        def __getattr__(self, name):
            raise Asked

    class Probe(Context):               # no data: what the units read before a network
        def test(self, n):
            return None, [0]

        def indices(self, n):
            return [0]

        def drawn(self):
            return {str(self.seed): {subset_key(QUICK.n_growth): {}}}

        def shared(self, name, config, compute):
            return compute()

    for unit in e.seed_units(plan, 0):
        declared = e.networks(plan, unit)
        store = Store()
        with pytest.raises(Asked):
            e.run_unit(Probe(QUICK, plan.backend, 0, TEST_SET_ONLY, store), unit)
        assert set(store.asked) == set(declared) and declared, unit


def test_networks_trained_for_a_unit_elsewhere_are_counted_in_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(flops, "matmul_rate", lambda *args, **kw: 1e9)
    fake = Split(lambda ctx: ["fig04/s0/a"], lambda ctx, unit: {"x": 1}, lambda ctx, p: ({}, {}))
    e = replace(EXPERIMENTS["fig04"], run=fake)
    ctx = Context.plan(QUICK, get_backend("numpy"), 0)
    files = UnitFiles(tmp_path, {"run": 1})
    how, record = claim_unit(ctx, e, "fig04/s0/a", files, charged=[
        {"seconds": 2.5, "flops": 1000}, {"seconds": 1.0, "flops": 24}])
    assert how == "ran" and record["flops"] == 1024 and 3.5 <= record["seconds"] < 4.5
    assert files.load("fig04/s0/a") == record


# ---- arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--cluster", "local:2", "--jobs", "2"], "--cluster and --jobs 2 exclude each other"),
    (["--cluster", "local:0"], "local:N needs a worker count N >= 1"),
    (["--cluster", "local:x"], "local:N needs a worker count N >= 1"),
    (["--cluster", ""], "empty; give a scheduler address"),
])
def test_a_cluster_that_cannot_work_is_refused_in_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        run_all.parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cluster_with_jobs_1_or_an_address_is_accepted():
    assert run_all.parse_args(["--cluster", "local:2", "--jobs", "1"]).cluster == "local:2"
    assert run_all.parse_args(["--cluster", "tcp://10.0.0.1:8786"]).cluster == \
        "tcp://10.0.0.1:8786"


def test_without_dask_the_cluster_fails_in_one_line_saying_how_to_install_it(
        tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    out = tmp_path / "out"
    status = run_all.main(["--only", "fig03", "--out", str(out), "--cluster", "local:2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert "--cluster needs Dask distributed" in err[0] and 'pip install "dask[distributed]"' \
        in err[0]
    assert not out.exists()


# ---- on a LocalCluster (slow) ------------------------------------------------------------------

ONLY = ["fig03", "fig04", "fig08"]   # Figure 8 evaluates Figure 4's nine networks again


def _run(out, *args, **env):
    env = {**os.environ, "MPLBACKEND": "Agg", **env}
    proc = subprocess.run([sys.executable, "run_all.py", "--profile", "quick", "--only", *ONLY,
                           "--out", str(out), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "summary.json").read_text()), proc.stderr


@pytest.mark.slow
def test_a_two_worker_local_cluster_gives_the_numbers_of_one_process_with_one_blas_thread(
        tmp_path, mnist):
    """Every block, the runs, the means, the intervals and the operations counted are equal
    (``==``) to those of ``--jobs 1`` under ``OPENBLAS_NUM_THREADS=1``; Figure 4's nine
    networks, which Figure 8's units need too, are nine tasks."""
    pytest.importorskip("distributed")
    cluster, log = _run(tmp_path / "cluster", "--cluster", "local:2")
    single, _ = _run(tmp_path / "single", "--jobs", "1", OPENBLAS_NUM_THREADS="1",
                     OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    assert "sent 19 unit(s) and 9 network(s) to train to 2 Dask worker(s)" in log
    for key in ("runs", "intervals", "interval_methods", *ONLY):
        assert cluster[key] == single[key], key
    for key in ("settings", "subsets_drawn", "flops"):
        assert cluster["meta"][key] == single["meta"][key], key
    assert sorted(cluster["meta"]["done"]) == sorted(single["meta"]["done"]) == sorted(ONLY)
    assert not (tmp_path / "cluster" / "units").exists()


def _alive(proc) -> bool:
    try:
        return proc.is_running() and proc.status() != "zombie"
    except Exception:  # noqa: BLE001 (gone)
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_closes_the_local_cluster_in_one_line(tmp_path, mnist, sig):
    """Ctrl-C (SIGINT to the whole process group) or SIGTERM to the run: one line, status 130
    or 143, no traceback (a worker's included), and no worker process alive 10 s later."""
    pytest.importorskip("distributed")
    import psutil
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, "run_all.py", "--profile", "quick", "--only",
                             "fig04", "--out", str(tmp_path / "out"), "--cluster", "local:2"],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    seen = []
    while not any("Dask worker(s)" in line for line in seen):
        seen.append(proc.stderr.readline())
        assert seen[-1] or proc.poll() is None, "".join(seen)
    time.sleep(2)
    children = psutil.Process(proc.pid).children(recursive=True)
    if sig == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [c.pid for c in children if _alive(c)]
    for c in children:
        if _alive(c):
            c.kill()
    what, status = ("interrupted", 130) if sig == "SIGINT" else ("terminated", 143)
    assert proc.returncode == status, err
    lines = [ln for ln in err.splitlines() if ln.startswith("run_all.py:")]
    assert lines == [f"run_all.py: {what}: run the same command to resume"], err
    assert "Traceback" not in err and not left
