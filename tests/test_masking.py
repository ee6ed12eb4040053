"""The masking experiments (issue 14): the zero-gradient cause split on constructed networks,
the blocks' shapes on a tiny profile, their aggregation over seeds, and the drawers."""
from dataclasses import replace

import numpy as np
import pytest

from nprelu.activations import softmax
from nprelu.backend import get_backend
from nprelu.experiments import OUTPUTS, PROFILES
from nprelu.experiments import landscape, masking
from nprelu.runner.aggregate import aggregate
from nprelu.runner.context import Context
from nprelu.attacks import zero_gradient_pgd
from nprelu.attacks.zero_gradient import ZeroGradientResult
from nprelu.runner.summary import as_recorded
from nprelu.runner.schema import SCHEMAS, SummaryError, check
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
def ctx(mnist, tmp_path_factory):
    be = get_backend("numpy")
    return Context.create(tmp_path_factory.mktemp("masking"), TINY, be, 0,
                          tuple(be.asarray(a) for a in mnist))


@pytest.fixture(scope="module")
def blocks(ctx):
    return {**as_recorded(masking.run(ctx)[0]), **landscape.run(ctx)[0]}


@pytest.mark.slow
def test_the_blocks_have_their_schemas_and_the_numbers_are_fractions(blocks):
    for key, block in blocks.items():
        check(block, SCHEMAS[OUTPUTS[key].kind], key)
    m = blocks["masking"]
    assert m["n"] == 20 and len(m["pgd_ce_f32"]) == len(m["betas_eval"]) == 15
    for t in ("zero_grad_f32", "zero_grad_f64"):
        for c in ("cap", "softmax", "both", "any", "saturated"):
            assert all(0.0 <= v <= 1.0 for v in m[t][c])
    cases = blocks["fig07"]["cases"]
    assert list(cases) == list(landscape.CASES) and cases["at_x"] is not None
    for case, land in cases.items():
        if land is None:
            continue
        assert land["case"] == case
        assert len(land["loss"]) == len(land["plateau"]) == 41
        assert land["pgd_path"][0] != [0.0, 0.0] and len(land["pgd_path"]) == 11
        assert land["zero_path"][0] == [0.0, 0.0]               # the search starts at x
        assert len(land["zero_path"]) == land["zero_steps"] + 1


def test_each_chosen_image_meets_its_cases_rule_and_is_the_first_to(ctx, blocks):
    """Recomputed on the subset: correct, gradient at x, and ONE batched search."""
    be, block = ctx.backend, blocks["fig07"]
    xs, ys = ctx.test(TINY.n_zero)
    net = ctx.model(landscape.spec(0))
    x, y = be.asarray(xs), be.xp.asarray(ys)
    correct = net.predict(x) == y
    zero = ~(net.input_grad(x, y)[1] != 0).any(axis=1)
    r = zero_gradient_pgd(net, x, y, step=landscape.ZERO_STEP, max_steps=TINY.zero_max_steps)
    rules = {"succeeds": correct & ~zero & r.found & (r.steps >= 1),
             "fails": correct & ~zero & ~r.found}
    for case, ok in rules.items():
        land = block["cases"][case]
        if land is None:
            assert not ok.any()
            continue
        i = land["index"]
        assert ok[i] and not ok[:i].any(), case
        assert correct[i] and not zero[i]
        assert land["zero_batch_found"] == (case == "succeeds") == bool(r.found[i])
        assert land["zero_batch_steps"] == int(r.steps[i])
        assert (land["zero_batch_steps"] >= 1) if case == "succeeds" else (
            land["zero_batch_steps"] == TINY.zero_max_steps)
    at_x = block["cases"]["at_x"]
    if at_x["selection"] == landscape.AT_X_TIERS[0]:
        assert correct[at_x["index"]] and zero[at_x["index"]]
        assert at_x["zero_batch_steps"] == 0 and not at_x["pgd_batch_success"]
    assert (block["n_correct"], block["n_zero_at_x"]) == (int(correct.sum()),
                                                          int((correct & zero).sum()))
    assert block["n_search_found"] == int(rules["succeeds"].sum())
    assert block["n_search_failed"] == int(rules["fails"].sum())


