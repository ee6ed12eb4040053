"""Seeds as a run dimension: random test subsets per seed, every experiment over --seeds N
recorded seed by seed with the mean and its interval, the zero-gradient distances compared on
common samples, and summaries written before seeds still load."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.runner.config import EVAL_BETAS
from nprelu.runner.context import Context, subset_indices, subset_record
from nprelu.runner.jobs import WorkerSetup, run_experiments
from nprelu.runner.summary import SummaryFile, read_summary, run_meta, runs_of, same_run, \
    seeds_of
from nprelu.runner.units import unit_seed
from nprelu.experiments.zero_gradient import common_distances

ROOT = Path(__file__).resolve().parents[1]
TINY = replace(PROFILES["quick"], train_subset=600, epochs=1, n_sweep=40, n_zero=12,
               zero_max_steps=15, n_sensitivity=30)


def test_test_subsets_are_random_sorted_and_drawn_once_per_seed_and_size():
    a = subset_indices(0, 500, 10_000)
    assert len(a) == len(np.unique(a)) == 500 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, np.arange(500))               # not the first 500
    assert a.max() > 9000 and a.min() < 1000                   # spread over the test set
    assert np.array_equal(a, subset_indices(0, 500, 10_000))   # seeded
    assert not np.array_equal(a, subset_indices(1, 500, 10_000))
    assert len(np.intersect1d(a, subset_indices(1, 500, 10_000))) < 100  # ~25 expected
    assert np.array_equal(subset_indices(3, None, 10_000), np.arange(10_000))
    record = subset_record(a)
    assert record["count"] == 500 and len(record["sha256"]) == 16 and record["first"] == \
        a[:5].tolist()
    assert record != subset_record(subset_indices(1, 500, 10_000))


def test_every_network_of_a_seed_sees_the_same_subset_and_the_draws_are_recorded():
    be = get_backend("numpy")
    x = np.arange(1000, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(1000)                     # each image's label is its index, to read them back
    ctx = Context(TINY, be, 0, (x, y, x, y), None, n_seeds=2)
    one, again = ctx.for_seed(0).test(50), Context(TINY, be, 0, (x, y, x, y), None).test(50)
    assert np.array_equal(one[1], again[1]) and np.array_equal(one[0], again[0])
    other = ctx.for_seed(1).test(50)
    assert not np.array_equal(one[1], other[1])
    assert np.array_equal(one[1], subset_indices(0, 50, 1000))
    assert np.array_equal(one[0][:, 0], one[1].astype(np.float32))   # images with their labels
    assert ctx.test(None)[0] is x                               # all: the whole set, in order
    drawn = ctx.drawn()
    assert drawn["0"]["50"] == subset_record(subset_indices(0, 50, 1000))
    assert drawn["1"]["50"]["sha256"] != drawn["0"]["50"]["sha256"]
    assert drawn["0"]["all"]["count"] == 1000


def test_units_are_named_by_experiment_seed_and_part():
    plan = Context.plan(TINY, get_backend("numpy"), 4, n_seeds=3)
    assert plan.seeds == [4, 5, 6]
    rows = EXPERIMENTS["table1"].units(plan)
    assert len(rows) == 36 and rows[0] == "table1/s4/none-none"
    assert rows[12].startswith("table1/s5/")
    assert EXPERIMENTS["fig04"].units(plan)[0] == "fig04/s4/HL1-0.01"
    assert EXPERIMENTS["fig11"].units(plan) == ["fig11/s4", "fig11/s5", "fig11/s6"]
    assert EXPERIMENTS["fig03"].units(plan) == ["fig03"]     # draws nothing: once
    every = [u for e in EXPERIMENTS.values() for u in e.units(plan)]
    assert len(every) == len(set(every))
    assert {unit_seed(u) for u in every} == {4, 5, 6, None}
    assert "table1_seeds" not in EXPERIMENTS


def test_the_common_distance_is_the_mean_over_the_samples_every_configuration_found():
    samples = {"HL1": {"found": [0, 1, 3], "distance": [1.0, 2.0, 9.0, 4.0]},
               "HL2": {"found": [1, 2, 3], "distance": [5.0, 6.0, 7.0, 8.0]},
               "HL12": {"found": [0, 1, 2, 3], "distance": [0.5, 1.5, 2.5, 3.5]}}
    got = common_distances(samples)        # found everywhere: samples 1 and 3
    assert got == {"HL1": (3.0, 2), "HL2": (7.0, 2), "HL12": (2.5, 2)}
    samples["HL2"]["found"] = [2]
    assert common_distances(samples) == {"HL1": (None, 0), "HL2": (None, 0), "HL12": (None, 0)}


def test_the_zero_gradient_combine_compares_the_configurations_of_one_beta_on_common_samples():
    exp = EXPERIMENTS["fig08"]
    plan = Context.plan(TINY, get_backend("numpy"), 0)
    rng = np.random.default_rng(0)
    partials, n = {}, 6
    for unit in exp.units(plan):
        samples = [{"found": sorted(rng.choice(n, 4, replace=False).tolist()),
                    "distance": rng.random(n).round(3).tolist()} for _ in EVAL_BETAS]
        curve = {"distance": [1.0] * len(EVAL_BETAS), "found_fraction": [4 / n] * len(EVAL_BETAS),
                 "mean_steps": [3.0] * len(EVAL_BETAS),
                 "distance_censored": [float(np.mean(s["distance"])) for s in samples]}
        partials[unit] = {"curve": curve, "samples": samples, "n_test": n}
    numbers, _ = exp.combine(plan, 0, partials)
    curves = numbers["fig08"]["curves"]
    k = 4
    found = [set(partials[f"fig08/s0/{name}-0.1"]["samples"][k]["found"])
             for name in ("HL1", "HL2", "HL12")]
    common = sorted(set.intersection(*found))
    for name in ("HL1", "HL2", "HL12"):
        dist = partials[f"fig08/s0/{name}-0.1"]["samples"][k]["distance"]
        point = curves[name]["0.1"]
        assert point["n_common"][k] == len(common)
        expected = sum(dist[i] for i in common) / len(common) if common else None
        assert point["distance_common"][k] == pytest.approx(expected)
        assert point["distance"] == [1.0] * len(EVAL_BETAS)     # the paper's number stays


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, mnist):
    """fig04, fig08 and fig11 over seeds 0 and 1 in this process (18 tiny networks)."""
    out = tmp_path_factory.mktemp("seeds")
    be = get_backend("numpy")
    meta = run_meta(TINY, 0, be.name, n_seeds=2)
    summary = SummaryFile(out, meta, OUTPUTS)
    todo = [EXPERIMENTS[k] for k in ("fig04", "fig08", "fig11")]
    setup = WorkerSetup(str(out), TINY, be.name, 0, 2, None)
    run_experiments(todo, Context.plan(TINY, be, 0, 2), summary, out, 1, setup)
    return out, read_summary(out / "summary.json", OUTPUTS)


def _leaves(tree, path=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _leaves(v, path + (i,))
    else:
        yield path, tree


def _at(tree, path):
    for p in path:
        tree = tree[p]
    return tree


@pytest.mark.slow
def test_a_two_seed_run_keeps_each_seed_and_records_the_mean_with_intervals(two_seeds):
    out, s = two_seeds
    assert seeds_of(s["meta"]) == [0, 1] and set(s["meta"]["done"]) == {"fig04", "fig08", "fig11"}
    assert set(s["runs"]) == {"0", "1"}
    for key in ("fig04", "fig08", "fig11"):
        a, b = s["runs"]["0"][key], s["runs"]["1"][key]
        assert a != b, key                                  # another seed, other numbers
        assert "2 seeds" in s["interval_methods"][key]
        checked = 0
        for path, mean in _leaves(s[key]):
            va, vb = _at(a, path), _at(b, path)
            if isinstance(mean, bool) or not isinstance(mean, (int, float)):
                continue
            lo, hi = _at(s["intervals"][key], path)
            if va is None or vb is None:
                continue
            assert mean == pytest.approx((va + vb) / 2, abs=1e-12), (key, path)
            assert lo <= mean <= hi, (key, path)
            checked += 1
        assert checked > 10, key
    assert not (out / "units").exists()                     # recorded: the unit files are gone


@pytest.mark.slow
def test_a_two_seed_run_records_the_subsets_each_seed_drew(two_seeds):
    _, s = two_seeds
    drawn = s["meta"]["subsets_drawn"]
    for n in ("40", "12", "30"):
        assert drawn["0"][n]["count"] == int(n)
        assert drawn["0"][n]["sha256"] != drawn["1"][n]["sha256"]
    assert drawn["0"]["all"]["count"] == 10_000             # Figure 11's digit: the whole set
    assert s["runs"]["0"]["fig11"]["sample_index"] == s["runs"]["1"]["fig11"]["sample_index"]


@pytest.mark.slow
def test_the_new_per_sample_fields_are_in_the_blocks(two_seeds):
    _, s = two_seeds
    for run in s["runs"].values():
        point = run["fig08"]["curves"]["HL2"]["0.1"]
        n = run["fig08"]["n_test"]
        for k, frac in enumerate(point["found_fraction"]):
            assert 0 <= point["n_common"][k] <= round(frac * n)
            if point["distance"][k] is not None and frac < 1:
                assert point["distance_censored"][k] is not None
        assert all(0.0 <= z <= 1.0 for z in run["fig11"]["zero_fraction"])


@pytest.mark.slow
def test_a_resumed_two_seed_run_keeps_its_seeds_and_asks_nothing_more(two_seeds, capfd):
    out, s = two_seeds
    be = get_backend("numpy")
    summary = SummaryFile(out, run_meta(TINY, 0, be.name, n_seeds=2), OUTPUTS)
    todo = [e for e in (EXPERIMENTS[k] for k in ("fig04", "fig08", "fig11"))
            if e.key not in summary.meta["done"]]
    assert todo == []
    from nprelu.runner.schema import SummaryError
    with pytest.raises(SummaryError, match=r"seeds \[0, 1\] there, \[0, 1, 2\] here"):
        SummaryFile(out, run_meta(TINY, 0, be.name, n_seeds=3), OUTPUTS)


def test_a_summary_written_before_seeds_loads_as_one_seed():
    # the one-seed paper profile once committed in docs/results (6a7be71), its Table 1 only
    path = ROOT / "tests" / "data" / "summary_before_seeds.json"
    s = read_summary(path, OUTPUTS)
    assert "runs" not in s and "seeds" not in s["meta"]
    assert seeds_of(s["meta"]) == [s["meta"]["seed"]]
    runs = runs_of(s, OUTPUTS)
    assert list(runs) == [str(s["meta"]["seed"])]
    assert runs[str(s["meta"]["seed"])]["table1"] == s["table1"]
    assert "n" not in s["table1"][0]                        # the fields it lacks may be missing
    now = {**run_meta(PROFILES["paper"], s["meta"]["seed"], "numpy"),
           "profile_settings": s["meta"]["profile_settings"]}
    assert same_run(s["meta"], now)                         # --seeds 1 resumes it
    assert not same_run(s["meta"], {**now, "seeds": [0, 1]})


def test_the_adaptive_checklist_is_kept_from_the_first_seed_not_averaged():
    from nprelu.runner.aggregate import aggregate
    from nprelu.runner.schema import check_interval

    def block(acc, passed):
        check = {"name": "c", "passed": passed, "warning": None, "numbers": {"acc": acc}}
        return {"eps": 0.1, "rows": [], "checklist": [
            {"beta": 0.1, "adv_training": "none", "n": 20, "lines": [f"acc {acc}"],
             "checks": [check]}]}

    agg = aggregate({"0": {"adaptive": block(0.5, True)}, "1": {"adaptive": block(0.7, False)}})
    assert agg["adaptive"]["checklist"] == block(0.5, True)["checklist"]
    check_interval(agg["intervals"]["adaptive"], agg["adaptive"], "intervals.adaptive")
