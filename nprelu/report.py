"""The Markdown report (``REPORT.md``) and Table 1 (``table1.md``) from the experiment ``summary``.

Host-side module (NumPy only, no printing); files are written atomically. Any experiment may be
missing from ``summary``: only the ones present get a section. Every statement in "Where we
agree and where we differ" is computed from the numbers: the paper's claims are encoded as data
(``PAPER_TABLE1``, ``PAPER_PGD_CLAIMS``, ...) and each is tested against our results, so the
verdicts change when the results do.

Conventions: accuracies and rates in ``summary`` are fractions in [0, 1]; the paper's Table 1
is in percent. ``beta`` (the paper's "max value") ``None`` means an uncapped ReLU.
"""
from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write_bytes
from .plots import FIGURE_FILES, beta_key, plot_all
from .report_adaptive import TITLE as ADAPTIVE_TITLE, adaptive_section, findings_adaptive

# --------------------------------------------------------------------------- the paper's numbers

#: Table 1 of the paper (percent): MNIST two-hidden-layer classifiers, HL2 capped at ``beta``
#: (None = general ReLU), optionally adversarially trained, evaluated on clean, FGSM, PGD and
#: CW-L2 test samples.
PAPER_TABLE1: list[dict] = [
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
]

TABLE1_METRICS = [("clean", "Clean %"), ("fgsm", "FGSM %"), ("pgd", "PGD %"), ("cw", "CW-L2 %")]
ADV_ORDER = ["none", "fgsm", "pgd"]
ADV_LABELS = {"none": "—", "fgsm": "FGSM", "pgd": "PGD"}
#: A cell whose |ours - paper| exceeds this many percentage points is flagged.
FLAG_POINTS = 5.0
#: "Without sacrificing a significant portion of standard accuracy": at most this many points.
CLEAN_COST_POINTS = 2.0
#: FGSM- and PGD-trained rows count as "similar" when they differ by at most this on average.
SIMILAR_POINTS = 3.0

#: The paper's statements about which capped layer is the most robust (Sections 4.2 and 5),
#: as (better, worse) pairs of capped layers compared by robust accuracy under PGD, for the
#: listed initial max values (None = all) and evaluation max values in the open range ``eval``.
PAPER_PGD_CLAIMS: dict[str, list[dict]] = {
    "fig04": [
        {"text": "with initial max values 0.01 and 0.1, capping HL2 outperforms capping HL1 "
                 "and capping both hidden layers",
         "initial": ["0.01", "0.1"], "pairs": [("HL2", "HL1"), ("HL2", "HL12")], "eval": None},
        {"text": "with initial max value 1, capping HL2 underperforms the others when the "
                 "max value is greater than 0.05",
         "initial": ["1"], "pairs": [("HL1", "HL2"), ("HL12", "HL2")], "eval": (0.05, None)},
        {"text": "with initial max value 1, capping HL2 is more robust than the others when "
                 "the max value is less than 0.05",
         "initial": ["1"], "pairs": [("HL2", "HL1"), ("HL2", "HL12")], "eval": (None, 0.05)},
    ],
    "fig05": [
        {"text": "capping both hidden layers outperforms the others in most cases",
         "initial": None, "pairs": [("HL12", "HL1"), ("HL12", "HL2")], "eval": None},
        {"text": "capping HL1 (the smaller layer here) outperforms capping HL2 in most cases",
         "initial": None, "pairs": [("HL1", "HL2")], "eval": None},
    ],
    "fig06": [
        {"text": "at the initial max value 0.01, capping HL2 is better than capping HL1",
         "initial": ["0.01"], "pairs": [("HL2", "HL1")], "eval": None},
        {"text": "increasing the initial max value (0.1, 1) reverses this: capping HL1 is better",
         "initial": ["0.1", "1"], "pairs": [("HL1", "HL2")], "eval": None},
    ],
}
PGD_PARTNER = {"fig08": "fig04", "fig09": "fig05", "fig10": "fig06"}

TITLES = {
    "fig01": "Figure 1 — perturbation growth through the hidden layers",
    "fig02": "Figure 2 — accuracy of capped networks",
    "fig03": "Figure 3 — sigmoid with a constant c",
    "fig04": "Figure 4 — PGD over a range of max values, general network",
    "fig05": "Figure 5 — PGD over a range of max values, reversed network",
    "fig06": "Figure 6 — PGD over a range of max values, equal network",
    "fig08": "Figure 8 — distance to zero gradients, general network",
    "fig09": "Figure 9 — distance to zero gradients, reversed network",
    "fig10": "Figure 10 — distance to zero gradients, equal network",
    "fig11": "Figure 11 — sensitivity map",
    "table1": "Table 1 — capped ReLU with adversarial training",
    "adaptive": ADAPTIVE_TITLE,
}
EXPERIMENTS = list(TITLES)
# Figure 12 belongs to the adaptive section rather than being a section of its own.
FIGURE_TITLES = {**TITLES, "fig12": "Figure 12 — PGD against the adaptive worst case"}


# --------------------------------------------------------------------------- small helpers

def _num(v) -> float:
    """``float(v)``, or NaN for None / non-numbers."""
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def _finite(v) -> bool:
    return math.isfinite(_num(v))


def _nanmean(a) -> float:
    """Mean of the finite values (NaN, without a warning, when there are none)."""
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


def _fmt(v, digits: int = 4) -> str:
    """A compact number (``4`` significant digits) or an em dash for missing values."""
    x = _num(v)
    return f"{x:.{digits}g}" if math.isfinite(x) else "—"


def _pct(v) -> str:
    """A fraction as a percentage with two decimals."""
    x = _num(v)
    return f"{100.0 * x:.2f}" if math.isfinite(x) else "—"


