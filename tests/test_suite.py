"""The equal-budget attack suite (nprelu.evaluation) and the ``suite`` experiment."""
from dataclasses import replace

import numpy as np
import pytest

from attack_helpers import counting, random_batch
from nprelu.backend import get_backend
from nprelu.attacks.registry import REGISTRY, Attack
from nprelu.evaluation import Run, SuiteBudget, attack_seed, budget_words, correct_mask, \
    curve_attacks, evaluate, run_suite, standard_attacks, standard_suite, worst_case
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.experiments import suite as suite_exp
from nprelu.runner.aggregate import aggregate
from nprelu.runner.schema import SCHEMAS, check, check_interval
from nprelu.network import MLP
from nprelu.outcomes import split

BE = get_backend("numpy")
BUDGET = SuiteBudget(restarts=2, steps=4, margin_steps=3, margin_restarts=2, square_queries=20)


def tiny(caps, seed=0):
    """[16, 8, 4] (4 x 4 images, so Square works; 4 classes, so APGD-T does), trained for
    nothing: a random net."""
    return MLP([16, 8, 4], caps, seed=seed, backend=BE)



def suite_for(caps, x, y, seed=0, eps=0.1, counts=None, attacks=None):
    counts = {} if counts is None else counts
    net = counting(tiny(caps), counts.setdefault("net", []))
    sources = {"uncapped": counting(tiny([None], seed=5), counts.setdefault("uncapped", [])),
               "twin": counting(tiny(caps, seed=7), counts.setdefault("twin", []))}
    return net, run_suite(net, x, y, eps, BUDGET, seed, sources, attacks)


def test_every_attack_runs_with_the_same_budget_on_capped_and_uncapped_networks():
    x, y = random_batch(BE, 12, 16, 0)
    capped, uncapped = {}, {}
    _, masks_c = suite_for([0.1], x, y, counts=capped)
    _, masks_u = suite_for([None], x, y, counts=uncapped)
    assert list(masks_c) == list(masks_u) == [a for a, e in REGISTRY.items() if e.standard]
    for m in (*masks_c.values(), *masks_u.values()):
        assert m.dtype == bool and m.shape == (12,)
    full = budget_words(BUDGET)["gradient_evaluations_per_sample"]
    for counts in (capped, uncapped):       # APGD-T stops on an image once it is broken
        assert sum(counts["net"]) / 12 <= full["attacked network"]
    # every other attack: the same calls, the same rows, capped or not, the whole budget
    untargeted = [a for a in standard_attacks() if not REGISTRY[a].targeted]
    capped, uncapped = {}, {}
    suite_for([0.1], x, y, counts=capped, attacks=untargeted)
    suite_for([None], x, y, counts=uncapped, attacks=untargeted)
    for who in ("net", "uncapped", "twin"):
        assert capped[who] == uncapped[who], who
    per_sample = budget_words(BUDGET, untargeted)["gradient_evaluations_per_sample"]
    assert sum(capped["net"]) / 12 == per_sample["attacked network"]
    assert (sum(capped["uncapped"]) + sum(capped["twin"])) / 12 == \
        per_sample["twins (transfer sources)"] == full["twins (transfer sources)"]


@pytest.mark.parametrize("caps", [[0.1], [None]])
def test_worst_case_is_below_every_attack_and_clean_and_eps_zero_is_clean(caps):
    x, y = random_batch(BE, 30, 16, 1)
    net, masks = suite_for(caps, x, y)
    clean = correct_mask(net, x, y)
    worst = worst_case(clean, masks)
    assert worst.sum() <= clean.sum() and clean.sum() > 0
    for m in masks.values():
        assert not (worst & ~m).any()
    assert worst.sum() < clean.sum()        # the suite breaks something on a random net
    net0, masks0 = suite_for(caps, x, y, eps=0.0)
    for name, m in masks0.items():
        np.testing.assert_array_equal(m, clean, err_msg=name)
    np.testing.assert_array_equal(worst_case(clean, masks0), clean)


def test_seeds_are_reproducible_and_distinct():
    x, y = random_batch(BE, 20, 16, 2)
    _, a = suite_for([0.1], x, y, seed=3)
    _, b = suite_for([0.1], x, y, seed=3)
    names = standard_attacks()
    for name in names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    seeds = {attack_seed(s, k, *rest) for s in range(3) for k in range(len(names))
             for rest in ((), (200, 0), (200, 1))}
    assert len(seeds) == 3 * len(names) * 3 and all(0 <= s < 2 ** 31 for s in seeds)


