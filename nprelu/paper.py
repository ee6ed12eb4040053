"""Everything the paper says, as data: its numbers, its setups and the claims our report tests.

Sooksatra, Hamerly and Rivas, "Is ReLU Adversarially Robust?" (ICML 2023 workshop paper; the
full text is in ``../shared/paper/``). No other module states a number or a claim of the paper:
the experiments read their setups from here, and the report reads the claims it tests and the
table it compares with from here.

Three kinds of entries:

- **What the paper gives** (``TABLE1``, ``FIG1``, ``SWEEPS``, ``SECTION8``, ...): quoted from
  the text, with the section they come from.
- **Claims** (``CLAIMS``): each statement the report tests, keyed by the summary block it is
  tested on, with its direction. Where a test needs a threshold the paper does not give (how
  many points is "a significant portion"?), the threshold is ours and says so.
- **Settings the paper leaves open** (``OPEN_SETTINGS``): every choice we had to make, with the
  value we chose and why. They are ours, not the paper's.

Conventions: accuracies in ``TABLE1`` are percent, as printed in the paper; ``beta`` (the
paper's "max value") ``None`` means plain ReLU; hidden layers are HL1, HL2, ... from the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CITATION = ("Korn Sooksatra, Greg Hamerly, Pablo Rivas. Is ReLU Adversarially Robust? "
            "ICML 2023 (AdvML-Frontiers workshop).")

# --------------------------------------------------------------------------- Table 1 (Section 8)

#: Table 1 (percent): two-hidden-layer MNIST classifiers, HL2 capped at ``beta`` (None: plain
#: ReLU), optionally adversarially trained; accuracy on clean, FGSM, PGD and CW-L2 test samples.
TABLE1: tuple = (
    {"beta": None, "adv_training": "none", "clean": 98.49, "fgsm": 41.77, "pgd": 9.47, "cw": 0.00},
    {"beta": 1.0, "adv_training": "none", "clean": 98.46, "fgsm": 41.24, "pgd": 7.45, "cw": 0.00},
    {"beta": 0.1, "adv_training": "none", "clean": 98.06, "fgsm": 68.04, "pgd": 39.79, "cw": 5.56},
    {"beta": 0.01, "adv_training": "none", "clean": 97.88, "fgsm": 92.37, "pgd": 89.61, "cw": 8.07},
    {"beta": None, "adv_training": "fgsm", "clean": 98.26, "fgsm": 91.44, "pgd": 85.12, "cw": 0.19},
    {"beta": 1.0, "adv_training": "fgsm", "clean": 98.35, "fgsm": 92.46, "pgd": 81.88, "cw": 0.18},
    {"beta": 0.1, "adv_training": "fgsm", "clean": 98.18, "fgsm": 93.00, "pgd": 90.37, "cw": 3.50},
    {"beta": 0.01, "adv_training": "fgsm", "clean": 97.10, "fgsm": 94.07, "pgd": 96.36, "cw": 8.21},
    {"beta": None, "adv_training": "pgd", "clean": 98.67, "fgsm": 91.85, "pgd": 86.74, "cw": 0.10},
    {"beta": 1.0, "adv_training": "pgd", "clean": 98.49, "fgsm": 93.32, "pgd": 87.09, "cw": 0.11},
    {"beta": 0.1, "adv_training": "pgd", "clean": 98.09, "fgsm": 92.64, "pgd": 92.85, "cw": 3.62},
    {"beta": 0.01, "adv_training": "pgd", "clean": 96.55, "fgsm": 89.21, "pgd": 95.43, "cw": 8.00},
)
TABLE1_METRICS = ("clean", "fgsm", "pgd", "cw")
ADV_TRAININGS = ("none", "fgsm", "pgd")


def table1_row(beta, adv_training: str) -> dict | None:
    """The paper's Table 1 row for (beta, adversarial training), or None."""
    key = (None if beta is None else round(float(beta), 9), str(adv_training).lower())
    for row in TABLE1:
        if (None if row["beta"] is None else round(row["beta"], 9), row["adv_training"]) == key:
            return row
    return None