def _signed(d: float) -> str:
    d = round(float(d), 2)
    return "0.00" if d == 0 else f"{d:+.2f}"


def _beta_text(beta) -> str:
    return "∞ (uncapped)" if beta is None else beta_key(beta)


def _norm_beta(beta):
    return None if beta is None else round(float(beta), 9)


def _row_key(row: dict):
    return (_norm_beta(row.get("beta")), str(row.get("adv_training", "none")).lower())


def paper_row(beta, adv_training: str) -> dict | None:
    """The paper's Table 1 row for (beta, adversarial training), or None."""
    key = (_norm_beta(beta), str(adv_training).lower())
    for row in PAPER_TABLE1:
        if _row_key(row) == key:
            return row
    return None


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _spearman(x, y) -> float:
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
            m = a == v
            r[m] = r[m].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def beta_trend(betas, values) -> tuple[int, str]:
    """How ``values`` change as the max value beta falls (None = uncapped = +inf).

    Returns ``(direction, phrase)``: direction +1 (rises as beta falls), -1 (falls), 0 (flat or
    no clear trend); the phrase says which, "steadily" when monotone, else with Spearman's rho.
    """
    pairs = [(math.inf if b is None else float(b), _num(v)) for b, v in zip(betas, values)]
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
    rho = _spearman(np.arange(vals.size), vals)
    if rho >= 0.5:
        return 1, f"mostly rises as β falls (Spearman ρ={rho:+.2f})"
    if rho <= -0.5:
        return -1, f"mostly falls as β falls (Spearman ρ={rho:+.2f})"
    return 0, f"shows no clear trend with β (Spearman ρ={rho:+.2f})"


def _agree(paper_dir: int, our_dir: int) -> str:
    return "**agrees**" if paper_dir == our_dir else "**differs**"


def _sorted_rows(rows: list[dict]) -> list[dict]:
    """Rows in the paper's order (adversarial training, then beta ∞, 1, 0.1, 0.01), extras last."""
    order = {_row_key(r): i for i, r in enumerate(PAPER_TABLE1)}
    indexed = list(enumerate(rows))
    indexed.sort(key=lambda ir: (order.get(_row_key(ir[1]), len(order)), ir[0]))
    return [r for _, r in indexed]


