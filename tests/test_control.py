"""The control experiment (issue 24 item 4): adversarial training through a BPDA surrogate.

The hook's surrogate examples, the ModelSpec field that names them (and leaves every existing
network's name and checkpoint alone), and the experiment's unit end to end on tiny data."""
from dataclasses import replace

import numpy as np
import pytest

from attack_helpers import random_batch
from nprelu.adversarial_training import adversarial_hook
from nprelu.attacks import pgd
from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.experiments import control
from nprelu.network import MLP
from nprelu.outcomes import Outcome, split
from nprelu.runner.config import GENERAL
from nprelu.runner.schema import SCHEMAS, check
from nprelu.runner.store import ModelSpec, ModelStore

BE = get_backend("numpy")


def _batches(hook, net, n_batches=3):
    out = []
    for k in range(n_batches):
        x, y = random_batch(BE, 32, 20, seed=k)
        out.append(hook(net, x, y))
    return out


@pytest.mark.parametrize("kind", ["fgsm", "pgd"])
def test_surrogate_hook_gives_the_true_gradient_hooks_batches_on_an_uncapped_network(kind):
    net = MLP([20, 16, 8, 3], [None, None], seed=3, backend=BE)
    true = _batches(adversarial_hook(kind, 0.1, seed=5), net)
    through = _batches(adversarial_hook(kind, 0.1, seed=5, surrogate="relu"), net)
    for a, b in zip(true, through):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, random_batch(BE, 32, 20, seed=k)[0])
               for k, a in enumerate(true))      # the batches were perturbed at all


def _moved_rows(hook, net, x, y):
    return float(np.mean(np.abs(hook(net, x, y) - x).max(axis=1) > 0))


def test_surrogate_fgsm_moves_the_batch_that_the_true_gradient_leaves_still_at_cap_001():
    """At beta 0.01 almost no HL2 unit lies in (0, 0.01): the true gradient is 0 and FGSM
    returns most of the batch unchanged; straight through the cap, every row moves."""
    net = MLP([20, 16, 8, 3], [None, 0.01], seed=3, backend=BE)
    x, y = random_batch(BE, 64, 20, seed=9, lo=0.2, hi=0.8)
    true = _moved_rows(adversarial_hook("fgsm", 0.1, seed=0), net, x, y)
    through = _moved_rows(adversarial_hook("fgsm", 0.1, seed=0, surrogate="relu"), net, x, y)
    assert true < 0.2 and through == 1.0


def test_surrogate_pgd_steps_where_the_true_gradient_only_takes_its_random_start():
    net = MLP([20, 16, 8, 3], [None, 0.01], seed=3, backend=BE)
    x, y = random_batch(BE, 64, 20, seed=9, lo=0.2, hi=0.8)
    true = adversarial_hook("pgd", 0.1, seed=0)(net, x, y)
    through = adversarial_hook("pgd", 0.1, seed=0, surrogate="relu")(net, x, y)
    # the hook's first batch with seed 0 starts from PGD seed 1: that start, and no step
    start = pgd(net, x, y, eps=0.1, step=0.01, steps=1, random_start=True, seed=1,
                grad_fn=lambda net, x, y: BE.xp.zeros_like(x))
    left = lambda a: float(np.mean(np.any(a != start, axis=1)))  # noqa: E731
    assert left(true) < 0.2 and left(through) == 1.0


def test_an_unknown_surrogate_is_refused_by_the_hook_and_the_spec():
    with pytest.raises(ValueError, match="unknown surrogate"):
        adversarial_hook("fgsm", 0.1, seed=0, surrogate="tanh")
    with pytest.raises(ValueError, match="unknown surrogate"):
        ModelSpec(GENERAL, (None, 0.1), adv="pgd", adv_surrogate="tanh")
    with pytest.raises(ValueError, match="needs an adversarial training"):
        ModelSpec(GENERAL, (None, 0.1), adv_surrogate="relu")


