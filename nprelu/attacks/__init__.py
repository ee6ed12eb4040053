"""Adversarial attacks, one small module each: FGSM, PGD, CW-L2, the paper's zero-gradient PGD,
and the adaptive attacks that tell robustness from gradient masking: BPDA-PGD, margin PGD with
restarts, APGD and targeted APGD-T, the Square Attack (no gradients) and transfer from another
network.

All take a network, a batch ``x`` (N, d) in [0, 1] and its true labels ``y``, and succeed on any
misclassification (APGD-T aims at chosen classes in turn on the way). Each checks its inputs and
settings once, before any work, and raises a ValueError naming the argument, the bad value and the valid range (:mod:`~nprelu.attacks._common`). Every gradient they follow is ``net.input_grad(x, y, loss, surrogate)``: the
network's one forward -> loss -> backward path (:func:`input_grad_fn` makes it a PGD hook).
:data:`REGISTRY` (:mod:`~nprelu.attacks.registry`) names every attack an evaluation runs.
"""
from ..activations import SURROGATES
from ..losses import logit_margin, margin_loss
from ._common import input_grad_fn
from .apgd import apgd, apgd_checkpoints
from .apgd_t import apgd_t
from .bpda import bpda_pgd
from .cw import CWObjective, CWResult, cw_l2, cw_objective
from .fgsm import fgsm
from .margin import margin_pgd
from .pgd import pgd
from .registry import P_INIT, REGISTRY, Attack
from .square import SquareResult, square_linf
from .transfer import transfer
from .zero_gradient import ZeroGradientResult, zero_gradient_pgd

__all__ = ["fgsm", "pgd", "cw_l2", "cw_objective", "CWObjective", "CWResult",
           "zero_gradient_pgd", "ZeroGradientResult", "bpda_pgd", "SURROGATES", "input_grad_fn",
           "logit_margin", "margin_loss", "margin_pgd", "square_linf", "SquareResult",
           "transfer", "apgd", "apgd_checkpoints", "apgd_t", "REGISTRY", "Attack", "P_INIT"]