def _write_text(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- Table 1

def table1_markdown(rows: list[dict]) -> str:
    """Table 1 in Markdown; each cell "ours (paper, ours − paper)" in percent, 2 decimals.

    ``rows`` are our rows (fractions in [0, 1]); with ``<metric>_std`` keys (several seeds) a
    cell reads "ours ± std (paper, diff)". Rows the paper lacks show ours only; missing values
    show "—".
    """
    header = ["Max val.", "Adv. training"] + [label for _, label in TABLE1_METRICS]
    body = []
    for row in _sorted_rows(rows):
        beta = row.get("beta")
        adv = str(row.get("adv_training", "none")).lower()
        paper = paper_row(beta, adv)
        cells = ["—" if beta is None else f"{float(beta):.2f}", ADV_LABELS.get(adv, adv)]
        for metric, _ in TABLE1_METRICS:
            ours = _num(row.get(metric))
            if not math.isfinite(ours):
                cell = "—"
            else:
                cell = f"{100.0 * ours:.2f}"
                if _finite(row.get(f"{metric}_std")):
                    cell += f" ± {100.0 * _num(row[f'{metric}_std']):.2f}"
            if paper is not None:
                if math.isfinite(ours):
                    cell += f" ({paper[metric]:.2f}, {_signed(100.0 * ours - paper[metric])})"
                else:
                    cell += f" ({paper[metric]:.2f})"
            cells.append(cell)
        body.append(cells)
    return _md_table(header, body)


def _cw_l2_table(rows: list[dict]) -> str | None:
    if not any(("cw_mean_l2" in r) or ("n_cw" in r) for r in rows):
        return None
    body = []
    for r in _sorted_rows(rows):
        beta = r.get("beta")
        body.append(["—" if beta is None else f"{float(beta):.2f}",
                     ADV_LABELS.get(str(r.get("adv_training", "none")).lower(),
                                    r.get("adv_training")),
                     _fmt(r.get("cw_mean_l2")), str(r.get("n_cw", "—"))])
    return _md_table(["Max val.", "Adv. training", "CW mean L2 of adversarials",
                      "CW samples"], body)


TABLE1_LEGEND = ("Each cell: **ours (paper, ours − paper)**, in percent. Max val. is the cap β "
                 "of HL2 (— = general ReLU); Adv. training — = none.")


def _table1_body(summary: dict, heading_level: str = "##") -> list[str]:
    out = []
    rows = summary.get("table1")
    seeds = summary.get("table1_seeds")
    if rows:
        out += [f"{heading_level} Our run" + _seed_suffix(summary), "", TABLE1_LEGEND, "",
                table1_markdown(rows), ""]
        cw = _cw_l2_table(rows)
        if cw:
            out += ["CW-L2 details (mean L2 norm of the CW perturbations found, and the number "
                    "of test samples attacked with CW):", "", cw, ""]
    if isinstance(seeds, dict) and seeds.get("rows"):
        n = seeds.get("n_seeds", "several")
        out += [f"{heading_level} Mean ± standard deviation over {n} seeds", "",
                "Each cell: **mean ± std (paper, mean − paper)**, in percent.", "",
                table1_markdown(seeds["rows"]), ""]
    return out


def _seed_suffix(summary: dict) -> str:
    seed = (summary.get("meta") or {}).get("seed")
    return f" (seed {seed})" if seed is not None else ""


def write_table1(summary: dict, out_dir) -> Path | None:
    """Write ``table1.md`` (ours beside the paper's Table 1); None when Table 1 is absent."""
    if not summary.get("table1") and not (summary.get("table1_seeds") or {}).get("rows"):
        return None
    lines = ["# Table 1: accuracy of MNIST two-hidden-layer classifiers with general and capped "
             "ReLU, on clean, FGSM, PGD and CW-L2 test samples", ""]
    lines += _table1_body(summary)
    return _write_text(Path(out_dir) / "table1.md", "\n".join(lines).rstrip() + "\n")


# --------------------------------------------------------------------------- findings

def findings_table1(rows: list[dict]) -> list[str]:
    """Statements about Table 1, each checked against ``rows`` (fractions)."""
    out = []
    by_key = {_row_key(r): r for r in rows}

    def group(source, adv, metric, scale):
        pts = [(r.get("beta"), _num(r.get(metric)) * scale) for r in source
               if str(r.get("adv_training", "none")).lower() == adv]
        pts.sort(key=lambda p: -(math.inf if p[0] is None else float(p[0])))
        return pts

    # 1. trends with beta, per adversarial-training group and metric
    trend_rows = []
    headline = {}
    for adv in ADV_ORDER:
        for metric, label in TABLE1_METRICS:
            ours = [p for p in group(rows, adv, metric, 100.0) if math.isfinite(p[1])]
            if len(ours) < 2:
                continue
            paper = group(PAPER_TABLE1, adv, metric, 1.0)
            pdir, ptxt = beta_trend([b for b, _ in paper], [v for _, v in paper])
            odir, otxt = beta_trend([b for b, _ in ours], [v for _, v in ours])
            seq = " → ".join(f"{v:.2f}" for _, v in ours)
            betas = ", ".join("∞" if b is None else beta_key(b) for b, _ in ours)
            trend_rows.append([ADV_LABELS.get(adv, adv) if adv != "none" else "none",
                               label.replace(" %", ""), ptxt, otxt, f"{seq} (β = {betas})",
                               _agree(pdir, odir)])
            headline[(adv, metric)] = (pdir, ptxt, odir, otxt, seq, betas)
    if ("none", "pgd") in headline:
        pdir, ptxt, odir, otxt, seq, betas = headline[("none", "pgd")]
        pseq = " → ".join(f"{v:.2f}" for _, v in group(PAPER_TABLE1, "none", "pgd", 1.0))
        out.append(f"**Robust accuracy under PGD without adversarial training** — paper: {ptxt} "
                   f"({pseq}); ours: {otxt} ({seq} for β = {betas}) → {_agree(pdir, odir)}.")
    if ("none", "clean") in headline:
        pdir, ptxt, odir, otxt, seq, betas = headline[("none", "clean")]
        out.append(f"**Clean accuracy without adversarial training** — paper: {ptxt}; ours: "
                   f"{otxt} ({seq}) → {_agree(pdir, odir)}.")

    # 2. the cost in clean accuracy of the smallest cap
    for adv in ADV_ORDER:
        unc = by_key.get((None, adv))
        capped = [r for r in rows if str(r.get("adv_training", "none")).lower() == adv
                  and r.get("beta") is not None and _finite(r.get("clean"))]
        if unc is None or not capped or not _finite(unc.get("clean")):
            continue
        low = min(capped, key=lambda r: float(r["beta"]))
        drop = 100.0 * (_num(unc["clean"]) - _num(low["clean"]))
        p_unc, p_low = paper_row(None, adv), paper_row(low["beta"], adv)
        pdrop = _signed(p_low["clean"] - p_unc["clean"]) if p_unc and p_low else "—"
        verdict = ("holds" if drop <= CLEAN_COST_POINTS else
                   f"does not hold (a drop of more than {CLEAN_COST_POINTS:g} points)")
        out.append(f"**Clean-accuracy cost of capping** ({ADV_LABELS[adv] if adv != 'none' else 'no'}"
                   f" adversarial training): clean accuracy at β={beta_key(low['beta'])} is "
                   f"{_signed(-drop)} points against the uncapped network (paper: {pdrop}); "
                   f"\"without sacrificing a significant portion of standard accuracy\" {verdict}.")

    # 3. capped + adversarial training more robust than uncapped + adversarial training
    for adv in ("fgsm", "pgd"):
        unc = by_key.get((None, adv))
        capped = [r for r in rows if str(r.get("adv_training", "none")).lower() == adv
                  and r.get("beta") is not None and _finite(r.get("pgd"))]
        if unc is None or not capped or not _finite(unc.get("pgd")):
            continue
        best = max(capped, key=lambda r: _num(r["pgd"]))
        gain = 100.0 * (_num(best["pgd"]) - _num(unc["pgd"]))
        p_unc = paper_row(None, adv)
        p_best = max((paper_row(r["beta"], adv) for r in capped if paper_row(r["beta"], adv)),
                     key=lambda r: r["pgd"], default=None)
        ptxt = (f"paper: best capped β={beta_key(p_best['beta'])} "
                f"{_signed(p_best['pgd'] - p_unc['pgd'])} points" if p_unc and p_best else "")
        verdict = "holds" if gain > 0 else "does not hold"
        out.append(f"**{adv.upper()} adversarial training, capped vs general ReLU** (PGD "
                   f"accuracy): best capped β={beta_key(best['beta'])} is {_signed(gain)} points "
                   f"against the general network ({ptxt}); \"capping improves robustness beyond "
                   f"adversarially trained general classifiers\" {verdict}.")

    # 4. FGSM training about as good as PGD training
    diffs, pdiffs = [], []
    for r in rows:
        if str(r.get("adv_training", "none")).lower() != "fgsm":
            continue
        other = by_key.get((_norm_beta(r.get("beta")), "pgd"))
        if other is not None and _finite(r.get("pgd")) and _finite(other.get("pgd")):
            diffs.append(100.0 * abs(_num(r["pgd"]) - _num(other["pgd"])))
            pf, pp = paper_row(r.get("beta"), "fgsm"), paper_row(r.get("beta"), "pgd")
            if pf and pp:
                pdiffs.append(abs(pf["pgd"] - pp["pgd"]))
    if diffs:
        mean = float(np.mean(diffs))
        verdict = "similar" if mean <= SIMILAR_POINTS else "not similar"
        ptxt = f"{np.mean(pdiffs):.2f}" if pdiffs else "—"
        out.append(f"**FGSM vs PGD adversarial training**: their PGD accuracies differ by "
                   f"{mean:.2f} points on average over {len(diffs)} max values (paper: {ptxt}) "
                   f"→ {verdict} (threshold {SIMILAR_POINTS:g} points).")

    # 5. CW stays effective: CW accuracy below PGD accuracy
    ours_cw = [(r, _num(r.get("cw")), _num(r.get("pgd"))) for r in rows]
    ours_cw = [t for t in ours_cw if math.isfinite(t[1]) and math.isfinite(t[2])]
    if ours_cw:
        k = sum(cw < pgd for _, cw, pgd in ours_cw)
        pk = sum(r["cw"] < r["pgd"] for r in PAPER_TABLE1)
        top = max(cw for _, cw, _ in ours_cw)
        out.append(f"**CW-L2 remains effective**: CW accuracy is below PGD accuracy in {k} of "
                   f"{len(ours_cw)} rows (paper: {pk} of {len(PAPER_TABLE1)}); our highest CW "
                   f"accuracy is {100.0 * top:.2f}% (paper: "
                   f"{max(r['cw'] for r in PAPER_TABLE1):.2f}%).")

    # 6. large differences from the paper
    flagged = []
    for r in _sorted_rows(rows):
        p = paper_row(r.get("beta"), r.get("adv_training", "none"))
        if p is None:
            continue
        for metric, label in TABLE1_METRICS:
            if _finite(r.get(metric)):
                d = 100.0 * _num(r[metric]) - p[metric]
                if abs(d) > FLAG_POINTS:
                    flagged.append(f"β={_beta_text(r.get('beta'))}, adv. training "
                                   f"{r.get('adv_training', 'none')}, {label.replace(' %', '')}: "
                                   f"ours {100.0 * _num(r[metric]):.2f} vs paper "
                                   f"{p[metric]:.2f} ({_signed(d)})")
    n_cells = sum(_finite(r.get(m)) for r in rows if paper_row(r.get("beta"),
                  r.get("adv_training", "none")) for m, _ in TABLE1_METRICS)
    if flagged:
        out.append(f"**Cells more than {FLAG_POINTS:g} points from the paper**: {len(flagged)} of "
                   f"{n_cells}:\n" + "\n".join(f"  - {f}" for f in flagged))
    elif n_cells:
        out.append(f"**Cells more than {FLAG_POINTS:g} points from the paper**: none of {n_cells}.")

    if trend_rows:
        out.append("Trend of every column as β falls (∞ → 1 → 0.1 → 0.01), paper vs ours:\n\n"
                   + _md_table(["Adv. training", "Column", "Paper", "Ours", "Our values (%)",
                                "Verdict"], trend_rows))
    return out


def _fig01_value(block, layer, beta, norm, hidden):
    vals = ((block.get("capped") or {}).get(layer) or {}).get(beta_key(beta), {}) or {}
    seq = vals.get(norm) or []
    return _num(seq[hidden]) if hidden < len(seq) else float("nan")


def findings_fig01(block: dict) -> list[str]:
    out = []
    layers = block.get("capped_layers") or list((block.get("capped") or {}).keys())
    betas = [float(b) for b in (block.get("betas") or [])]
    uncapped = block.get("uncapped") or {}
    for norm, name in (("linf", "L∞"), ("l2", "L2")):
        dirs = []
        for layer in layers:
            vals = [_fig01_value(block, layer, b, norm, 2) for b in betas]
            d, _ = beta_trend(betas, vals)
            dirs.append((layer, d))
        if dirs:
            k = sum(d == -1 for _, d in dirs)
            which = ", ".join(f"{l}: {'falls' if d == -1 else 'rises' if d == 1 else 'no trend'}"
                              for l, d in dirs)
            verdict = ("holds" if k == len(dirs) else "holds in part" if k else "does not hold")
            out.append(f"**{name} distance at HL3 as β falls** — paper: lower max values stop the "
                       f"perturbation from growing; ours: it falls in {k} of {len(dirs)} capped "
                       f"configurations ({which}) → {verdict}.")
        seq = uncapped.get(norm)
        if seq and len(seq) >= 2 and _finite(seq[0]) and _finite(seq[-1]):
            grow = _num(seq[-1]) / _num(seq[0]) if _num(seq[0]) > 0 else float("inf")
            out.append(f"Uncapped network, {name} distance: HL1 {_fmt(seq[0])} → HL3 "
                       f"{_fmt(seq[-1])} (×{_fmt(grow, 3)}; "
                       f"{'grows' if grow > 1 else 'does not grow'} over the layers).")
    # the distance drops at the capped layer itself
    drops = []
    for i, layer in enumerate(("HL1", "HL2", "HL3")):
        if layer not in layers or not betas or not uncapped.get("linf"):
            continue
        seq = uncapped["linf"]
        if i >= len(seq) or not _finite(seq[i]):
            continue
        low = min(betas)
        v = _fig01_value(block, layer, low, "linf", i)
        if math.isfinite(v) and _num(seq[i]) > 0:
            drops.append((layer, v / _num(seq[i])))
    if drops:
        k = sum(r < 1 for _, r in drops)
        verdict = "holds" if k == len(drops) else "holds in part" if k else "does not hold"
        out.append("**Distance at the capped layer itself** — paper: it goes down significantly "
                   "at the layer capped; ours, L∞ at the capped layer for the smallest β relative "
                   "to the uncapped network: "
                   + ", ".join(f"{l} ×{_fmt(r, 3)}" for l, r in drops) + f" → {verdict}.")
    return out


def findings_fig02(block: dict) -> list[str]:
    out = []
    acc = block.get("accuracy") or {}
    layers = block.get("capped_layers") or list(acc.keys())
    betas = sorted(float(b) for b in (block.get("betas") or []))
    if betas:
        low = betas[0]
        parts, k, n = [], 0, 0
        for layer in layers:
            vals = {b: _num((acc.get(layer) or {}).get(beta_key(b))) for b in betas}
            others = [v for b, v in vals.items() if b != low and math.isfinite(v)]
            if not math.isfinite(vals[low]) or not others:
                continue
            gap = 100.0 * (max(others) - vals[low])
            n += 1
            k += gap > 1.0
            parts.append(f"{layer} {_signed(-gap)}")
        if n:
            verdict = "holds" if k == n else "holds in part" if k else "does not hold"
            out.append(f"**Underfitting at a very low max value** — paper: β too low makes the "
                       f"classifier underfit; ours, accuracy at β={beta_key(low)} relative to the "
                       f"best β (points): {', '.join(parts)}; more than 1 point lower in {k} of "
                       f"{n} → {verdict}.")
    all_layer = next((l for l in layers if l.startswith("HL") and len(l) > 3), None)
    singles = [l for l in layers if l != all_layer]
    if all_layer and singles and any(abs(b - 0.1) < 1e-9 for b in betas):
        a_all = _num((acc.get(all_layer) or {}).get("0.1"))
        a_one = [_num((acc.get(l) or {}).get("0.1")) for l in singles]
        a_one = [a for a in a_one if math.isfinite(a)]
        if math.isfinite(a_all) and a_one:
            if a_all < min(a_one):
                verdict = "holds (below every single-layer cap)"
            elif a_all < float(np.mean(a_one)):
                verdict = "holds in part (below the single-layer mean)"
            else:
                verdict = "does not hold"
            out.append(f"**Capping all hidden layers at β=0.1** — paper: slightly lower accuracy "
                       f"than capping one layer; ours: {all_layer} {_pct(a_all)}% vs single "
                       f"layers {', '.join(_pct(a) for a in a_one)}% → {verdict}.")
    unc = block.get("uncapped")
    if _finite(unc):
        out.append(f"Uncapped network accuracy: {_pct(unc)}%.")
    return out


def _sigmoid_widths(block: dict) -> list[tuple[str, float]]:
    """Width in z of the band where sigmoid(c z) goes from 0.1 to 0.9, per c."""
    z = np.asarray([_num(v) for v in (block.get("z") or [])])
    out = []
    for c in block.get("c") or []:
        y = np.asarray([_num(v) for v in ((block.get("sigmoid") or {}).get(beta_key(c)) or [])])
        n = min(len(y), len(z))
        if n < 2:
            continue
        zz, yy = z[:n], y[:n]
        order = np.argsort(yy)
        try:
            lo = float(np.interp(0.1, yy[order], zz[order]))
            hi = float(np.interp(0.9, yy[order], zz[order]))
        except ValueError:
            continue
        out.append((beta_key(c), hi - lo))
    return out


def findings_fig03(block: dict) -> list[str]:
    widths = _sigmoid_widths(block)
    if len(widths) < 2:
        return []
    ws = [w for _, w in widths]
    narrows = all(b < a for a, b in zip(ws, ws[1:]))
    return [f"**Sigmoid narrows as c grows** — width of the 0.1–0.9 band: "
            + ", ".join(f"c={c}: {_fmt(w, 3)}" for c, w in widths)
            + f" → {'holds' if narrows else 'does not hold'}."]


def _curve(block: dict, layer: str, init: str, key: str) -> np.ndarray:
    data = (((block.get("curves") or {}).get(layer) or {}).get(init) or {}).get(key)
    return np.asarray([_num(v) for v in (data or [])], dtype=float)


def _init_keys(block: dict) -> list[str]:
    inits = block.get("initial_betas")
    if inits:
        return [beta_key(b) for b in inits]
    first = next(iter((block.get("curves") or {}).values()), {}) or {}
    return list(first.keys())


def evaluate_claim(block: dict, claim: dict, key: str = "robust",
                   higher_is_better: bool = True) -> tuple[int, int, int]:
    """(wins, losses, ties) of the claim's (better, worse) pairs over its initial/eval betas."""
    eval_b = np.asarray([_num(b) for b in (block.get("betas_eval") or [])])
    inits = claim.get("initial") or _init_keys(block)
    lo, hi = claim.get("eval") or (None, None)
    wins = losses = ties = 0
    for init in inits:
        for better, worse in claim["pairs"]:
            a, b = _curve(block, better, init, key), _curve(block, worse, init, key)
            n = min(a.size, b.size)
            for j in range(n):
                if j < eval_b.size:
                    e = eval_b[j]
                    if lo is not None and not e > lo + 1e-9:
                        continue
                    if hi is not None and not e < hi - 1e-9:
                        continue
                elif lo is not None or hi is not None:
                    continue
                if not (math.isfinite(a[j]) and math.isfinite(b[j])):
                    continue
                diff = (a[j] - b[j]) if higher_is_better else (b[j] - a[j])
                if abs(diff) <= 1e-12:
                    ties += 1
                elif diff > 0:
                    wins += 1
                else:
                    losses += 1
    return wins, losses, ties


def _claim_verdict(w: int, l: int, t: int) -> str:
    if w + l + t == 0:
        return "not testable (no data)"
    v = "holds" if w > l else "does not hold" if l > w else "undecided"
    return f"better in {w}, worse in {l}, tied in {t} of {w + l + t} comparisons → **{v}**"


def _layer_means(block: dict, init: str, key: str) -> dict[str, float]:
    """Mean of each capped layer's curve, over the evaluation betas where every layer has data."""
    layers = block.get("capped_layers") or list((block.get("curves") or {}).keys())
    curves = {l: _curve(block, l, init, key) for l in layers}
    curves = {l: c for l, c in curves.items() if c.size and np.isfinite(c).any()}
    if not curves:
        return {}
    n = min(c.size for c in curves.values())
    common = np.all([np.isfinite(c[:n]) for c in curves.values()], axis=0)
    if common.any():
        return {l: float(c[:n][common].mean()) for l, c in curves.items()}
    return {l: float(_nanmean(c)) for l, c in curves.items()}


def findings_pgd(name: str, block: dict) -> list[str]:
    out = []
    for claim in PAPER_PGD_CLAIMS.get(name, []):
        w, l, t = evaluate_claim(block, claim, "robust", True)
        out.append(f"Paper: {claim['text']}. Ours (robust accuracy): {_claim_verdict(w, l, t)}.")
    for init in _init_keys(block):
        means = _layer_means(block, init, "robust")
        if means:
            ranking = sorted(means, key=lambda k: -means[k])
            out.append(f"Initial β={init}: mean robust accuracy "
                       + " > ".join(f"{k} ({100 * means[k]:.2f}%)" for k in ranking) + ".")
    rising, total = 0, 0
    eval_b = [_num(b) for b in (block.get("betas_eval") or [])]
    for layer in block.get("capped_layers") or []:
        for init in _init_keys(block):
            c = _curve(block, layer, init, "robust")
            if c.size >= 2 and eval_b:
                d, _ = beta_trend(eval_b[: c.size], c)
                total += 1
                rising += d == 1
    if total:
        out.append(f"Robust accuracy rises as the evaluation max value falls in {rising} of "
                   f"{total} curves.")
    return out


def findings_zero_gradient(name: str, block: dict, pgd_block: dict | None) -> list[str]:
    out = ["Reading (paper, Section 6): a classifier is more robust when the zero-gradient point "
           "PGD reaches is closer to the clean input, so a smaller mean distance is better."]
    partner = PGD_PARTNER.get(name)
    for claim in PAPER_PGD_CLAIMS.get(partner, []):
        w, l, t = evaluate_claim(block, claim, "distance", higher_is_better=False)
        out.append(f"Paper's Fig. {int(partner[3:])} statement \"{claim['text']}\", tested on "
                   f"distance (smaller = better): {_claim_verdict(w, l, t)}.")
    consistent, n = 0, 0
    for init in _init_keys(block):
        dist = _layer_means(block, init, "distance")
        found = _layer_means(block, init, "found_fraction")
        if not dist:
            out.append(f"Initial β={init}: no zero gradient found for any capped layer.")
            continue
        best_d = min(dist, key=dist.get)
        text = (f"Initial β={init}: closest zero gradients with {best_d} ("
                + ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(dist.items())) + ")")
        if found:
            text += "; found for " + ", ".join(f"{k} {100 * v:.0f}%"
                                              for k, v in sorted(found.items()))
        if pgd_block:
            rob = _layer_means(pgd_block, init, "robust")
            rob = {k: v for k, v in rob.items() if k in dist}
            if rob:
                best_r = max(rob, key=rob.get)
                n += 1
                consistent += best_r == best_d
                text += (f"; highest PGD robust accuracy with {best_r} → "
                         f"{'consistent' if best_r == best_d else 'inconsistent'}")
        out.append(text + ".")
    if n:
        verdict = "holds" if consistent == n else "holds in part" if consistent else "does not hold"
        out.append(f"**Zero-gradient results align with the PGD experiment** (paper: they do); "
                   f"ours: the best layer agrees for {consistent} of {n} initial max values "
                   f"→ {verdict}.")
    return out


