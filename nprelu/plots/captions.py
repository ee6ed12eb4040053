"""Each figure's caption: what its short title leaves out (the settings, the sample sizes, how
to read the marks, the intervals). The report prints it under the figure
(:func:`nprelu.plots.figure_caption`); text only, nothing is drawn here.

A caption is registered per output kind with ``@captions(kind)`` as ``caption(output, block,
extras) -> str``; :class:`.common.Extras` brings the attack settings in words (``caption``,
from :func:`attack_caption`) and how the intervals were made (``method``).
"""
from __future__ import annotations

from ..runner.summary import beta_key
from .common import Extras, captions, coinciding
from .style import COINCIDE_SHARE, attack_name

APPROX = (f"≈ in a panel title: those lines differ nowhere by more than "
          f"{100 * COINCIDE_SHARE:.0f}% of the panel's range, one hides the other")


def attack_caption(settings) -> str:
    """The attack settings of an experiment's ``meta.settings`` (or of one output's scope of
    them) in words: "PGD eps 0.1, step 0.01, 10 steps, random start"; a budget recorded in
    words (``budget_in_words``: its textual and numeric entries) and a PGD step given in words
    (``pgd_step``) are quoted as recorded; "" when it records none."""
    if not isinstance(settings, dict):
        return ""
    parts = []
    for key, v in settings.items():
        if isinstance(v, dict) and ("eps" in v or "steps" in v) and key != "budget":
            name = attack_name(key)
            bits = [f"eps {v['eps']:.4g}" if "eps" in v else None,
                    f"step {v['step']:.4g}" if "step" in v else None,
                    f"{v['steps']} steps" if "steps" in v else None,
                    f"{v['restarts']} restarts" if "restarts" in v else None,
                    {True: "random start", False: "start at the clean image"}.get(
                        v.get("random_start"))]
            parts.append(f"{name} " + ", ".join(b for b in bits if b))
    if isinstance(settings.get("pgd_step"), str):
        parts.append(f"PGD step {settings['pgd_step']}")
    stated = settings.get("budget_in_words")
    if isinstance(stated, dict) and not any(p.startswith("suite budget") for p in parts):
        parts.append("suite: " + "; ".join(f"{k.replace('_', ' ')} {v}"
                                           for k, v in stated.items()
                                           if isinstance(v, (str, int, float))))
    if "max_steps" in settings:
        parts.append(f"zero-gradient search: at most {settings['max_steps']} steps")
    return "; ".join(parts)


def sentences(*parts) -> str:
    """The non-empty ``parts`` joined as sentences."""
    out = [p.strip() for p in parts if p and p.strip()]
    return " ".join(p if p.endswith(".") else p + "." for p in out)


def settings_text(extras: Extras) -> str:
    return f"Settings: {extras.caption}" if extras.caption else ""


def bands_text(extras: Extras, what: str = "Bands") -> str:
    """"Bands: 95% Student t interval over 3 seeds" when the figure has intervals, else ""."""
    return f"{what}: {extras.method}" if extras.iv is not None and extras.method else ""


def sweep_details(block: dict) -> str:
    return (f"Network layer sizes {'-'.join(str(s) for s in block['sizes'])}, "
            f"{block['n_test']} test samples")


@captions("growth")
def growth_caption(output, block: dict, extras: Extras) -> str:
    from .figures import growth_series   # the same series the figure draws
    same = [g for g in coinciding(growth_series(block)) if len(g) > 1]
    return sentences(
        "Mean distance between the hidden-layer outputs of a clean and a PGD adversarial input "
        "(top: L∞, bottom: L2; log scale, zero distances not drawn), per hidden layer; one "
        "column per capped layer, one line per max value β, the uncapped network dashed",
        "; ".join(" = ".join(g) for g in same) + " in every panel (identical values)"
        if same else "", APPROX, settings_text(extras), bands_text(extras))


@captions("accuracy")
def accuracy_caption(output, block: dict, extras: Extras) -> str:
    return sentences("Test accuracy against the max value β (log scale), one line per capped "
                     "layer; dashed: the uncapped network", settings_text(extras),
                     bands_text(extras, "Error bars and the grey band"))


