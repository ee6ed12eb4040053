"""The masking experiments (issue 14): the zero-gradient cause split on constructed networks,
the blocks' shapes on a tiny profile, their aggregation over seeds, and the drawers."""
from dataclasses import replace

import numpy as np
import pytest

from nprelu.activations import softmax
from nprelu.backend import get_backend
from nprelu.experiments import OUTPUTS, PROFILES
from nprelu.experiments import landscape, masking
from nprelu.experiments.aggregate import aggregate
from nprelu.experiments.context import Context
from nprelu.experiments.schema import SCHEMAS, check
from nprelu.measures import cause_fractions, dtype_twin, mean_logit_gap, zero_gradient_causes
from nprelu.network import MLP
from nprelu.plots import DRAWERS
from nprelu.report.masking import verdict

BETA = 0.5
X_FLAT = [0.5, 0.5]    # HL2's pre-activations z = 1.0 > beta in every unit: the cap passes nothing
X_SLOPE = [0.1, 0.1]   # z = 0.2, inside (0, beta): every unit on its slope


def net_with(b2, dtype="float32"):
    """2-3-3-2: HL1 = relu(x0, x1, 0); HL2 = cap(sum of HL1, 0.5) in each unit; logits = a2 W2
    + b2 with small W2, so ``b2`` sets the logit gap."""
    net = MLP([2, 3, 3, 2], [None, BETA], seed=0, backend=get_backend("numpy", dtype=dtype))
    net.W[0][...] = [[1, 0, 0], [0, 1, 0]]
    net.b[0][...] = 0
    net.W[1][...] = 1.0
    net.b[1][...] = 0
    net.W[2][...] = [[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0]]
    net.b[2][...] = b2
    return net


def causes(net, rows, y):
    out = zero_gradient_causes(net, np.array(rows), np.array(y), 1)
    return {k: v.tolist() for k, v in out.items()}


def fractions(net, rows, y):
    return cause_fractions(zero_gradient_causes(net, np.array(rows), np.array(y), 1))


def test_a_capped_layer_that_passes_nothing_is_the_cap_cause_and_a_zero_gradient():
    net = net_with([0.0, 0.0])
    got = causes(net, [X_FLAT, X_SLOPE], [0, 0])
    assert got == {"zero": [True, False], "cap": [True, False], "saturated": [False, False],
                   "dlogits_zero": [False, False]}
    _, dx = net.input_grad(np.array([X_FLAT, X_SLOPE], dtype="float32"), np.array([0, 0]))
    assert not dx[0].any() and dx[1].any()
    assert fractions(net, [X_FLAT, X_SLOPE], [0, 0]) == {
        "cap": 0.5, "softmax": 0.0, "both": 0.0, "any": 0.5, "saturated": 0.0}


def test_huge_logits_saturate_the_float32_softmax_to_an_exact_zero_but_not_float64():
    net32 = net_with([150.0, -150.0])                       # logit gap about 300
    logits = net32.logits(np.array([X_SLOPE], dtype="float32"))
    assert softmax(logits)[0, 0] == np.float32(1.0)        # p_y is exactly 1.0 in float32
    got32 = causes(net32, [X_FLAT, X_SLOPE], [0, 0])
    assert got32 == {"zero": [True, True], "cap": [True, False], "saturated": [True, True],
                     "dlogits_zero": [True, True]}
    assert fractions(net32, [X_FLAT, X_SLOPE], [0, 0]) == {
        "cap": 0.0, "softmax": 0.5, "both": 0.5, "any": 1.0, "saturated": 1.0}
    net64 = dtype_twin(net32, "float64")
    assert net64.theta.dtype == np.float64 and np.array_equal(net64.theta, net32.theta)
    got64 = causes(net64, [X_FLAT, X_SLOPE], [0, 0])      # p_y rounds to 1.0 in float64 too,
    assert got64 == {"zero": [True, False], "cap": [True, False], "saturated": [True, True],
                     "dlogits_zero": [False, False]}      # but exp(-300) is no zero there
    assert fractions(net64, [X_FLAT, X_SLOPE], [0, 0])["softmax"] == 0.0
    _, dx64 = net64.input_grad(np.array([X_SLOPE]), np.array([0]))
    assert dx64.any() and np.all(np.abs(dx64) < 1e-100)    # tiny, but not zero