def findings_fig11(block: dict) -> list[str]:
    out = []
    betas = [float(b) for b in (block.get("betas") or [])]
    for key, what in (("sums", "sum of the map for this digit"),
                      ("mean_sum_test", f"mean sum over {block.get('n_test', '?')} test images")):
        vals = block.get(key)
        if not vals or len(betas) < 2:
            continue
        d, txt = beta_trend(betas[: len(vals)], vals[: len(betas)])
        out.append(f"**Sensitivity decreases with the max value** ({what}) — paper: the sum "
                   f"decreases as β is reduced; ours: it {txt} ("
                   + ", ".join(f"β={beta_key(b)}: {_fmt(v)}" for b, v in zip(betas, vals))
                   + f") → {_agree(-1, d)}.")
    return out


# --------------------------------------------------------------------------- key-number tables

def key_numbers(name: str, block: dict) -> str | None:
    if name == "fig01":
        header = ["Network", "L∞ HL1", "L∞ HL2", "L∞ HL3", "L2 HL1", "L2 HL2", "L2 HL3"]
        body = []
        unc = block.get("uncapped") or {}
        if unc:
            body.append(["uncapped"] + [_fmt(v) for v in (list(unc.get("linf") or [])
                                                          + [None] * 3)[:3]]
                        + [_fmt(v) for v in (list(unc.get("l2") or []) + [None] * 3)[:3]])
        for layer in block.get("capped_layers") or []:
            for b in block.get("betas") or []:
                v = ((block.get("capped") or {}).get(layer) or {}).get(beta_key(b))
                if not v:
                    continue
                body.append([f"{layer} β={beta_key(b)}"]
                            + [_fmt(x) for x in (list(v.get("linf") or []) + [None] * 3)[:3]]
                            + [_fmt(x) for x in (list(v.get("l2") or []) + [None] * 3)[:3]])
        return _md_table(header, body) if body else None
    if name == "fig02":
        betas = block.get("betas") or []
        acc = block.get("accuracy") or {}
        body = [[layer] + [_pct((acc.get(layer) or {}).get(beta_key(b))) for b in betas]
                for layer in (block.get("capped_layers") or list(acc))]
        if _finite(block.get("uncapped")):
            body.append(["uncapped"] + [_pct(block["uncapped"])] * len(betas))
        return _md_table(["Capped layer (accuracy %)"] + [f"β={beta_key(b)}" for b in betas],
                         body) if body and betas else None
    if name == "fig03":
        widths = _sigmoid_widths(block)
        return _md_table(["c", "width of the 0.1–0.9 band in z"],
                         [[c, _fmt(w, 3)] for c, w in widths]) if widths else None
    if name in ("fig04", "fig05", "fig06"):
        eval_b = [_num(b) for b in (block.get("betas_eval") or [])]
        body = []
        for init in _init_keys(block):
            for layer in block.get("capped_layers") or []:
                std, rob, suc = (_curve(block, layer, init, k)
                                 for k in ("standard", "robust", "success"))
                if not rob.size:
                    continue
                j = int(np.nanargmax(rob)) if np.isfinite(rob).any() else None
                best = (f"{_fmt(eval_b[j])}" if j is not None and j < len(eval_b) else "—")
                body.append([init, layer, _pct(_nanmean(std)) if std.size else "—",
                             _pct(_nanmean(rob)), _pct(_nanmean(suc)) if suc.size else "—",
                             best, _pct(rob[j]) if j is not None else "—",
                             _pct(std[j]) if j is not None and j < std.size else "—"])
        return _md_table(["Initial β", "Capped", "Mean standard %", "Mean robust %",
                          "Mean success %", "Best eval β", "Robust % there",
                          "Standard % there"], body) if body else None
    if name in ("fig08", "fig09", "fig10"):
        body = []
        for init in _init_keys(block):
            for layer in block.get("capped_layers") or []:
                d, f = _curve(block, layer, init, "distance"), _curve(block, layer, init,
                                                                      "found_fraction")
                if not d.size and not f.size:
                    continue
                fin = d[np.isfinite(d)]
                body.append([init, layer, _fmt(fin.mean()) if fin.size else "—",
                             _fmt(fin.min()) if fin.size else "—",
                             _fmt(fin.max()) if fin.size else "—",
                             _pct(_nanmean(f)) if f.size and np.isfinite(f).any() else "—"])
        return _md_table(["Initial β", "Capped", "Mean distance", "Min", "Max",
                          "Mean % found"], body) if body else None
    if name == "fig11":
        betas = block.get("betas") or []
        sums, means = block.get("sums") or [], block.get("mean_sum_test") or []
        body = [[beta_key(b), _fmt(sums[i]) if i < len(sums) else "—",
                 _fmt(means[i]) if i < len(means) else "—"] for i, b in enumerate(betas)]
        n = block.get("n_test", "?")
        return _md_table(["β", f"Sum of map (test index {block.get('sample_index', '?')})",
                          f"Mean sum over {n} test images"], body) if body else None
    return None