def test_an_attack_added_to_the_registry_runs_in_the_suites_and_leaves_the_others_alone(
        monkeypatch):
    x, y = random_batch(BE, 12, 16, 3)
    _, before = suite_for([0.1], x, y, seed=4)
    calls = []

    def toy(net, x, y, eps, seed, *, steps, index=None):     # every pixel up by eps
        calls.append((eps, seed, steps))
        return BE.xp.clip(x + eps, 0.0, 1.0)
    monkeypatch.setitem(REGISTRY, "toy", Attack(toy, "none", "none", False, ("steps",),
                                                lambda b: 0, standard=True))
    net, after = suite_for([0.1], x, y, seed=4)
    assert list(after) == [*before, "toy"]
    for name, mask in before.items():           # the others keep their seeds and outcomes
        np.testing.assert_array_equal(after[name], mask, err_msg=name)
    assert calls == [(0.1, attack_seed(4, len(before)), BUDGET.steps)]
    np.testing.assert_array_equal(after["toy"], correct_mask(net, BE.xp.clip(x + 0.1, 0, 1), y))
    assert "toy" in curve_attacks()
    assert suite_exp.settings(PROFILES["quick"])["attacks"][-1] == "toy"


def test_evaluate_gives_each_attacks_outcome_the_clean_one_and_their_worst_case():
    x, y = random_batch(BE, 16, 16, 5)
    net, uncapped = tiny([0.1]), tiny([None], seed=5)
    suite = standard_suite(BUDGET, ("apgd_ce", "square", "transfer_uncapped"))
    ev = evaluate(net, x, y, 0.1, suite, seed=2, sources={"uncapped": uncapped}, cascade=False)
    assert list(ev.outcomes) == ["apgd_ce", "square", "transfer_uncapped"]
    np.testing.assert_array_equal(ev.clean, correct_mask(net, x, y))
    assert all(set(np.unique(o)) <= {0, 1} for o in ev.outcomes.values())   # all ran
    np.testing.assert_array_equal(ev.worst, ev.clean & (ev.outcomes["apgd_ce"] == 1)
                                  & (ev.outcomes["square"] == 1)
                                  & (ev.outcomes["transfer_uncapped"] == 1))
    masks = run_suite(net, x, y, 0.1, BUDGET, 2, {"uncapped": uncapped},
                      ("apgd_ce", "square", "transfer_uncapped"))
    for name, mask in masks.items():
        np.testing.assert_array_equal(ev.outcomes[name] == 1, mask, err_msg=name)
        assert ev.accuracy(name) == np.mean(mask)
    # a batch already made replaces its attack, which then needs no source
    made = evaluate(net, x, y, 0.1, suite[2:], made={"transfer_uncapped": x}, cascade=False)
    np.testing.assert_array_equal(made.outcomes["transfer_uncapped"], ev.clean)


def test_the_cascade_attacks_only_what_is_still_correct_and_names_who_broke_it_first():
    x, y = random_batch(BE, 40, 16, 5)
    net, uncapped = tiny([0.1]), tiny([None], seed=5)
    suite = standard_suite(BUDGET, ("apgd_ce", "square", "transfer_uncapped"))
    full = evaluate(net, x, y, 0.1, suite, seed=2, sources={"uncapped": uncapped}, cascade=False)
    log = []
    ev = evaluate(counting(net, log), x, y, 0.1, suite, seed=2, sources={"uncapped": uncapped})
    assert ev.cascade and ev.order == ("apgd_ce", "transfer_uncapped", "square")  # square last
    assert list(ev.outcomes) == list(ev.order)
    np.testing.assert_array_equal(ev.worst, full.worst)
    alive = ev.clean.copy()
    for k, name in enumerate(ev.order):
        out = ev.outcomes[name]
        np.testing.assert_array_equal(out == -1, ~alive, err_msg=name)   # not run = already out
        np.testing.assert_array_equal(out[alive], full.outcomes[name][alive], err_msg=name)
        np.testing.assert_array_equal(ev.first == k, alive & (out == 0), err_msg=name)
        alive &= out != 0
    assert 0 < ev.clean.sum() < len(y) and 0 < ev.worst.sum() < ev.clean.sum()
    assert (ev.first[~ev.clean] == -1).all() and (ev.first[ev.worst] == -1).all()
    assert sum(log) == ev.clean.sum() * (BUDGET.restarts * (BUDGET.steps + 1))  # APGD-CE only
    assert sum(ev.broke_first().values()) == pytest.approx(np.mean(ev.clean & ~ev.worst))
    with pytest.raises(ValueError, match="cascade=False"):
        ev.accuracy("square")
    # a run only for capped networks is left out on an uncapped one
    only = (Run("apgd_ce", {"restarts": 1, "steps": 2}, capped_only=True),)
    assert list(evaluate(uncapped, x, y, 0.1, only).outcomes) == []
    assert list(evaluate(net, x, y, 0.1, only).outcomes) == ["apgd_ce"]


