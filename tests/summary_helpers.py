"""A synthetic summary with every block of the registry, checked against the schema (no training)."""
from __future__ import annotations

import json

import numpy as np
from test_masking import synthetic_landscape_block, synthetic_masking_block

from nprelu import paper
from nprelu.experiments import EXPERIMENTS, OUTPUTS
from nprelu.runner.summary import beta_key, check_summary

EVAL_BETAS = [round(0.01 * i, 2) for i in range(1, 16)]
SIZES = {"general": [784, 392, 196, 10], "reversed": [784, 196, 392, 10],
         "equal": [784, 784, 784, 10]}


def pgd_block(rng, network):
    curves = {}
    for layer in ("HL1", "HL2", "HL12"):
        curves[layer] = {}
        for b0 in (0.01, 0.1, 1):
            std = np.clip(0.9 + 0.05 * rng.random(15), 0, 1)
            rob = np.clip(std - np.linspace(0.1, 0.8, 15) * rng.random(), 0, 1)
            curves[layer][beta_key(b0)] = {"standard": std.tolist(), "robust": rob.tolist(),
                                           "success": (1 - rob / std).tolist()}
    return {"network": network, "sizes": SIZES[network], "betas_eval": EVAL_BETAS,
            "initial_betas": [0.01, 0.1, 1], "capped_layers": ["HL1", "HL2", "HL12"],
            "curves": curves, "n_test": 200}


def zero_block(rng, network):
    curves = {}
    for layer in ("HL1", "HL2", "HL12"):
        curves[layer] = {}
        for b0 in (0.01, 0.1, 1):
            dist = (1.0 + 3 * rng.random(15)).tolist()
            steps = (1.0 + 30 * rng.random(15)).tolist()
            dist[0] = steps[0] = None  # no sample found a zero gradient
            found = rng.random(15).tolist()
            found[0] = 0.0
            common = (0.8 + 2 * rng.random(15)).tolist()
            common[0] = None           # no sample common to every configuration
            curves[layer][beta_key(b0)] = {
                "distance": dist, "found_fraction": found, "mean_steps": steps,
                "distance_censored": (2.0 + 3 * rng.random(15)).tolist(),
                "distance_common": common, "n_common": [0] + [40] * 14}
    return {"network": network, "sizes": SIZES[network], "betas_eval": EVAL_BETAS,
            "initial_betas": [0.01, 0.1, 1], "capped_layers": ["HL1", "HL2", "HL12"],
            "curves": curves, "n_test": 100, "max_steps": 200}


def table1_rows(rng):
    rows = []
    for p in paper.TABLE1:
        row = {"beta": p["beta"], "adv_training": p["adv_training"], "n_cw": 50, "n": 500,
               "cw_mean_l2": float(rng.random() * 2)}
        for m in paper.TABLE1_METRICS:
            row[m] = float(np.clip(p[m] / 100 + rng.normal(0, 0.01), 0, 1))
        rows.append(row)
    return rows


def adaptive_block(rng):
    rows = []
    for r in table1_rows(rng):
        capped = r["beta"] is not None
        rows.append({k: r[k] for k in ("beta", "adv_training", "clean", "pgd", "fgsm")}
                    | {"n": 100, "bpda": r["pgd"] * 0.8, "transfer": r["pgd"],
                       "bpda_relu": r["pgd"] * 0.8 if capped else None,
                       "bpda_identity": r["pgd"] * 0.85 if capped else None,
                       "square": r["pgd"] * 0.9, "margin_pgd": r["pgd"] * 0.95,
                       "worst_case": r["pgd"] * 0.7, "zero_gradient_fraction": 0.1})
    checklist = [{"beta": 0.1, "adv_training": "none", "n": 50, "lines": ["PASS x"],
                  "checks": [{"name": "x", "passed": True, "warning": None, "numbers": {}}]}]
    return {"eps": 0.1, "rows": rows, "checklist": checklist}


def cw_gap_block(rng):
    """The ``cw_gap`` block (helper C): Table 1's networks without and with PGD training."""
    from nprelu.experiments.cw_gap import VARIANTS, paper_cw
    rows = []
    for r in table1_rows(rng):
        if r["adv_training"] == "fgsm":
            continue
        acc = float(rng.random())
        rows.append({"beta": r["beta"], "adv_training": r["adv_training"],
                     "paper_cw": paper_cw(r["beta"], r["adv_training"]), "variants": {
                         v: {"accuracy": acc, "at_budget": [acc + 0.1 * (1 - acc)] * 3,
                             "l2_median": 1.0, "l2_mean": 1.1, "l2_q1": 0.8, "l2_q3": 1.3}
                         for v in VARIANTS}})
    return {"n": 100, "budgets": [1.0, 1.5, 2.0], "variants": list(VARIANTS), "rows": rows}