def survey_of(correct, zero, survives, found, steps):
    arrays = [np.array(v) for v in (correct, zero, survives)]
    return landscape.Survey(*arrays, search=ZeroGradientResult(
        np.array(found), np.array(steps), None, None))


def test_the_picks_follow_the_selection_rules():
    #   image:  0 wrong, 1 correct zero-at-x PGD flips, 2 search found at step 0 although the
    #   gradient at x is nonzero (not a pick), 3 succeeds, 4 zero at x and PGD fails, 5 fails
    s = survey_of(correct=[False, True, True, True, True, True],
                  zero=[False, True, False, False, True, False],
                  survives=[True, False, True, True, True, True],
                  found=[True, True, True, True, True, False], steps=[4, 0, 0, 2, 0, 20])
    assert landscape.picks(s) == {"at_x": (4, landscape.AT_X_TIERS[0]),
                                  "succeeds": (3, landscape.SEARCH_RULES["succeeds"]),
                                  "fails": (5, landscape.SEARCH_RULES["fails"])}
    assert landscape.counts(s) == {"n_correct": 5, "n_zero_at_x": 2, "n_search_found": 1,
                                   "n_search_failed": 1}
    none = survey_of(correct=[False, True], zero=[False, False], survives=[True, True],
                     found=[False, True], steps=[20, 0])
    assert landscape.picks(none) == {"at_x": (1, landscape.AT_X_TIERS[2]), "succeeds": None,
                                     "fails": None}
    wrong = survey_of([False], [True], [True], [False], [20])
    assert landscape.picks(wrong)["at_x"] == (0, landscape.AT_X_LAST)


def with_missing(block, *missing):
    return {**block, "cases": {c: None if c in missing else v
                               for c, v in block["cases"].items()}}


@pytest.mark.slow
def test_a_missing_case_is_drawn_and_reported(blocks, tmp_path):
    from nprelu.report.masking import landscape_findings
    block = with_missing(blocks["fig07"], "succeeds", "fails")
    check(block, SCHEMAS["landscape"], "fig07")
    out = OUTPUTS["fig07"]
    path = DRAWERS[out.kind](out, block, tmp_path / out.file)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = landscape_findings((out,), {"fig07": block})
    assert sum("no image of the 20 in the subset meets it" in x for x in lines) == 2
    assert any(x.startswith("Zero gradient already at x: test image #") for x in lines)


@pytest.mark.slow
def test_the_schema_takes_the_three_cases_and_rejects_a_malformed_block(blocks):
    block = blocks["fig07"]
    land = block["cases"]["at_x"]
    check(with_missing(block, "at_x", "succeeds", "fails"), SCHEMAS["landscape"], "fig07")
    old = {k: v for k, v in block.items() if k != "cases"} | {"landscape": land}
    for bad, message in (
            (old, r"fig07\.cases is missing"),
            ({**block, "cases": {"at_x": land, "succeeds": None}},
             r"fig07\.cases\.fails is missing"),
            ({**block, "cases": {**block["cases"], "at_x": {k: v for k, v in land.items()
                                                            if k != "zero_steps"}}},
             r"fig07\.cases\.at_x\.zero_steps is missing"),
            ({**block, "cases": {**block["cases"], "fails": "none"}},
             r"fig07\.cases\.fails should be an object"),
            ({k: v for k, v in block.items() if k != "n_search_failed"},
             r"fig07\.n_search_failed is missing")):
        with pytest.raises(SummaryError, match=message):
            check(bad, SCHEMAS["landscape"], "fig07")


