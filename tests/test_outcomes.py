"""Per-image outcomes (nprelu/outcomes.py): their values, their JSON form, outcomes.npz, and the
summary's accuracies recomputed from them."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nprelu.backend import get_backend
from nprelu.experiments import OUTPUTS
from nprelu.measures import accuracy_outcome, attack_success_rate, robust_accuracy, \
    standard_accuracy, success_outcome
from nprelu.network import MLP
from nprelu.outcomes import Outcome, OutcomeFile, split, values_at
from nprelu.runner.aggregate import unbacked
from nprelu.runner.summary import SummaryFile, as_json, runs_of

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


@st.composite
def outcomes(draw, max_n=300):
    n = draw(st.integers(0, max_n))
    images = draw(st.lists(st.integers(0, 9999), min_size=n, max_size=n, unique=True))
    hits = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    counted = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    return Outcome(np.array(hits, bool), np.array(images, np.int64),
                   None if counted is None else np.array(counted, bool))


@settings(max_examples=60, deadline=None)
@given(outcomes())
def test_an_outcome_comes_back_from_its_json_form_with_the_same_images_hits_and_value(o):
    back = Outcome.from_json(json.loads(json.dumps(o.to_json())))
    assert back == o and back.value == o.value
    hits = o.hits if o.counted is None else o.hits[o.counted]
    assert o.value == (float(hits.sum()) / len(hits) if len(hits) else None)


def test_an_outcome_refuses_mismatched_lengths_repeated_or_out_of_range_images():
    with pytest.raises(ValueError, match="hits for"):
        Outcome([True, False], [1, 2, 3])
    with pytest.raises(ValueError, match="twice"):
        Outcome([True, False], [4, 4])
    with pytest.raises(ValueError, match="65535"):
        Outcome([True], [-1])
    with pytest.raises(ValueError, match="counted"):
        Outcome([True, False], [1, 2], counted=[True])


def test_split_replaces_every_outcome_by_its_value_and_names_its_path():
    a = Outcome([True, False, True, True], [5, 9, 11, 30])
    b = Outcome([True, True], [1, 2], counted=[True, False])
    block = as_json({"t": [{"clean": a, "n": 4}, {"clean": a, "n": 4}],
                     "fig": {"acc": {"HL1": {"0.01": b}}}})
    numbers, found = split(block)
    assert numbers == {"t": [{"clean": 0.75, "n": 4}, {"clean": 0.75, "n": 4}],
                       "fig": {"acc": {"HL1": {"0.01": 1.0}}}}
    assert set(found) == {"t[0].clean", "t[1].clean", "fig.acc.HL1.0.01"}
    assert found["fig.acc.HL1.0.01"] == b
    assert set(values_at(numbers)) == set(found) | {"t[0].n", "t[1].n"}


@settings(max_examples=20, deadline=None)
@given(st.lists(outcomes(max_n=50), min_size=1, max_size=4))
def test_the_outcome_file_gives_back_what_was_stored_seed_by_seed(tmp_path_factory, many):
    out = tmp_path_factory.mktemp("o")
    f = OutcomeFile(out)
    f.add(0, {f"b.x[{i}]": o for i, o in enumerate(many)})
    f.add(3, {"b.y": many[0]})
    f.add(0, {"b.x[0]": many[-1]})                    # replaced, the rest kept
    back = f.read()
    assert set(back) == {"0", "3"} and back["3"]["b.y"] == many[0]
    assert back["0"]["b.x[0]"] == many[-1]
    assert all(back["0"][f"b.x[{i}]"] == o for i, o in enumerate(many) if i)
    assert [p.name for p in out.iterdir()] == ["outcomes.npz"]   # no temporary file left


def test_an_unreadable_outcome_file_is_named():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "outcomes.npz").write_bytes(b"not a zip")
        with pytest.raises(ValueError, match="outcomes.npz: not a readable outcome file"):
            OutcomeFile(d).read()


def _net(seed=0):
    return MLP((6, 8, 3), caps=(0.5,), backend=get_backend("numpy"), seed=seed)


def test_the_outcomes_of_a_real_network_give_the_accuracies_and_success_rate_bit_for_bit():
    rng = np.random.default_rng(1)
    net = _net()
    x = rng.random((57, 6)).astype(np.float32)
    y = rng.integers(0, 3, 57)
    x_adv = np.clip(x + rng.uniform(-0.3, 0.3, x.shape), 0, 1).astype(np.float32)
    images = np.sort(rng.choice(10_000, 57, replace=False))
    assert accuracy_outcome(net, x, y, images).value == standard_accuracy(net, x, y)
    assert accuracy_outcome(net, x_adv, y, images).value == robust_accuracy(net, x_adv, y)
    s = success_outcome(net, x, x_adv, y, images)
    assert s.value == attack_success_rate(net, x, x_adv, y)
    assert s.n == int(accuracy_outcome(net, x, y, images).k)
    never = success_outcome(net, x, x_adv, (net.predict(x) + 1) % 3, images)
    assert never.value is None and math.isnan(attack_success_rate(net, x, x_adv,
                                                                  (net.predict(x) + 1) % 3))


def test_recording_a_seed_stores_its_outcomes_beside_the_summary_and_they_back_every_number(
        tmp_path):
    meta = {"profile": "quick", "seed": 0, "seeds": [0, 1], "profile_settings": {},
            "backend": "numpy", "started": "now", "subsets": {}, "subsets_drawn": {},
            "settings": {}, "wall_seconds": {}, "flops": {}, "jobs": {}, "done": []}
    summary = SummaryFile(tmp_path, meta, OUTPUTS)
    rng = np.random.default_rng(0)
    images = np.sort(rng.choice(10_000, 40, replace=False))

    def row(beta, adv):
        hit = lambda: Outcome(rng.random(40) < 0.7, images)       # noqa: E731
        return {"beta": beta, "adv_training": adv, "clean": hit(), "fgsm": hit(),
                "pgd": hit(), "cw": Outcome(rng.random(10) < 0.5, images[:10]),
                "cw_mean_l2": 1.0, "n": 40, "n_cw": 10}
    for seed in (0, 1):
        rows = [row(b, a) for a in ("none", "fgsm", "pgd") for b in (None, 1.0, 0.1, 0.01)]
        summary.record("table1", {"table1": rows}, {}, 1.0, seed=seed)
    data = json.loads((tmp_path / "summary.json").read_text())
    stored = OutcomeFile(tmp_path).read()
    assert set(stored) == {"0", "1"} and len(stored["0"]) == 12 * 4
    assert unbacked(runs_of(data, {"table1": None}), stored) == []
    assert 0.0 <= data["table1"][0]["clean"] <= 1.0          # the mean over the seeds
    data["runs"]["1"]["table1"][2]["pgd"] = 0.123               # a number its images do not give
    del stored["0"]["table1[5].fgsm"]                           # a number with no images
    problems = unbacked(data["runs"], stored)
    assert len(problems) == 2
    assert any("table1[2].pgd = 0.123" in p for p in problems)
    assert any("table1[5].fgsm" in p and "no per-image outcome" in p for p in problems)


@pytest.mark.skipif(not (RESULTS / "outcomes.npz").exists(),
                    reason="the committed results were run before outcomes were stored")
def test_the_committed_outcomes_recompute_every_committed_accuracy_and_stay_small():
    summary = json.loads((RESULTS / "summary.json").read_text())
    stored = OutcomeFile(RESULTS).read()
    assert unbacked(runs_of(summary, OUTPUTS), stored) == []
    assert (RESULTS / "outcomes.npz").stat().st_size < 25 * 2 ** 20