def cw_paper_block(rng):
    """The ``cw_paper`` block: Table 1's capped networks without adversarial training under CW-L2
    at the paper's budget, true gradient and BPDA-ReLU."""
    from nprelu.experiments.cw_paper import GRADIENTS, networks
    from nprelu.experiments.cw_gap import paper_cw
    rows = []
    for spec in networks(0):
        acc = float(rng.random())
        rows.append({"beta": spec.caps[1], "adv_training": "none",
                     "paper_cw": paper_cw(spec.caps[1], "none"), "variants": {
                         g: {"accuracy": acc, "at_budget": [acc + 0.1 * (1 - acc)] * 3,
                             "l2_median": 1.0, "l2_mean": 1.1, "l2_q1": 0.8, "l2_q3": 1.3}
                         for g in GRADIENTS}})
    return {"n": 100, "search_steps": 9, "max_iter": 10000, "budgets": [1.0, 1.5, 2.0],
            "variants": list(GRADIENTS), "rows": rows}


def suite_blocks(rng):
    """The ``suite``, ``fig13`` and ``fig14`` blocks (helper R): Table 1's 12 networks."""
    nets = [(p["beta"], p["adv_training"]) for p in paper.TABLE1]
    attacks = ["apgd_ce", "apgd_dlr_relu", "square", "transfer_twin"]
    rows = [{"beta": b, "adv_training": a, "n": 100, "clean": 0.9, "pgd_paper": 0.5,
             "worst_case": float(0.2 * rng.random()),
             "attacks": {k: float(0.2 + 0.3 * rng.random()) for k in attacks}} for b, a in nets]
    eps = [0.0, 0.1, 0.2, 0.3]
    curves = [{"beta": b, "adv_training": a, "pgd_paper": [0.9, 0.5, 0.4, 0.3],
               "worst_case": sorted(rng.random(4).tolist(), reverse=True)} for b, a in nets]
    return {"suite": {"eps": 0.1, "attacks": attacks, "rows": rows},
            "fig13": {"eps": eps, "n": 100, "networks": curves},
            "fig14": {"network": "general", "sizes": SIZES["general"], "capped_layer": "HL2",
                      "betas_eval": EVAL_BETAS, "initial_betas": [0.1], "n_test": 100,
                      "eps": 0.1, "curves": {"0.1": {k: rng.random(15).tolist() for k in (
                          "pgd", "worst_case", "standard")}}}}


def title_eps_block(rng):
    """The ``title_eps`` block: Table 1's 12 networks at eps 0.05, 0.15 and 0.2, the suite's
    row shape; the worst case falls with eps."""
    attacks = ["apgd_ce", "apgd_dlr_relu", "square", "transfer_twin"]
    rows = []
    for eps in (0.05, 0.15, 0.2):
        for p in paper.TABLE1:
            worst = float(np.clip(0.6 - 2.5 * eps + 0.1 * rng.random(), 0, 1))
            rows.append({"eps": eps, "beta": p["beta"], "adv_training": p["adv_training"],
                         "n": 100, "clean": 0.9, "worst_case": worst,
                         "worst_case_common": min(0.9, worst + 0.05), "n_attacks": 20,
                         "attacks": {k: float(min(0.9, worst + 0.3 * rng.random()))
                                     for k in attacks}})
    return {"eps": [0.05, 0.15, 0.2], "attacks": attacks, "rows": rows}


def control_block(rng):
    """The ``control`` block: the six capped networks adversarially trained through the cap."""
    rows = []
    for adv in ("fgsm", "pgd"):
        for beta in (1.0, 0.1, 0.01):
            worst = float(0.3 * rng.random())
            rows.append({"beta": beta, "adv_training": adv, "adv_gradient": "bpda-relu",
                         "n": 100, "clean": 0.9, "pgd_paper": 0.5, "worst_case": worst,
                         "worst_case_common": worst + float(0.1 * rng.random())})
    return {"eps": 0.1, "surrogate": "relu", "rows": rows}


def make_summary(seed: int = 0, seeds: int | None = None) -> dict:
    """Every block the registry knows, with random but well-formed numbers, and its meta.

    ``seeds=None``: a single-seed summary of the older layout (no ``runs``, no intervals).
    ``seeds=N``: the designed layout for seeds ``seed .. seed + N - 1``: each seed's blocks
    under ``runs``, their mean blocks, ``intervals`` and ``interval_methods`` from
    ``runner.aggregate``, and ``meta.seeds``; Figure 3 (no seed) stored once.
    """
    if seeds is None:
        return check_summary(one_seed(seed), OUTPUTS)
    from nprelu.runner.aggregate import aggregate
    per_seed = [one_seed(seed + k) for k in range(seeds)]
    summary = {"meta": {**per_seed[0]["meta"], "seeds": [seed + k for k in range(seeds)]},
               "fig03": per_seed[0]["fig03"]}
    runs = {str(seed + k): {key: b for key, b in s.items() if key not in ("meta", "fig03")}
            for k, s in enumerate(per_seed)}
    summary.update(aggregate(runs))
    summary["runs"] = runs
    return check_summary(json.loads(json.dumps(summary)), OUTPUTS)


