"""How the report describes numbers in words: trends with beta, shares, sigmoid widths.

The verdicts themselves (holds / fails / inconclusive, from intervals) are in :mod:`.intervals`.
"""
from __future__ import annotations

import math

import numpy as np

from ..runner.summary import beta_key
from .format import num


def nanmean(a) -> float:
    """Mean of the finite values (NaN, without a warning, when there are none)."""
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when undefined."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        return float("nan")

    def ranks(a):
        r = np.empty(a.size)
        r[a.argsort(kind="mergesort")] = np.arange(a.size, dtype=float)
        for v in np.unique(a):
            r[a == v] = r[a == v].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def beta_trend(betas, values) -> tuple[int, str]:
    """How ``values`` change as the max value beta falls (None = uncapped = +inf).

    Returns ``(direction, phrase)``: direction +1 (rises as beta falls), -1 (falls), 0 (flat or
    no clear trend); the phrase says which, "steadily" when monotone, else with Spearman's rho
    (|rho| >= 0.5 counts as a trend).
    """
    pairs = [(math.inf if b is None else float(b), num(v)) for b, v in zip(betas, values)]
    pairs = [p for p in pairs if math.isfinite(p[1])]
    if len(pairs) < 2:
        return 0, "has too few points for a trend"
    pairs.sort(key=lambda p: -p[0])
    vals = np.array([v for _, v in pairs])
    d = np.diff(vals)
    tol = 1e-12 * max(1.0, float(np.abs(vals).max()))
    if np.all(np.abs(d) <= tol):
        return 0, "does not change with β"
    if np.all(d >= -tol):
        return 1, "rises steadily as β falls"
    if np.all(d <= tol):
        return -1, "falls steadily as β falls"
    rho = spearman(np.arange(vals.size), vals)
    if rho >= 0.5:
        return 1, f"mostly rises as β falls (Spearman ρ={rho:+.2f})"
    if rho <= -0.5:
        return -1, f"mostly falls as β falls (Spearman ρ={rho:+.2f})"
    return 0, f"shows no clear trend with β (Spearman ρ={rho:+.2f})"


def share(k: int, n: int) -> str:
    """The verdict on a claim that holds in ``k`` of ``n`` cases."""
    return "holds" if k == n else "holds in part" if k else "does not hold"


def sigmoid_widths(block: dict) -> list[tuple[str, float]]:
    """Per c, the width in z of the band where sigmoid(c z) goes from 0.1 to 0.9."""
    z = np.asarray([num(v) for v in block["z"]])
    out = []
    for c in block["c"]:
        y = np.asarray([num(v) for v in block["sigmoid"].get(beta_key(c), [])])
        n = min(len(y), len(z))
        if n < 2:
            continue
        order = np.argsort(y[:n])
        ys, zs = y[:n][order], z[:n][order]
        out.append((beta_key(c), float(np.interp(0.9, ys, zs) - np.interp(0.1, ys, zs))))
    return out