def test_p_y_of_one_alone_is_no_zero_gradient():
    net = net_with([15.0, -15.0])                          # gap about 30: p_y == 1.0, p_1 ~ 1e-13
    got = causes(net, [X_SLOPE], [0])
    assert got == {"zero": [False], "cap": [False], "saturated": [True], "dlogits_zero": [False]}
    assert fractions(net, [X_SLOPE], [0]) == {"cap": 0.0, "softmax": 0.0, "both": 0.0,
                                              "any": 0.0, "saturated": 1.0}


def test_the_margin_loss_never_saturates():
    net = net_with([150.0, -150.0])
    got = zero_gradient_causes(net, np.array([X_SLOPE]), np.array([0]), 1, loss="margin")
    assert not got["dlogits_zero"][0] and not got["zero"][0]


def test_cause_split_rejects_a_layer_that_is_not_hidden():
    net = net_with([0.0, 0.0])
    for bad in (2, -1, 1.0, True):
        with pytest.raises(ValueError, match="hidden layer"):
            zero_gradient_causes(net, np.array([X_SLOPE]), np.array([0]), bad)


def test_mean_logit_gap_is_over_the_correct_samples_only():
    net = net_with([3.0, -1.0])
    x = np.array([X_FLAT, X_FLAT])          # a2 = 0.5 each: logits b2 + (0.5, 0.125)
    assert mean_logit_gap(net, x, np.array([0, 1])) == pytest.approx(4.375, rel=1e-6)
    assert np.isnan(mean_logit_gap(net, x, np.array([1, 1])))


TINY = replace(PROFILES["quick"], train_subset=600, epochs=1, n_zero=20, zero_max_steps=20)


@pytest.fixture(scope="module")
def blocks(mnist, tmp_path_factory):
    be = get_backend("numpy")
    ctx = Context.create(tmp_path_factory.mktemp("masking"), TINY, be, 0,
                         tuple(be.asarray(a) for a in mnist))
    return {**masking.run(ctx)[0], **landscape.run(ctx)[0]}


def test_the_blocks_have_their_schemas_and_the_numbers_are_fractions(blocks):
    for key, block in blocks.items():
        check(block, SCHEMAS[OUTPUTS[key].kind], key)
    m = blocks["masking"]
    assert m["n"] == 20 and len(m["pgd_ce_f32"]) == len(m["betas_eval"]) == 15
    for t in ("zero_grad_f32", "zero_grad_f64"):
        for c in ("cap", "softmax", "both", "any", "saturated"):
            assert all(0.0 <= v <= 1.0 for v in m[t][c])
    land = blocks["fig07"]["landscape"]
    assert len(land["loss"]) == len(land["plateau"]) == 41
    assert land["pgd_path"][0] != [0.0, 0.0] and len(land["pgd_path"]) == 11
    assert land["zero_path"][0] == [0.0, 0.0]               # the search starts at x


def test_the_landscape_is_kept_per_seed_and_the_masking_numbers_averaged(blocks):
    other = {k: {**b} for k, b in blocks.items()}
    other["fig07"] = {**blocks["fig07"], "landscape": {**blocks["fig07"]["landscape"],
                                                       "index": 99, "label": 3}}
    other["masking"] = {**blocks["masking"], "pgd_ce_f32": [1.0] * 15}
    out = aggregate({"0": blocks, "1": other})
    assert out["fig07"]["landscape"] == blocks["fig07"]["landscape"]
    assert out["intervals"]["fig07"]["landscape"] == blocks["fig07"]["landscape"]
    assert out["masking"]["pgd_ce_f32"][0] == pytest.approx(
        (blocks["masking"]["pgd_ce_f32"][0] + 1.0) / 2)


def test_the_drawers_write_pngs(blocks, tmp_path):
    for key in ("masking", "fig07"):
        out = OUTPUTS[key]
        path = DRAWERS[out.kind](out, blocks[key], tmp_path / out.file)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _block(sat, ce, margin, f64, n=1000):
    z = [0.0] * 15
    return {"betas_eval": [0.01 * (i + 1) for i in range(15)], "n": n,
            "zero_grad_f32": {"softmax": [sat] * 15, "both": z, "cap": z, "any": [sat] * 15,
                              "saturated": [sat] * 15},
            "pgd_ce_f32": [ce] * 15, "pgd_margin_f32": [margin] * 15, "pgd_ce_f64": [f64] * 15}