@captions("sigmoid")
def sigmoid_caption(output, block: dict, extras: Extras) -> str:
    return sentences("σ(c·z) = 1 / (1 + exp(-c·z)) for c = "
                     + ", ".join(beta_key(c) for c in block["c"]) + " (exact curves)")


@captions("pgd_sweep")
def pgd_sweep_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        "Standard accuracy, robust accuracy and PGD success rate against the max value β used "
        "at evaluation; one row per initial (training) max value, one line per capped layer",
        sweep_details(block), APPROX, settings_text(extras), bands_text(extras))


@captions("zero_gradient")
def zero_gradient_caption(output, block: dict, extras: Extras) -> str:
    steps = "" if extras.caption else f"Zero-gradient search: at most {block['max_steps']} steps"
    return sentences(
        "Distance from a test image to the zero-gradient point the search finds, against the "
        "max value β used at evaluation: the paper's mean over the samples found (a gap where "
        "none was), the mean on the samples common to every capped layer, the mean with 'not "
        "found' counted at the step limit, and the share found; one column per initial max "
        "value", sweep_details(block), APPROX, steps, settings_text(extras), bands_text(extras))


@captions("sensitivity")
def sensitivity_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"Sensitivity map (input gradient) of test image {block['sample_index']}, a digit "
        f"{block['label']}, for each max value; red: more sensitive, blue: the digit's outline",
        "One colour scale for all maps (not the paper's reference pixel)",
        f"Panel titles: the sum of the map and the mean sum over {block['n_test']} test images; "
        "the share of test images whose input gradient is exactly zero: a zero gradient is "
        "masking, not robustness", bands_text(extras, "Intervals of the sum"))


@captions("adaptive_curve")
def adaptive_curve_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"Accuracy against the max value β used at evaluation: the {block['network']} network "
        f"capped at {block['capped_layer']}, one panel per training cap, eps {block['eps']}, "
        f"{block['n_test']} test samples; solid: plain PGD (Figure 4's attack), dashed: the "
        "per-sample worst case over every attack, dotted: clean accuracy. The gap between "
        "solid and dashed is robustness that PGD only appears to find", APPROX,
        settings_text(extras), bands_text(extras))


@captions("eps_curve")
def eps_curve_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"Robust accuracy against eps (L∞) on {block['n']} test samples per seed; one row per "
        "network (max value β), one column per adversarial training; dashed: PGD as the paper "
        "ran it, solid: the per-sample worst case over the reduced suite, grey: the uncapped "
        "network's worst case for reference. A dashed curve that stays high where the solid "
        "one falls is a masked gradient", APPROX, settings_text(extras), bands_text(extras))


@captions("masking")
def masking_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"The {block['network']} network, {block['capped_layer']} trained at β="
        f"{block['trained_beta']:g} and re-capped at each evaluation β, {block['n']} test "
        "samples. Left: the share of samples whose input gradient is exactly zero, by cause "
        "(and of p_y = 1), float32 solid, float64 dashed. Right: robust accuracy under "
        f"{attack_name('pgd')} with cross-entropy (CE) in float32 and float64 and with the "
        f"logit margin in float32{' and float64' if 'pgd_margin_f64' in block else ''}, and "
        "clean accuracy", APPROX, settings_text(extras),
        bands_text(extras, "Bands (float32 only on the left)"))


@captions("landscape")
def landscape_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"The {block['network']} network, {block['capped_layer']} capped at β="
        f"{block['beta']:g}: the cross-entropy loss on a 2-D slice around one test image per "
        f"case (the first seed's images of its {block['n_test']}-image subset), one colour "
        "scale; hatched: the input gradient is exactly zero; dotted red: the eps box. The "
        "bottom row zooms on the paths of plain PGD and of the zero-gradient search",
        settings_text(extras))


@captions("cw_gap")
def cw_gap_caption(output, block: dict, extras: Extras) -> str:
    return sentences(
        f"Left: accuracy under each CW-L2 variant ({block['n']} test images per network) "
        "beside the paper's Table 1 number (black diamond). Right: the median L2 of each "
        "variant's successful examples, whiskers from the first to the third quartile; dotted: "
        "the L2 budgets " + ", ".join(f"{float(b):g}" for b in block["budgets"]),
        settings_text(extras), bands_text(extras, "Error bars"))
