"""Section 3.3, Figure 3: sigmoid(c z) narrows as c grows (no training involved).

The paper draws the curves without giving c; the values below are ours (paper.OPEN_SETTINGS).
"""
from __future__ import annotations

import math

C_VALUES = (1.0, 2.0, 5.0, 10.0)


def run(ctx) -> tuple:
    z = [round(-6.0 + 0.05 * k, 4) for k in range(241)]
    curves = {format(c, "g"): [1.0 / (1.0 + math.exp(-c * v)) for v in z] for c in C_VALUES}
    return {"fig03": {"c": list(C_VALUES), "z": z, "sigmoid": curves}}, {"c": list(C_VALUES)}
