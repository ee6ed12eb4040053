"""Per-image randomness (nprelu.random_keys) and the cascade (nprelu.evaluation.evaluate): an
image's result does not depend on the images that share its batch, their order or the block
size, so the cascade's worst case is that of every attack on every image."""
from dataclasses import replace

import numpy as np
import pytest

from attack_helpers import host, random_batch, rowwise_products
from nprelu import random_keys
from nprelu.adversarial_training import adversarial_hook
from nprelu.attacks.registry import REGISTRY
from nprelu.backend import get_backend
from nprelu.evaluation import SuiteBudget, evaluate, standard_suite
from nprelu.network import MLP
from nprelu.train import train

BE = get_backend("numpy")
#: One small budget in the registry's vocabulary: every entry takes its own fields from it.
BUDGET = {"restarts": 2, "steps": 4, "margin_restarts": 2, "margin_steps": 3,
          "margin_step": 0.02, "square_queries": 25, "step": 0.02, "random_start": True}
N = 240


def tiny(be, caps=(0.3,), seed=0):
    """[16, 12, 4] (4 x 4 images, so Square works; 4 classes, so APGD-T does), random weights
    (the same for any backend)."""
    return MLP([16, 12, 4], list(caps), seed=seed, backend=be)


def run(name, net, source, x, y, index):
    entry = REGISTRY[name]
    extra = {"source": source} if entry.source is not None else {}
    budget = {f: BUDGET[f] for f in entry.budget}
    return host(entry.run(net, x, y, 0.1, seed=11, index=index, **extra, **budget))


# --------------------------------------------------------------------------- the keyed draws

def test_keyed_uniforms_are_uniform_and_independent_across_images_and_counters():
    u = random_keys.uniform(random_keys.key(3, 1), np.arange(2000), 50)
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = u.size / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 45.3                       # 19 degrees of freedom, p = 0.001
    # neighbouring images and neighbouring counters are uncorrelated
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < 0.01
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 0.01
    sides = random_keys.below(random_keys.key(0), np.arange(30000), 1, 7).ravel()
    counts = np.bincount(sides, minlength=7)
    assert sides.min() == 0 and sides.max() == 6
    chi2 = float(((counts - 30000 / 7) ** 2 / (30000 / 7)).sum())
    assert chi2 < 22.5                       # 6 degrees of freedom, p = 0.001


def test_an_images_draws_depend_on_its_index_and_the_key_only():
    k = random_keys.key(5, 2, 9)
    idx = np.array([7, 9999, 0, 123])
    whole = random_keys.uniform(k, idx, 16)
    np.testing.assert_array_equal(random_keys.uniform(k, idx[::-1], 16), whole[::-1])
    np.testing.assert_array_equal(random_keys.uniform(k, idx[1:2], 16), whole[1:2])
    np.testing.assert_array_equal(random_keys.uniform(k, idx, 4), whole[:, :4])   # a prefix
    assert not np.array_equal(random_keys.uniform(random_keys.key(5, 2, 8), idx, 16), whole)
    assert random_keys.key(1, 2) != random_keys.key(2, 1) != random_keys.key(1, 2, 0)
    with pytest.raises(ValueError, match="index must hold one image index per row"):
        random_keys.indices([1, 2], 3)
    with pytest.raises(ValueError, match="key parts must be integers >= 0"):
        random_keys.key(-1)


# --------------------------------------------------------------------------- every attack

@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_image_gets_the_same_result_shuffled_split_or_in_other_blocks(name, monkeypatch):
    rowwise_products(monkeypatch)            # the BLAS's rounding of a row by its place aside
    x, y = random_batch(BE, N, 16, 1, k=4)
    index = np.sort(np.random.default_rng(2).choice(10_000, N, replace=False))
    net, source = tiny(BE), tiny(BE, (None,), seed=4)
    whole = run(name, net, source, x, y, index)
    assert not np.array_equal(whole, host(x)) or name == "fgsm"
    perm = np.random.default_rng(3).permutation(N)
    np.testing.assert_array_equal(run(name, net, source, x[perm], y[perm], index[perm]),
                                  whole[perm], err_msg=f"{name}: shuffled")
    half = N // 2
    halves = [run(name, net, source, x[s], y[s], index[s]) for s in (slice(0, half),
                                                                   slice(half, N))]
    np.testing.assert_array_equal(np.concatenate(halves), whole, err_msg=f"{name}: halves")
    be = replace(BE, block_rows=37)          # other row blocks (7 of 34-35 rows)
    np.testing.assert_array_equal(run(name, tiny(be), tiny(be, (None,), seed=4), x, y, index),
                                  whole, err_msg=f"{name}: blocks of 37 rows")


