"""Adversarial attacks, one small module each: FGSM, PGD, CW-L2, the paper's zero-gradient PGD,
and the adaptive attacks that tell robustness from gradient masking: BPDA-PGD, margin PGD with
restarts, the Square Attack (no gradients) and transfer from another network.

All take a network, a batch ``x`` (N, d) in [0, 1] and its true labels ``y``, and are
untargeted.
"""
from .bpda import bpda_caches, bpda_grad, bpda_grad_fn, bpda_pgd
from .cw import CWResult, cw_l2, cw_objective
from .fgsm import fgsm
from .margin import logit_margin, margin_grad, margin_loss, margin_pgd
from .pgd import pgd
from .square import SquareResult, square_linf
from .transfer import transfer
from .zero_gradient import ZeroGradientResult, zero_gradient_pgd

__all__ = ["fgsm", "pgd", "cw_l2", "cw_objective", "CWResult", "zero_gradient_pgd",
           "ZeroGradientResult", "bpda_caches", "bpda_grad", "bpda_grad_fn", "bpda_pgd",
           "logit_margin", "margin_loss", "margin_grad", "margin_pgd", "square_linf",
           "SquareResult", "transfer"]
