"""Adversarial attacks, one small module each: FGSM, PGD, CW-L2 and the paper's zero-gradient PGD.

All take a network, a batch ``x`` (N, d) in [0, 1] and its true labels ``y``, and are
untargeted.
"""
from .cw import CWResult, cw_l2, cw_objective
from .fgsm import fgsm
from .pgd import pgd
from .zero_gradient import ZeroGradientResult, zero_gradient_pgd

__all__ = ["fgsm", "pgd", "cw_l2", "cw_objective", "CWResult", "zero_gradient_pgd",
           "ZeroGradientResult"]