def one_seed(seed: int) -> dict:
    """One seed's summary (unchecked)."""
    rng = np.random.default_rng(seed)
    betas = [0.01, 0.1, 1, 10, 100]
    layers = ["HL1", "HL2", "HL3", "HL123"]
    capped = {l: {beta_key(b): {"linf": (rng.random(3) * b + 1e-3).tolist(),
                                "l2": (rng.random(3) * 10 * b + 1e-3).tolist()}
                  for b in betas} for l in layers}
    capped["HL1"]["0.01"]["linf"][0] = 0.0  # a zero distance must not break the log axis
    z = np.linspace(-5, 5, 101)
    rows = table1_rows(rng)
    keys = list(EXPERIMENTS)
    summary = {
        "meta": {"profile": "quick", "seed": seed, "backend": "numpy", "profile_settings": {},
                 "started": "2024-01-01T00:00:00",
                 "subsets": {"training": "the first 3000 training images",
                             "fig01-02": "test images: the first 500 test images",
                             "fig04": "test images: the first 300 test images",
                             "fig05": "test images: the first 300 test images",
                             "table1": "clean/FGSM/PGD: the first 500 test images; CW-L2: the "
                                       "first 20 test images"},
                 "settings": {k: {"epochs": 2, "eps": 0.1, "steps": [10, 20], "unit": k}
                              for k in keys},
                 "wall_seconds": {k: float(i + 1) for i, k in enumerate(keys)},
                 "done": keys},
        "fig01": {"betas": betas, "capped_layers": layers,
                  "uncapped": {"linf": [0.5, 1.0, 2.0], "l2": [3.0, 5.0, 8.0]},
                  "capped": capped},
        "fig02": {"betas": betas, "capped_layers": layers,
                  "accuracy": {l: {beta_key(b): float(0.8 + 0.19 * rng.random()) for b in betas}
                               for l in layers},
                  "uncapped": 0.98, "n_test": 500},
        "fig03": {"c": [1, 2, 5, 10], "z": z.tolist(),
                  "sigmoid": {beta_key(c): (1 / (1 + np.exp(-c * z))).tolist()
                              for c in [1, 2, 5, 10]}},
        "fig04": pgd_block(rng, "general"),
        "fig05": pgd_block(rng, "reversed"),
        "fig06": pgd_block(rng, "equal"),
        "fig08": zero_block(rng, "general"),
        "fig09": zero_block(rng, "reversed"),
        "fig10": zero_block(rng, "equal"),
        "fig11": {"betas": [1, 0.1, 0.01], "sample_index": 8, "label": 5,
                  "image": rng.random(784).tolist(),
                  "maps": [(rng.random(784) * s).tolist() for s in (3.0, 1.0, 0.2)],
                  "sums": (np.array([300.0, 100.0, 20.0]) * (1 + 0.05 * rng.random(3))).tolist(),
                  "mean_sum_test": [250.0, 90.0, 25.0], "n_test": 100,
                  "zero_fraction": [0.0, 0.02, 0.3]},
        "table1": rows,
        "adaptive": adaptive_block(rng),
        "cw_gap": cw_gap_block(np.random.default_rng([seed, 14])),  # own draws: others unchanged
        "cw_paper": cw_paper_block(np.random.default_rng([seed, 19])),
        **suite_blocks(np.random.default_rng([seed, 13])),  # helper R: own draws
        "masking": synthetic_masking_block(np.random.default_rng([seed, 15])),
        "title_eps": title_eps_block(np.random.default_rng([seed, 17])),
        "fig07": synthetic_landscape_block(np.random.default_rng([seed, 16])),
        "control": control_block(np.random.default_rng([seed, 18])),
        "fig12": {"network": "general", "sizes": SIZES["general"], "capped_layer": "HL2",
                  "betas_eval": EVAL_BETAS, "initial_betas": [0.01, 0.1, 1], "n_test": 100,
                  "eps": 0.1, "curves": {
                      b: {"pgd": rng.random(15).tolist(), "worst_case": rng.random(15).tolist(),
                          "standard": rng.random(15).tolist()} for b in ("0.01", "0.1", "1")}},
    }
    return json.loads(json.dumps(summary))  # exactly what a summary.json round trip gives