@pytest.mark.slow
def test_the_landscape_is_kept_per_seed_and_the_masking_numbers_averaged(blocks):
    other = {k: {**b} for k, b in blocks.items()}
    other["fig07"] = {**with_missing(blocks["fig07"], "at_x"),
                      "n_correct": blocks["fig07"]["n_correct"] + 2}
    other["masking"] = {**blocks["masking"], "pgd_ce_f32": [1.0] * 15}
    out = aggregate({"0": blocks, "1": other})
    assert out["fig07"]["cases"] == blocks["fig07"]["cases"]
    assert out["intervals"]["fig07"]["cases"] == blocks["fig07"]["cases"]
    assert out["fig07"]["n_correct"] == blocks["fig07"]["n_correct"] + 1
    check(out["fig07"], SCHEMAS["landscape"], "fig07")
    assert out["masking"]["pgd_ce_f32"][0] == pytest.approx(
        (blocks["masking"]["pgd_ce_f32"][0] + 1.0) / 2)


@pytest.mark.slow
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


def test_the_verdict_follows_the_float32_effect_not_the_margin():
    assert verdict([_block(0.3, 0.7, 0.5, 0.5)])[0] == "supported"
    assert verdict([_block(0.0, 0.7, 0.5, 0.5)])[0] == "refuted"     # no saturation at all
    assert verdict([_block(0.3, 0.5, 0.7, 0.7)])[0] == "refuted"     # float64 does better
    assert verdict([_block(0.3, 0.7, 0.5, 0.69)])[0] == "inconclusive"
    assert verdict([_block(0.3, 0.7, 0.9, 0.5)])[0] == "supported"   # the margin: another loss
    seeds = [_block(0.3, 0.7 + d, 0.5, 0.5 + d) for d in (0.0, 0.01, -0.01)]
    assert verdict(seeds)[0] == "supported"


def _rising(margin64: bool, seeds=3) -> list:
    """Blocks whose float32 cross-entropy rises over the largest caps by 10 points while
    float64 stays flat; the margin sits 20 points below float64 cross-entropy everywhere."""
    out = []
    for k in range(seeds):
        d = 0.005 * (k - 1)
        b = _block(0.0, 0.6 + d, 0.4 + d, 0.6 + d)
        b["zero_grad_f32"] = {c: [0.0] * 15 for c in ("cap", "softmax", "both", "any",
                                                       "saturated")}
        b["zero_grad_f32"]["softmax"][12:] = [0.2, 0.3, 0.4]
        b["zero_grad_f32"]["both"] = [0.5 - 0.02 * i for i in range(15)]
        b["pgd_ce_f32"][12:] = [0.7 + d] * 3
        if margin64:
            b["pgd_margin_f64"] = [0.45 + d] * 15
        out.append(b)
    return out


@pytest.mark.parametrize("margin64", [False, True])
def test_the_rise_is_split_into_the_float32_and_the_loss_effect(margin64):
    from nprelu.report.masking_effects import effects, margin_zero_line, rise_lines

    blocks = _rising(margin64)
    lines = " ".join(rise_lines(blocks))
    assert "over β = 0.13–0.15 minus over β = 0.06–0.11: +10.00 [" in lines
    assert "its change, +10.00 [" in lines        # the float32 effect explains the rise
    assert "float64 cross-entropy itself changes by +0.00" in lines
    names = {label for label, _, _ in effects(blocks).values()}
    if margin64:
        assert "cross-entropy − margin, both float64" in names
        assert "Loss effect, cross-entropy − margin, both float64: +15.00 [" in lines
    else:
        assert "cross-entropy float64 − margin float32 (no float64 margin in this run)" in names
        assert "Loss effect, cross-entropy float64 − margin float32" in lines
        assert "both float64" not in lines
    assert "Loss effect, cross-entropy − margin, both float32: +20.00 [" in lines
    zero = margin_zero_line(blocks)
    assert "50.0" in zero and "at β = 0.01" in zero and "never vanishes" not in zero


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


