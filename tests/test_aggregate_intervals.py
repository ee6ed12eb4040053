"""Each number's interval by what the number is (aggregate.FIELDS), in its quantity's range, with
a truthful method; and the committed summary re-aggregated from its runs under these methods."""
import json
import pathlib

import pytest

from nprelu import stats
from nprelu.runner.aggregate import (FIELDS, PER_SEED, aggregate, interval_block, kind_of,
                                          out_of_range, reaggregate)

SUMMARY = pathlib.Path(__file__).resolve().parents[1] / "docs" / "results" / "summary.json"


@pytest.fixture(scope="module")
def committed():
    return json.loads(SUMMARY.read_text())


@pytest.fixture(scope="module")
def fresh(committed):
    return reaggregate(committed)


def test_the_kind_of_a_number_is_its_nearest_named_field():
    assert kind_of(("fig02", "accuracy", "HL1", "0.01")) == ("proportion", "n")
    assert kind_of(("fig01", "uncapped", "l2")) == ("positive", None)
    assert kind_of(("fig02", "uncapped")) == ("proportion", "n")
    assert kind_of(("table1", "cw")) == ("proportion", "n_cw")
    assert kind_of(("suite", "rows", "attacks", "apgd_ce")) == ("proportion", "n_attacks")
    assert kind_of(("fig04", "curves", "HL1", "0.1", "success"))[0] == "rate"
    assert kind_of(("masking", "trained_beta"))[0] == "signed"


def test_intervals_stay_in_range_where_the_t_interval_did_not():
    runs = {str(s): {"t": {"n": 600, "clean": c, "cw": 0.0, "n_cw": 200, "cw_mean_l2": d,
                           "sums": u}}
            for s, c, d, u in [(0, 0.0083, 0.05, 0.0), (1, 0.0010, 0.40, 0.0),
                               (2, 0.0200, 0.90, 660.0)]}
    agg = aggregate(runs)
    iv = agg["intervals"]["t"]
    assert stats.t_interval([0.0083, 0.0010, 0.0200]).lo < 0 < iv["clean"][0]
    assert iv["cw"][0] == 0.0 and iv["cw"][1] == pytest.approx(stats.clopper_pearson(0, 600).hi)
    assert 0.0 < iv["cw_mean_l2"][0] and iv["sums"][0] == 0.0 < iv["sums"][1]
    assert not out_of_range(agg)
    assert "3 seeds" in agg["interval_methods"]["t"] and "600" in agg["interval_methods"]["t"]


def test_a_number_missing_in_one_seed_is_counted_with_the_seeds_it_has():
    runs = {"0": {"k": {"n_test": 1000, "distance": [0.5, None]}},
            "1": {"k": {"n_test": 1000, "distance": [0.6, 0.7]}},
            "2": {"k": {"n_test": 1000, "distance": [0.7, 0.9]}}}
    agg = aggregate(runs)
    assert "3 seeds (2 seeds for 1 number, where a seed has none)" in agg["interval_methods"]["k"]
    tally = []
    interval_block([r["k"] for r in runs.values()], tally=tally)
    assert sorted(m for _, m, _ in tally) == [2, 3]


def test_the_whole_test_set_counts_as_the_same_images_in_every_seed():
    runs = {str(s): {"k": {"n": 10_000, "clean": c}} for s, c in enumerate([0.980, 0.9805, 0.981])}
    agg = aggregate(runs)
    lo, hi = agg["intervals"]["k"]["clean"]
    t = stats.t_interval([0.980, 0.9805, 0.981])
    assert hi - lo > t.hi - t.lo                  # the image term: binomial sd 0.14 points
    assert "10000 (the same in every seed)" in agg["interval_methods"]["k"]


def test_every_number_that_varies_across_seeds_has_a_kind(committed):
    unknown = set()

    def walk(blocks, path):
        first = blocks[0]
        if isinstance(first, dict):
            for k in first:
                if k not in PER_SEED:
                    walk([b[k] for b in blocks], path + (k,))
        elif isinstance(first, list):
            for i in range(len(first)):
                walk([b[i] for b in blocks], path)
        else:
            vals = [v for v in blocks if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(set(vals)) > 1 and kind_of(path)[0] == "signed":
                unknown.add(path[-1])
    runs = committed["runs"]
    for key in runs["0"]:
        walk([runs[s][key] for s in runs], (key,))
    assert not unknown, sorted(unknown)
    assert set(FIELDS) >= {"clean", "fgsm", "pgd", "cw", "cw_mean_l2", "distance", "sums"}


def test_the_committed_summary_reaggregated_has_no_interval_out_of_range(committed, fresh):
    assert out_of_range(fresh) == []
    for key in committed["runs"]["0"]:
        assert fresh[key] == committed[key], key          # the means do not change
    assert "2 seeds for 5 numbers" in fresh["interval_methods"]["fig10"]
    assert fresh["runs"] == committed["runs"] and fresh["meta"] == committed["meta"]


def test_the_committed_summary_has_no_interval_out_of_range(committed):
    if "binomial image term" not in " ".join(committed["interval_methods"].values()):
        pytest.skip("docs/results/summary.json is not re-aggregated yet (aggregate.reaggregate)")
    assert out_of_range(committed) == []