# --------------------------------------------------------------------------- setups

#: Networks, as layer widths from input to output. Section 3.1 (deep), 4.1 (general, reversed)
#: and 5 (equal).
DEEP = (784, 392, 196, 98, 10)
GENERAL = (784, 392, 196, 10)
REVERSED = (784, 196, 392, 10)
EQUAL = (784, 784, 784, 10)

#: Section 3.1, Figures 1-2: PGD on the uncapped deep network, then the same adversarial images
#: fed to networks capped at HL1, HL2, HL3 or all three, for each beta.
FIG1 = {
    "network": DEEP,
    "pgd": {"eps": 20 / 256, "step": 2 / 256, "steps": 20},
    "betas": (0.01, 0.1, 1.0, 10.0, 100.0),
    "capped": {"HL1": (0,), "HL2": (1,), "HL3": (2,), "HL123": (0, 1, 2)},
}

#: Sections 4-5, Figures 4-6 (and 8-10, which reuse their networks): each network trained with
#: a cap on HL1, HL2 or both at an initial beta, then evaluated re-capped at 0.01 ... 0.15.
SWEEPS = {
    "networks": {"fig04": ("general", GENERAL), "fig05": ("reversed", REVERSED),
                 "fig06": ("equal", EQUAL)},
    "initial_betas": (0.01, 0.1, 1.0),
    "eval_betas": tuple(round(0.01 * k, 2) for k in range(1, 16)),
    "capped": {"HL1": (0,), "HL2": (1,), "HL12": (0, 1)},
}

#: Section 7, Figure 11: the sensitivity map of a digit five for these caps.
FIG11 = {"betas": (1.0, 0.1, 0.01), "digit": 5}

#: Section 6, Figure 7 sketches zero-gradient PGD succeeding and failing; we draw it from data
#: in three cases (:mod:`nprelu.experiments.landscape`), these, in the order they are drawn.
FIG7_CASES = {"at_x": "zero gradient already at x", "succeeds": "zero-gradient search succeeds",
              "fails": "zero-gradient search fails"}

#: Section 8: training and evaluation of Table 1's networks.
SECTION8 = {
    "network": GENERAL,
    "capped_layer": 1,                      # HL2 only
    "betas": (None, 1.0, 0.1, 0.01),
    "adv_trainings": ADV_TRAININGS,
    "epochs": 20, "lr": 1e-3,               # Adam
    "adv_epochs": 10, "adv_eps": 0.1,
    "fgsm": {"eps": 0.1},
    "pgd": {"eps": 0.1, "step": 0.01, "steps": 10},
    "cw": {"max_iter": 10_000, "lr": 1e-2, "c_init": 1e-3, "search_steps": 9},
}


# --------------------------------------------------------------------------- claims

@dataclass(frozen=True)
class Claim:
    """A statement of the paper that the report tests on our numbers.

    ``id``: short name, unique within its block. ``text``: the paper's statement (paraphrased
    closely; the section says where). ``section``: where the paper makes it. ``test``: the kind
    of test the report runs (the report's ``findings`` modules implement each kind).
    ``params``: what that test needs (pairs of capped layers, a direction, a threshold...);
    a parameter marked ``(ours)`` in ``notes`` is our reading, not the paper's.
    """

    id: str
    text: str
    section: str
    test: str
    params: dict = field(default_factory=dict)
    notes: str = ""


def _pairs(*pairs):
    return tuple(pairs)