def test_a_restart_and_an_images_start_do_not_depend_on_the_restart_count():
    from nprelu.attacks import apgd
    x, y = random_batch(BE, 20, 16, 1)
    net = tiny(BE)
    one = host(apgd(net, x, y, 0.1, steps=1, restarts=1, seed=3, index=np.arange(20) + 50))
    again = host(apgd(net, x[5:], y[5:], 0.1, steps=1, restarts=1, seed=3,
                      index=np.arange(5, 20) + 50))
    np.testing.assert_array_equal(again, one[5:])
    other = host(apgd(net, x, y, 0.1, steps=1, restarts=1, seed=3, index=np.arange(20)))
    assert not np.array_equal(other, one)    # another image index, another start


# --------------------------------------------------------------------------- the cascade

def trained_networks(mnist):
    """Tiny MLPs [784, 32, 32, 10] trained 1 epoch on 2,000 MNIST images: uncapped, capped at
    0.01 (HL2) and FGSM-trained (eps 0.1) with the cap."""
    x_train, y_train = mnist[0][:2000], mnist[1][:2000]
    nets = {}
    for name, caps, hook in (("uncapped", [None, None], None),
                             ("capped", [None, 0.01], None),
                             ("fgsm-trained", [None, 0.01], adversarial_hook("fgsm", 0.1, 0))):
        net = MLP([784, 32, 32, 10], caps, seed=0, backend=BE)
        train(net, x_train, y_train, epochs=1, batch_size=100, seed=0, batch_hook=hook)
        nets[name] = net
    return nets


@pytest.mark.slow
def test_the_cascade_gives_the_worst_case_of_every_attack_on_every_image(mnist, monkeypatch):
    rowwise_products(monkeypatch)
    nets = trained_networks(mnist)
    twin = MLP([784, 32, 32, 10], [None, None], seed=1, backend=BE)
    train(twin, mnist[0][:2000], mnist[1][:2000], epochs=1, batch_size=100, seed=1)
    x, y = BE.asarray(mnist[2][:60]), mnist[3][:60]
    index = np.arange(60) + 1000
    budget = SuiteBudget(restarts=1, steps=5, margin_steps=5, margin_restarts=1,
                         square_queries=30)
    for name, net in nets.items():
        sources = {"uncapped": net.with_caps([None, None]), "twin": twin}
        kw = {"seed": 3, "sources": sources, "index": index}
        full = evaluate(net, x, y, 0.1, standard_suite(budget), cascade=False, **kw)
        cascade = evaluate(net, x, y, 0.1, standard_suite(budget), **kw)
        np.testing.assert_array_equal(cascade.worst, full.worst, err_msg=name)
        assert cascade.clean.sum() > cascade.worst.sum(), name   # some image broken
        for attack, out in cascade.outcomes.items():             # where it ran, as in full
            ran = out != -1
            np.testing.assert_array_equal(out[ran], full.outcomes[attack][ran], err_msg=name)
        assert (cascade.first[cascade.clean & ~cascade.worst] >= 0).all()


def test_a_sub_suite_cascade_reusing_known_outcomes_equals_running_it_afresh(monkeypatch):
    """The suite's worst case over the attacks common to both twins reuses the first cascade's
    outcomes (``known``): the result equals a fresh cascade of that sub-suite, and the reuse
    runs fewer attacks."""
    from nprelu.attacks.registry import common_to_twins
    rowwise_products(monkeypatch)
    x, y = random_batch(BE, 60, 16, 5, k=4)
    index = np.arange(60) * 7
    net, source = tiny(BE), tiny(BE, (None,), seed=4)
    suite = standard_suite(SuiteBudget(restarts=2, steps=4, margin_steps=3, margin_restarts=2,
                                       square_queries=25))
    sources = {"uncapped": source, "twin": source}
    first = evaluate(net, x, y, 0.1, suite, seed=2, sources=sources, index=index)
    common = [r for r in suite if r.attack in common_to_twins()]
    calls = []
    import nprelu.evaluation as evaluation
    real = evaluation.craft
    monkeypatch.setattr(evaluation, "craft",
                        lambda *a, **k: calls.append(a[4].attack) or real(*a, **k))
    reused = evaluate(net, x, y, 0.1, common, seed=2, sources=sources, index=index,
                      known=first.outcomes)
    n_reused = len(calls)
    fresh = evaluate(net, x, y, 0.1, common, seed=2, sources=sources, index=index)
    np.testing.assert_array_equal(reused.worst, fresh.worst)
    assert first.worst.sum() <= reused.worst.sum()
    assert n_reused < len(calls) - n_reused