def test_bad_input_raises():
    x, y = random_batch(BE, 4, 16, 0)
    net = tiny([0.1])
    with pytest.raises(ValueError, match="unknown attacks"):
        run_suite(net, x, y, 0.1, BUDGET, 0, {}, attacks=("fgsm",))
    with pytest.raises(ValueError, match="twin"):
        run_suite(net, x, y, 0.1, BUDGET, 0, {"uncapped": net})
    with pytest.raises(ValueError, match="eps"):
        run_suite(net, x, y, -0.1, BUDGET, 0, {}, attacks=curve_attacks()[:1])
    with pytest.raises(ValueError, match="unknown attack 'nope'"):
        Run("nope")
    with pytest.raises(ValueError, match="budget fields"):
        Run("apgd_ce", {"restarts": 1})
    with pytest.raises(ValueError, match="Run items"):
        evaluate(net, x, y, 0.1, ["apgd_ce"])
    with pytest.raises(ValueError, match="steps"):
        SuiteBudget(1, 0, 1, 1, 1)
    with pytest.raises(ValueError, match="shape"):
        worst_case(np.ones(3, bool), [np.ones(2, bool)])


class FakeContext:
    """What the suite's units read: the quick profile (smaller subsets), a seed, test images of
    4 x 4 pixels and untrained [16, 8, 6, 4] networks with each spec's caps and seed."""

    def __init__(self, seed):
        self.profile = replace(PROFILES["quick"], n_adaptive=10, n_fig12=8)
        self.seed = seed
        self.data = (None, None, None, np.zeros(1000))   # 1,000 test images to index

    def test(self, n):
        return random_batch(BE, n, 16, 100 + self.seed)

    def model(self, spec):
        offset = {None: 0, "fgsm": 11, "pgd": 22}[spec.adv]
        return MLP([16, 8, 6, 4], list(spec.caps), seed=spec.seed * 100 + offset, backend=BE)


@pytest.mark.slow
def test_units_and_combine_give_blocks_that_pass_the_schema():
    exp = EXPERIMENTS["suite"]
    assert [o.kind for o in exp.outputs] == ["suite", "eps_curve", "adaptive_curve"]
    assert list(EXPERIMENTS).index("suite") == list(EXPERIMENTS).index("adaptive") + 1
    runs = {}
    for seed in (0, 1):
        ctx = FakeContext(seed)
        units = exp.run.units(ctx)
        assert units[0] == f"suite/s{seed}/none-none" and len(units) == 12 + len(suite_exp.INITIAL_BETAS)
        blocks, settings = exp.run.combine(ctx, {u: exp.run.run_unit(ctx, u) for u in units})
        blocks = split(blocks)[0]            # each Outcome as its value, as the summary records it
        for key, block in blocks.items():
            check(block, SCHEMAS[OUTPUTS[key].kind], key)
        rows = blocks["suite"]["rows"]
        assert len(rows) == 12 and blocks["suite"]["attacks"] == list(standard_attacks())
        for r in rows:
            assert r["worst_case"] <= r["clean"] and r["n_attacks"] == 2   # 10 // 5 images
            assert set(r["attacks"]) == set(standard_attacks())
            assert r["worst_case"] <= r["worst_case_common"] <= r["clean"]
        for net in blocks["fig13"]["networks"]:
            assert len(net["worst_case"]) == len(blocks["fig13"]["eps"]) == 7
        for c in blocks["fig14"]["curves"].values():
            assert all(w <= s for w, s in zip(c["worst_case"], c["standard"]))
        assert settings["transfer twin seed"] == "seed + 1"
        runs[str(seed)] = blocks
    merged = aggregate(runs)
    for key in ("suite", "fig13", "fig14"):
        check(merged[key], SCHEMAS[OUTPUTS[key].kind], key)
        check_interval(merged["intervals"][key], merged[key], key)


def test_profile_budgets():
    assert suite_exp.budget(PROFILES["quick"]).square_queries == 100
    assert suite_exp.budget(PROFILES["full"]) == suite_exp.SUITE["paper"]
    assert suite_exp.curve_budget(PROFILES["paper"]) == SuiteBudget(1, 100, 20, 1, 1000)
    assert suite_exp.twin_spec(next(iter(suite_exp.models(4)))).seed == 5