CLAIMS: dict[str, tuple] = {
    "fig01": (   # growth_trend's layer is 0-based: 2 is HL3, the last hidden layer
        Claim("caps_stop_growth", "capping with low max values stops the perturbation from "
              "growing over the layers", "3.1", "growth_trend", {"layer": 2}),
        Claim("drop_at_capped_layer", "the distance goes down significantly at the layer capped",
              "3.1", "drop_at_capped_layer"),
    ),
    "fig02": (
        Claim("underfit", "a very low max value makes the classifier underfit", "3.1",
              "underfit", {"points": 1.0},
              notes="(ours) 'underfit' read as more than 1 point below the best beta"),
        Claim("all_layers_lower", "capping all hidden layers at max value 0.1 gives slightly "
              "lower accuracy than capping one layer", "3.1", "all_layers_lower", {"beta": 0.1}),
    ),
    "fig03": (
        Claim("narrows", "increasing c narrows sigmoid(c z)", "3.3", "sigmoid_narrows"),
    ),
    "fig04": (
        Claim("hl2_best_low", "with initial max values 0.01 and 0.1, capping HL2 outperforms "
              "capping HL1 and capping both hidden layers", "4.2", "pairwise",
              {"initial": ("0.01", "0.1"), "pairs": _pairs(("HL2", "HL1"), ("HL2", "HL12")),
               "eval": None}),
        Claim("hl2_worse_above", "with initial max value 1, capping HL2 underperforms the others "
              "when the max value is greater than 0.05", "4.2", "pairwise",
              {"initial": ("1",), "pairs": _pairs(("HL1", "HL2"), ("HL12", "HL2")),
               "eval": (0.05, None)}),
        Claim("hl2_better_below", "with initial max value 1, capping HL2 is more robust than the "
              "others when the max value is less than 0.05", "4.2", "pairwise",
              {"initial": ("1",), "pairs": _pairs(("HL2", "HL1"), ("HL2", "HL12")),
               "eval": (None, 0.05)}),
    ),
    "fig05": (
        Claim("both_best", "capping both hidden layers outperforms the others in most cases",
              "4.2", "pairwise", {"initial": None, "pairs": _pairs(("HL12", "HL1"), ("HL12", "HL2")),
                                  "eval": None}),
        Claim("hl1_over_hl2", "capping HL1 (the smaller layer here) outperforms capping HL2 in "
              "most cases", "4.2", "pairwise",
              {"initial": None, "pairs": _pairs(("HL1", "HL2")), "eval": None}),
    ),
    "fig06": (
        Claim("deep_at_low", "at the initial max value 0.01, capping HL2 is better than "
              "capping HL1", "5", "pairwise",
              {"initial": ("0.01",), "pairs": _pairs(("HL2", "HL1")), "eval": None}),
        Claim("early_at_high", "increasing the initial max value (0.1, 1) reverses this: "
              "capping HL1 is better", "5", "pairwise",
              {"initial": ("0.1", "1"), "pairs": _pairs(("HL1", "HL2")), "eval": None}),
    ),
    "zero_gradient": (
        Claim("aligned", "the zero-gradient results align with the PGD experiments of Sections "
              "4 and 5 (a zero gradient found closer to the input means more robust)", "6",
              "aligned_with_pgd"),
    ),
    "fig11": (
        Claim("sum_falls", "the summation of the sensitivity map decreases when the max value "
              "is reduced", "7", "trend", {"series": ("sums", "mean_sum_test"), "direction": -1}),
    ),
    "table1": (
        Claim("trends", "decreasing the max value improves robustness against FGSM, PGD and CW",
              "8", "table1_trends"),
        Claim("clean_cost", "without sacrificing a significant portion of standard accuracy",
              "8", "clean_cost", {"points": 2.0},
              notes="(ours) 'significant' read as a drop of more than 2 points"),
        Claim("beyond_adv_training", "capping improves robustness beyond adversarially trained "
              "general classifiers", "8", "beyond_adv_training"),
        Claim("fgsm_like_pgd", "retraining with FGSM gives similar performance and robustness "
              "to retraining with PGD", "8", "fgsm_like_pgd", {"points": 3.0},
              notes="(ours) 'similar' read as PGD accuracies within 3 points on average"),
        Claim("cw_effective", "the CW attack remains particularly effective, as it is not "
              "limited by any perturbation bound", "8", "cw_effective", {"points": 10.0},
              notes="(ours) 'effective' read as CW-L2 accuracy at most 10% in a row"),
        Claim("close_to_paper", "(our check) each cell of our Table 1 lies within 5 points of "
              "the paper's", "8", "cells_close", {"points": 5.0},
              notes="(ours) a reproduction tolerance, not a statement of the paper"),
    ),
}