def test_the_default_spec_keeps_the_name_and_config_of_the_networks_trained_before_the_field():
    spec = ModelSpec(GENERAL, (None, 0.01), seed=2, adv="pgd")
    assert spec.name == "392-196_capnone-0.01_pgd0.1_s2"
    assert spec.as_config() == {"sizes": list(GENERAL), "caps": [None, 0.01], "seed": 2,
                                "adv": "pgd", "adv_eps": 0.1} | {"sizes": GENERAL,
                                                                 "caps": (None, 0.01)}
    through = replace(spec, adv_surrogate="relu")
    assert through.name == "392-196_capnone-0.01_pgd0.1_bpda-relu_s2" != spec.name
    assert through.as_config()["adv_surrogate"] == "relu"
    assert through.base == spec.base == ModelSpec(GENERAL, (None, 0.01), seed=2)
    assert through.uncapped() == spec.uncapped()      # no cap: the surrogate is the true gradient


def test_a_checkpoint_written_with_the_old_config_is_loaded_not_retrained(tmp_path):
    profile = PROFILES["quick"]
    rng = np.random.default_rng(0)
    x, y = BE.asarray(rng.uniform(0, 1, (8, 784))), BE.xp.asarray(rng.integers(0, 10, 8))
    store = ModelStore(tmp_path, profile, BE, (x, y))
    spec = ModelSpec((784, 16, 10), (0.1,), seed=1, adv="fgsm")
    old = {"spec": {"sizes": [784, 16, 10], "caps": [0.1], "seed": 1, "adv": "fgsm",
                    "adv_eps": 0.1},            # the config as written before adv_surrogate
           "train_subset": profile.train_subset, "epochs": profile.epochs,
           "batch_size": profile.batch_size, "lr": 1e-3, "adv_epochs": profile.adv_epochs,
           "adv_step": 0.01, "adv_steps": 10}
    assert store.config(spec) == old
    saved = MLP([784, 16, 10], [0.1], seed=42, backend=BE)
    store.dir.mkdir(parents=True)
    saved.save(store.path(spec), config=old, history={})
    loaded = store.model(spec)                 # would train (and differ) if not found
    assert all(np.array_equal(a, b) for a, b in zip(loaded.params, saved.params))
    assert store.config(replace(spec, adv_surrogate="relu")) != old


def test_the_control_runs_six_networks_trained_through_the_cap_after_the_suite():
    keys = list(EXPERIMENTS)
    assert keys.index("control") > keys.index("suite")      # it reads the suite's rows
    specs = list(control.models(0))
    assert [(s.adv, s.caps[1]) for s in specs] == [
        (a, b) for a in ("fgsm", "pgd") for b in (1.0, 0.1, 0.01)]
    assert all(s.adv_surrogate == "relu" and s.sizes == GENERAL for s in specs)
    assert list(control.units(3))[0] == "control/s3/fgsm-1"


class FakeContext:
    """A tiny context: random 16-pixel images and small networks (the suite test's)."""

    def __init__(self, seed):
        self.profile = replace(PROFILES["quick"], n_adaptive=10)
        self.seed = seed
        self.data = (None, None, None, np.zeros(1000))
        self.asked = []

    def test(self, n):
        return random_batch(BE, n, 16, 100 + self.seed)

    def model(self, spec):
        self.asked.append(spec)
        offset = {None: 0, "fgsm": 11, "pgd": 22}[spec.adv] + (5 if spec.adv_surrogate else 0)
        return MLP([16, 8, 6, 4], list(spec.caps), seed=spec.seed * 100 + offset, backend=BE)


def test_the_control_units_give_outcomes_and_a_block_that_passes_the_schema():
    exp = EXPERIMENTS["control"]
    ctx = FakeContext(0)
    units = exp.run.units(ctx)
    partials = {u: exp.run.run_unit(ctx, u) for u in units}
    assert all(isinstance(p[k], Outcome) for p in partials.values()
               for k in ("clean", "worst_case", "worst_case_common", "pgd_paper"))
    asked = {s.name for s in ctx.asked}
    assert asked == {s.name for u in units for s in exp.run.networks(ctx, u)}
    blocks, settings = exp.run.combine(ctx, partials)
    blocks = split(blocks)[0]
    check(blocks["control"], SCHEMAS[OUTPUTS["control"].kind], "control")
    for r in blocks["control"]["rows"]:
        assert r["worst_case"] <= r["worst_case_common"] <= r["clean"]
        assert r["adv_gradient"] == "bpda-relu"
    assert settings["subsets"] == {"n": 10}