def synthetic_landscape_block(rng, missing=("fails",)) -> dict:
    """A well-formed ``fig07`` (kind ``landscape``) block with random numbers; the cases in
    ``missing`` are None (no image of the subset meets them)."""
    grid = np.linspace(-0.15, 0.15, 41).tolist()

    def case(name, found, steps):
        loss = rng.random((41, 41))
        return {"case": name, "index": int(rng.integers(100)), "label": int(rng.integers(10)),
                "selection": f"the {name} rule", "u": "sign of the BPDA (relu) input gradient "
                "at x", "a": grid, "b": grid, "loss": loss.tolist(),
                "plateau": (loss < 0.3).tolist(), "plateau_fraction": float((loss < 0.3).mean()),
                "pgd_path": (0.1 * rng.random((11, 2))).tolist(), "pgd_success": False,
                "pgd_batch_success": False, "zero_path": (0.1 * rng.random((steps + 1, 2))
                                                          ).tolist(),
                "zero_found": found, "zero_steps": steps, "zero_batch_found": found,
                "zero_batch_steps": steps}
    cases = {"at_x": case("at_x", True, 0), "succeeds": case("succeeds", True, 3),
             "fails": case("fails", False, 200)}
    return {"network": "general", "sizes": [784, 392, 196, 10], "capped_layer": "HL2",
            "beta": 0.01, "eps": 0.1, "n_test": 100, "n_correct": 90, "n_zero_at_x": 60,
            "n_search_found": 30, "n_search_failed": 0,
            "cases": {c: None if c in missing else v for c, v in cases.items()}}


@pytest.mark.parametrize("margin64", [False, True])
def test_the_synthetic_blocks_fit_their_schemas_and_render(tmp_path, margin64):
    from nprelu.report.masking import landscape_findings, masking_findings, section_body

    runs = {str(s): {"masking": synthetic_masking_block(np.random.default_rng(s)),
                     "fig07": synthetic_landscape_block(np.random.default_rng(s))}
            for s in range(3)}
    for seed in runs.values():
        if margin64:
            seed["masking"]["pgd_margin_f64"] = np.random.default_rng(7).random(15).tolist()
    summary = {**aggregate(runs), "runs": runs}
    for key in ("masking", "fig07"):
        check(summary[key], SCHEMAS[OUTPUTS[key].kind], key)
    body = "\n".join(section_body((OUTPUTS["masking"],), summary, lambda o: []))
    assert sum(line.startswith("| 0.") for line in body.splitlines()) == 30   # two tables
    assert ("PGD margin f64 %" in body) == margin64
    assert ("cross-entropy − margin, both float64" in body) == margin64
    assert "never vanishes" not in body
    found = masking_findings((OUTPUTS["masking"],), summary)
    assert any(w in found[0] for w in ("supported", "refuted", "inconclusive"))
    assert any("Figure 6's rise" in str(line) for line in found)
    out = OUTPUTS["masking"]
    png = DRAWERS[out.kind](out, summary["masking"], tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    found = " ".join(landscape_findings((OUTPUTS["fig07"],), summary))
    assert "plateau covers" in found
    assert "Zero-gradient search fails: no image of the 100 in the subset meets it." in found


def test_the_equal_networks_pgd_sweep_points_to_the_masking_verdict():
    from summary_helpers import make_summary
    from nprelu.report.masking import saturation_pointer
    from nprelu.report.sweeps import pgd_findings
    from nprelu.experiments import OUTPUTS
    summary = make_summary(seeds=3)
    line = saturation_pointer(summary, "equal")
    assert "with the margin loss" in line and "with float64 cross-entropy" in line
    assert "a second masking mechanism" in line
    assert any(v in line for v in ("supported", "refuted", "inconclusive"))
    assert saturation_pointer(summary, "general") is None
    summary["fig06"]["network"] = "equal"
    assert line in pgd_findings([OUTPUTS["fig06"]], summary)
    assert not any("masking mechanism" in x for x in pgd_findings([OUTPUTS["fig04"]], summary))