# --------------------------------------------------------------------------- REPORT.md

def _fmt_seconds(s) -> str:
    x = _num(s)
    if not math.isfinite(x):
        return "—"
    if x < 120:
        return f"{x:.1f} s"
    if x < 7200:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.2f} h"


def meta_key_covers(key: str, name: str) -> bool:
    """Whether a ``meta`` key (a run unit such as "fig04-06", "fig01-02", "table1 CW-L2",
    "table1_seeds", "fig03") is about the summary experiment ``name`` ("fig05", "table1")."""
    key, name = str(key), str(name)
    if key == name or key.startswith(name + " ") or key.startswith(name + "_"):
        return True
    m = re.fullmatch(r"fig(\d+)-(\d+)", key)
    n = re.fullmatch(r"fig(\d+)", name)
    return bool(m and n and int(m.group(1)) <= int(n.group(1)) <= int(m.group(2)))


def _meta_entries(mapping, name: str) -> list[tuple[str, object]]:
    if not isinstance(mapping, dict):
        return []
    return [(k, v) for k, v in mapping.items() if meta_key_covers(k, name)]


def _settings_block(entries: list[tuple[str, object]]) -> list[str]:
    if not entries:
        return ["Settings: not recorded.", ""]
    lines = []
    for unit, settings in entries:
        lines += [f"Settings (run unit `{unit}`):", ""]
        if isinstance(settings, dict):
            for k, v in settings.items():
                val = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
                lines.append(f"- `{k}`: {val}")
        else:
            lines.append(f"- {json.dumps(settings, sort_keys=True)}")
        lines.append("")
    return lines