def claims(block: str) -> tuple:
    """The claims tested on the summary block ``block`` (empty when there are none)."""
    return CLAIMS.get(block, ())


def claim(block: str, claim_id: str) -> Claim:
    """One claim by block and id; KeyError naming both when there is none."""
    for c in CLAIMS.get(block, ()):
        if c.id == claim_id:
            return c
    raise KeyError(f"no paper claim {claim_id!r} for {block!r}")


# --------------------------------------------------------------------------- open settings

#: Every setting the paper does not give, with our choice and the reason. The experiments use
#: these values; the report lists them.
OPEN_SETTINGS: tuple = (
    ("training, all networks", "Adam, lr 0.001, 20 epochs, batch 128",
     "Section 8 gives Adam, lr 0.001 and 20 epochs for Table 1; we use them for every figure. "
     "The batch size is not given: 128."),
    ("initialization", "Glorot uniform weights, zero biases", "Keras' default; not given."),
    ("adversarial training", "each batch replaced by its FGSM or PGD examples against the "
     "current weights; PGD from a random start, eps 0.1, step 0.01, 10 steps",
     "the paper gives eps 0.1 and 10 epochs, not the mix nor PGD's steps (Madry et al.'s recipe)"),
    ("PGD of Figures 4-6 and Table 1", "eps 0.1, step 0.01, 10 steps, random start",
     "Section 8 gives eps, step and steps for Table 1; Figures 4-6 give none; the start is "
     "not given (Madry et al. start at random)"),
    ("Figure 1's PGD start", "from the clean image", "not given"),
    ("zero-gradient PGD", "cross-entropy loss, step 0.01, no eps-ball, at most 200 steps "
     "(paper profile), from the clean image", "Section 6 gives none of these"),
    ("CW-L2", "untargeted, kappa 0, per-sample abort early, Adam on tanh variables",
     "Section 8 gives iterations, lr, c and 9 search steps; the rest follows Carlini & Wagner's "
     "reference code"),
    ("Figure 3", "c = 1, 2, 5, 10; sigmoid only", "the paper shows the curves without the values "
     "of c and mentions tanh without drawing it"),
    ("Figure 11's network", "general 392-196 network capped at HL2, the first five of the test "
     "set", "the paper does not say which layer is capped nor which five"),
    ("test subsets", "N test images drawn uniformly at random without replacement (not "
     "stratified by class), one draw per seed and N, the same for every network of a seed; N "
     "per profile; the indices' SHA-256 is recorded in the summary",
     "the paper uses the whole test set; CW-L2 and the zero-gradient search are too slow for it "
     "on a CPU. The first N images are not a sample (uncapped PGD accuracy 13.4% on the first "
     "1,000, 18.4% on all 10,000)"),
    ("seeds", "--seeds N runs every experiment that trains or samples over seeds S, ..., "
     "S + N - 1; a seed sets the initialisation, the shuffle, the attacks' random starts and "
     "the test subsets; numbers are the mean with a 95% interval by what the number is "
     "(docs/statistics.md): proportions on the logit scale over the seeds with the binomial "
     "term of the test images, non-negative numbers on the log scale, others Student t; one "
     "seed: a Wilson interval over the test images for proportions",
     "the paper reports one run and no spread"),
    ("Figures 8-10's distance", "besides the paper's mean over the samples where a zero gradient "
     "was found: the mean over all samples with a not-found one counted at the distance where "
     "the step cap stopped it (a lower bound), and the mean over the samples found for HL1, HL2 "
     "and HL12 alike", "the paper averages over the found samples only and does not say how "
     "many those were (a survivorship bias across configurations)"),
)