def test_the_verdict_follows_the_numbers():
    assert verdict([_block(0.3, 0.7, 0.5, 0.5)])[0] == "supported"
    assert verdict([_block(0.0, 0.7, 0.5, 0.5)])[0] == "refuted"     # no saturation at all
    assert verdict([_block(0.3, 0.5, 0.7, 0.7)])[0] == "refuted"     # the others do worse
    assert verdict([_block(0.3, 0.7, 0.69, 0.5)])[0] == "inconclusive"
    seeds = [_block(0.3, 0.7 + d, 0.5, 0.5 + d) for d in (0.0, 0.01, -0.01)]
    assert verdict(seeds)[0] == "supported"


# ---- synthetic blocks for tests/summary_helpers.make_summary (every registry block) --------
def synthetic_masking_block(rng) -> dict:
    """A well-formed ``masking`` block with random numbers (15 evaluation caps, n 200)."""
    def fractions():
        return rng.random(15).tolist()
    return {"network": "equal", "sizes": [784, 784, 784, 10], "capped_layer": "HL2",
            "trained_beta": 0.01, "betas_eval": [round(0.01 * (i + 1), 2) for i in range(15)],
            "n": 200, "n_test": 200,
            **{f"zero_grad_{t}": {c: (0.25 * rng.random(15)).tolist()
                                  for c in ("cap", "softmax", "both", "any", "saturated")}
               for t in ("f32", "f64")},
            "pgd_ce_f32": fractions(), "pgd_margin_f32": fractions(), "pgd_ce_f64": fractions(),
            "standard": fractions(), "logit_gap": [None] + (20 * rng.random(14)).tolist()}


def synthetic_landscape_block(rng) -> dict:
    """A well-formed ``fig07`` (kind ``landscape``) block with random numbers."""
    grid = np.linspace(-0.15, 0.15, 41).tolist()
    loss = rng.random((41, 41))
    return {"network": "general", "sizes": [784, 392, 196, 10], "capped_layer": "HL2",
            "beta": 0.01, "eps": 0.1, "n_test": 100, "landscape": {
                "index": int(rng.integers(100)), "label": int(rng.integers(10)),
                "selection": "correct, zero gradient at x, plain PGD fails",
                "u": "sign of the BPDA (relu) input gradient at x", "a": grid, "b": grid,
                "loss": loss.tolist(), "plateau": (loss < 0.3).tolist(),
                "plateau_fraction": float((loss < 0.3).mean()),
                "pgd_path": (0.1 * rng.random((11, 2))).tolist(), "pgd_success": False,
                "pgd_batch_success": False, "zero_path": [[0.0, 0.0]], "zero_found": True,
                "zero_steps": 0}}


def test_the_synthetic_blocks_fit_their_schemas_and_render(tmp_path):
    from nprelu.report.masking import landscape_findings, masking_findings, section_body

    runs = {str(s): {"masking": synthetic_masking_block(np.random.default_rng(s)),
                     "fig07": synthetic_landscape_block(np.random.default_rng(s))}
            for s in range(3)}
    summary = {**aggregate(runs), "runs": runs}
    for key in ("masking", "fig07"):
        check(summary[key], SCHEMAS[OUTPUTS[key].kind], key)
    body = section_body((OUTPUTS["masking"],), summary, lambda o: [])
    assert sum(line.startswith("| 0.") for line in "\n".join(body).splitlines()) == 15
    found = masking_findings((OUTPUTS["masking"],), summary)
    assert any(w in found[0] for w in ("supported", "refuted", "inconclusive"))
    assert "plateau covers" in " ".join(landscape_findings((OUTPUTS["fig07"],), summary))


def test_the_equal_networks_pgd_sweep_points_to_the_masking_verdict():
    from summary_helpers import make_summary
    from nprelu.report.masking import saturation_pointer
    from nprelu.report.sweeps import pgd_findings
    from nprelu.experiments import OUTPUTS
    summary = make_summary(seeds=3)
    line = saturation_pointer(summary, "equal")
    assert "PGD with the margin loss" in line and "a second masking mechanism" in line
    assert any(v in line for v in ("supported", "refuted", "inconclusive"))
    assert saturation_pointer(summary, "general") is None
    summary["fig06"]["network"] = "equal"
    assert line in pgd_findings([OUTPUTS["fig06"]], summary)
    assert not any("masking mechanism" in x for x in pgd_findings([OUTPUTS["fig04"]], summary))