def _how_produced(summary: dict) -> list[str]:
    meta = summary.get("meta") or {}
    present = [e for e in EXPERIMENTS if summary.get(e)]
    if "table1" not in present and (summary.get("table1_seeds") or {}).get("rows"):
        present.append("table1")
    lines = ["## How this was produced", ""]
    lines.append(f"- Profile: `{meta.get('profile', 'unknown')}`")
    lines.append(f"- Seed: `{meta.get('seed', 'unknown')}`")
    lines.append(f"- Backend: `{meta.get('backend', 'unknown')}`")
    if meta.get("started"):
        lines.append(f"- Started: {meta['started']}")
    walls = meta.get("wall_seconds") or {}
    total = sum(_num(v) for v in walls.values() if _finite(v))
    if walls:
        lines.append(f"- Total wall time: {_fmt_seconds(total)}")
    lines.append(f"- Experiments in this summary: {', '.join(present) if present else 'none'}")
    subsets = meta.get("subsets") or {}
    keys = list(dict.fromkeys(list(walls) + list(subsets)))
    if keys:
        lines += ["", "Run units (as recorded in `meta`):", "",
                  _md_table(["Run unit", "Wall time", "Data used"],
                            [[k, _fmt_seconds(walls.get(k)), str(subsets.get(k, "—"))]
                             for k in keys])]
    return lines + [""]


