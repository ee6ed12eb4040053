"""What a run is configured by: the networks, the evaluation caps and the profiles.

A :class:`Profile` says how much of the paper's work to do: how many training images and
epochs, and which test subset each experiment evaluates on. ``paper`` follows the paper's
training settings with test subsets where a full evaluation is too slow on a CPU (CW-L2, the
zero-gradient search, the adaptive attacks); ``full`` lifts them (meant for a GPU); ``quick``
runs everything on small subsets in a couple of minutes.

Every test subset of N images is drawn at random per seed (``context.subset_indices``: uniform,
without replacement, not stratified; the same for every network of a seed; ``None``: all 10,000).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .. import paper

GENERAL, REVERSED, EQUAL, DEEP = paper.GENERAL, paper.REVERSED, paper.EQUAL, paper.DEEP
EVAL_BETAS = paper.SWEEPS["eval_betas"]      # 0.01, 0.02, ..., 0.15


@dataclass(frozen=True)
class Profile:
    """How much of the paper's work to do (see the module doc)."""

    name: str
    train_subset: int | None      # training images used (None: all 60,000)
    epochs: int                   # clean training epochs (paper: 20)
    adv_epochs: int               # adversarial fine-tuning epochs (paper: 10)
    batch_size: int
    n_growth: int | None          # Figs 1-2 test images
    n_sweep: int | None           # Figs 4-6 test images
    n_zero: int | None            # Figs 8-10 test images
    zero_max_steps: int           # zero-gradient PGD step cap
    n_sensitivity: int | None     # Fig 11 mean over test images
    n_table: int | None           # Table 1 clean/FGSM/PGD test images
    n_cw: int | None              # Table 1 CW-L2 test images
    cw_max_iter: int              # paper: 10,000
    cw_search_steps: int          # paper: 9
    n_adaptive: int | None        # adaptive attacks on Table 1's networks
    adaptive_queries: int         # Square Attack queries there
    n_checklist: int | None       # Carlini et al.'s checklist
    checklist_steps: tuple        # its PGD step counts
    checklist_eps_steps: int      # its PGD steps per eps of the eps sweep
    n_fig12: int | None           # Fig 12 (adaptive worst case over evaluation caps)
    fig12_queries: int            # Square Attack queries there

    def n_test(self, attribute: str) -> int | None:
        """The size of one test subset, by its field name (``"n_sweep"``...)."""
        if not attribute.startswith("n_") or not hasattr(self, attribute):
            raise ValueError(f"unknown test subset {attribute!r}")
        return getattr(self, attribute)


def describe_subset(n) -> str:
    """How a test subset of ``n`` images is drawn, in words."""
    return ("all 10,000 test images" if n is None
            else f"{n} test images drawn at random (one draw per seed)")


def describe_training(profile: Profile) -> str:
    n = profile.train_subset
    return "all 60,000 training images" if n is None else f"the first {n} training images"


PROFILES = {
    "quick": Profile("quick", train_subset=3000, epochs=2, adv_epochs=1, batch_size=128,
                     n_growth=500, n_sweep=300, n_zero=50, zero_max_steps=100, n_sensitivity=200,
                     n_table=500, n_cw=20, cw_max_iter=200, cw_search_steps=6,
                     n_adaptive=200, adaptive_queries=200, n_checklist=50,
                     checklist_steps=(10, 30, 100), checklist_eps_steps=20, n_fig12=100,
                     fig12_queries=100),
    "paper": Profile("paper", train_subset=None, epochs=paper.SECTION8["epochs"],
                     adv_epochs=paper.SECTION8["adv_epochs"], batch_size=128,
                     n_growth=None, n_sweep=None, n_zero=1000, zero_max_steps=200,
                     n_sensitivity=None, n_table=None, n_cw=200,
                     cw_max_iter=paper.SECTION8["cw"]["max_iter"],
                     cw_search_steps=paper.SECTION8["cw"]["search_steps"],
                     n_adaptive=1000, adaptive_queries=1000, n_checklist=200,
                     checklist_steps=(10, 100, 1000), checklist_eps_steps=100, n_fig12=500,
                     fig12_queries=300),
}
PROFILES["full"] = replace(PROFILES["paper"], name="full", n_zero=None, n_cw=None,
                           n_adaptive=None, n_checklist=1000, n_fig12=None, fig12_queries=1000)


def caps_for(layers, beta, n_hidden: int) -> tuple:
    """One cap per hidden layer: ``beta`` at the (0-based) ``layers``, plain ReLU elsewhere."""
    return tuple(beta if i in layers else None for i in range(n_hidden))


def describe_subsets(profile: Profile, subsets: dict) -> str:
    """``{what: Profile field}`` in words: "clean/FGSM/PGD: the first 500 test images; ..."."""
    return "; ".join(f"{what}: {describe_subset(profile.n_test(field))}"
                     for what, field in subsets.items())
