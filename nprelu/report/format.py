"""Numbers to text: the one place the report decides how a value, a cap or a table is written.

Conventions: accuracies and rates arrive as fractions in [0, 1] and are written in percent; a
missing value (None, NaN, not a number) is written as an em dash; ``beta`` None is plain ReLU.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..runner.summary import beta_key

DASH = "—"
ADV_LABELS = {"none": DASH, "fgsm": "FGSM", "pgd": "PGD"}


class Paragraph(str):
    """A findings item written as a paragraph of its own (a table, an aside), not as a bullet."""


def num(v) -> float:
    """``float(v)``, or NaN for None and non-numbers."""
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def finite(v) -> bool:
    return math.isfinite(num(v))


def fmt(v, digits: int = 4) -> str:
    """A compact number with ``digits`` significant digits, or a dash."""
    x = num(v)
    return f"{x:.{digits}g}" if math.isfinite(x) else DASH


def pct(v, decimals: int = 2) -> str:
    """A fraction as a percentage with ``decimals`` decimals, or a dash."""
    x = num(v)
    return f"{100.0 * x:.{decimals}f}" if math.isfinite(x) else DASH


def signed(d: float) -> str:
    """A difference in points with its sign, two decimals ("+1.25", "-0.40", "0.00")."""
    d = round(float(d), 2)
    return "0.00" if d == 0 else f"{d:+.2f}"


def beta_label(beta, none: str = DASH) -> str:
    """A cap as the summary keys it ("0.01", "1"); ``none`` for plain ReLU."""
    return none if beta is None else beta_key(beta)


def beta_cell(beta) -> str:
    """A cap as Table 1 prints it: two decimals, a dash for plain ReLU."""
    return DASH if beta is None else f"{float(beta):.2f}"


def beta_text(beta) -> str:
    """A cap in a sentence."""
    return beta_label(beta, "∞ (uncapped)")


def adv_label(adv: str) -> str:
    """An adversarial training as Table 1 prints it (a dash for none)."""
    return ADV_LABELS.get(adv, adv)


def arrows(values, decimals: int = 2) -> str:
    """Numbers joined by arrows: "12.50 → 40.00 → 87.25"."""
    return " → ".join(f"{v:.{decimals}f}" for v in values)


def md_table(header: list, rows: list) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(str(c) for c in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    path = Path(path)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