def _notes(summary: dict) -> list[str]:
    notes = summary.get("notes")
    if not notes:
        return []
    if isinstance(notes, str):
        notes = [notes]
    lines = ["## Notes from the run", "",
             "<!-- summary['notes'], reproduced verbatim as written by the experiment code -->", ""]
    for note in notes:
        lines += [str(note), ""]
    return lines


def _figure_line(name: str, out_dir: Path) -> list[str]:
    fn = FIGURE_FILES.get(name)
    if not fn:
        return []
    if (out_dir / fn).exists():
        return [f"![{FIGURE_TITLES[name]}]({fn})", ""]
    return [f"_Figure `{fn}` was not drawn (run `nprelu.plots.plot_all` first)._", ""]


def _findings(name: str, summary: dict) -> list[str]:
    block = summary.get(name)
    if name == "table1":
        seeds = summary.get("table1_seeds") or {}
        rows = seeds.get("rows") or summary.get("table1") or []
        return findings_table1(rows)
    if name == "fig01":
        return findings_fig01(block)
    if name == "fig02":
        return findings_fig02(block)
    if name == "fig03":
        return findings_fig03(block)
    if name in ("fig04", "fig05", "fig06"):
        return findings_pgd(name, block)
    if name in ("fig08", "fig09", "fig10"):
        return findings_zero_gradient(name, block, summary.get(PGD_PARTNER[name]))
    if name == "fig11":
        return findings_fig11(block)
    if name == "adaptive":
        return findings_adaptive(summary)
    return []


def _section(name: str, summary: dict, out_dir: Path) -> list[str]:
    if name == "adaptive":
        return adaptive_section(summary, lambda fig: _figure_line(fig, out_dir))
    block = summary.get(name)
    meta = summary.get("meta") or {}
    lines = [f"## {TITLES[name]}", ""]
    if isinstance(block, dict) and block.get("network"):
        sizes = block.get("sizes")
        lines += [f"Network: {block['network']}"
                  + (f" ({'-'.join(str(s) for s in sizes)})" if sizes else "")
                  + (f"; {block['n_test']} test samples" if block.get("n_test") else "")
                  + (f"; at most {block['max_steps']} PGD steps" if block.get("max_steps")
                     else ""), ""]
    for unit, subset in _meta_entries(meta.get("subsets"), name):
        lines.append(f"Data ({unit}): {subset}")
    if _meta_entries(meta.get("subsets"), name):
        lines.append("")
    lines += _settings_block(_meta_entries(meta.get("settings"), name))
    if name == "table1":
        lines += _table1_body(summary, "###")
    else:
        lines += _figure_line(name, out_dir)
        table = key_numbers(name, block)
        if table:
            lines += ["Key numbers:", "", table, ""]
    return lines


def build_report(summary: dict, out_dir, strict: bool = False) -> str:
    """The text of ``REPORT.md`` (see :func:`write_report`)."""
    out_dir = Path(out_dir)
    present = [e for e in EXPERIMENTS if summary.get(e)
               or (e == "table1" and (summary.get("table1_seeds") or {}).get("rows"))]
    lines = ["# Reproduction report: *Is ReLU Adversarially Robust?*", "",
             "A from-scratch NumPy reproduction of Sooksatra, Hamerly and Rivas (ICML 2023). The "
             "capped ReLU is a(z, β) = max(0, min(z, β)); β is the paper's \"max value\". "
             "Everything below is generated from `summary.json`.", ""]
    lines += _how_produced(summary)
    lines += _notes(summary)

    def guarded(fn, name):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - reported in the report, re-raised when strict
            if strict:
                raise
            warnings.warn(f"report section {name} failed: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=3)
            return [f"_This part could not be generated ({type(exc).__name__}: {exc})._", ""]

    for name in present:
        lines += guarded(lambda: _section(name, summary, out_dir), name)
    lines += ["## Where we agree and where we differ", "",
              "Each statement of the paper below is tested on our numbers; the verdicts are "
              "computed, not written by hand.", ""]
    if not present:
        lines += ["No experiment results in this summary.", ""]
    for name in present:
        items = guarded(lambda: _findings(name, summary), name)
        if not items:
            continue
        lines += [f"### {TITLES[name]}", ""]
        for item in items:
            if item.startswith("_") or item.startswith("Trend of every column"):
                lines += ["", item, ""]
            else:
                lines.append(f"- {item}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(summary: dict, out_dir, strict: bool = False) -> Path:
    """Write ``REPORT.md`` into ``out_dir`` and return its path.

    Figures are linked when their PNG already exists in ``out_dir`` (call
    :func:`nprelu.plots.plot_all` first, or use :func:`write_all`). A section that fails to
    render is replaced by a note and a :class:`RuntimeWarning` (``strict=True`` raises).
    """
    out_dir = Path(out_dir)
    return _write_text(out_dir / "REPORT.md", build_report(summary, out_dir, strict=strict))


def write_all(summary: dict, out_dir, strict: bool = False) -> list[Path]:
    """Figures, ``table1.md`` and ``REPORT.md`` for ``summary``; returns every path written."""
    paths = plot_all(summary, out_dir, strict=strict)
    t1 = write_table1(summary, out_dir)
    if t1 is not None:
        paths.append(t1)
    paths.append(write_report(summary, out_dir, strict=strict))
    return paths
