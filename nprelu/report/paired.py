r"""Paired, image by image: the comparisons that matter, on the same test images.

Every accuracy of the summary is backed by its per-image outcomes (``outcomes.npz``,
:mod:`nprelu.outcomes`). Where two numbers were measured on the same images of the same seed
(a capped network and its uncapped twin under the same suite; Table 1's PGD and the suite's
worst case on one network; a network adversarially trained through the cap and its
true-gradient twin; plain CW-L2 at the paper's budget and at the CW gap's reduced budget), they
are compared image by image. In seed s, b_s images are correct under
A and not under B, c_s the reverse; over the seeds (strata) of the run::

    A - B = sum_s (b_s - c_s) / sum_s n_s,     chi^2 = (sum_s (b_s - c_s))^2 / sum_s (b_s + c_s)

the Cochran-Mantel-Haenszel test (McNemar's, combined over seeds; :func:`nprelu.stats.cmh_paired`)
with its 95% interval (:func:`nprelu.stats.cmh_interval`). Both condition on the trained
networks: they count the test images' noise, paired, and answer "on these networks"; the
per-seed t tests of the sections above count the seed-to-seed spread. Each table below is one
family: Holm's correction within it, and the symmetric rule (holds where the corrected p < 0.05
and A - B has the claimed sign, fails where p < 0.05 with the other sign, inconclusive
otherwise; :func:`nprelu.stats.decide`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import stats
from ..outcomes import OutcomeFile, values_at
from ..runner.summary import runs_of
from ..experiments import OUTPUTS
from .format import adv_label, beta_label, md_table
from .table1 import row_key

TITLE = "Per image, paired"
#: The blocks whose outcomes are compared here.
COMPARED = ("suite", "title_eps", "control", "cw_paper", "cw_gap")
METHOD = ("Where two numbers were measured on the same test images of the same seed, they are "
          "compared image by image: in seed s, b_s images are correct under A and not under B, "
          "c_s the reverse; A − B = Σ(b_s − c_s) / Σn_s, tested by Cochran–Mantel–Haenszel "
          "(McNemar's test combined over the seeds as strata) with a 95% interval (the strata's "
          "McNemar variances summed, 0.5 added to every cell). These condition on the trained "
          "networks: they count the test images' noise and answer \"on these networks\"; the "
          "per-seed t tests of the sections above count the seed-to-seed spread. Each table is "
          "one family: Holm's correction within it, and the verdict on the claim named with it "
          "(holds where the corrected p < 0.05 and A − B has the claimed sign, fails where "
          "p < 0.05 with the other sign, inconclusive otherwise).")


def load(out_dir) -> tuple[dict | None, str]:
    """``(outcomes, note)``: the per-image outcomes beside the summary in ``out_dir`` (None when
    there are none or they cannot be read, with the reason in ``note``)."""
    f = OutcomeFile(Path(out_dir))
    if not f.path.exists():
        return None, ("This summary has no per-image outcomes (`outcomes.npz`): it was run "
                      "before they were recorded. The paired tests appear once it is run again.")
    try:
        return f.read(), ""
    except ValueError as exc:
        return None, f"The per-image outcomes could not be read: {exc}."


def _strata(outcomes: dict, path_a: str, path_b: str) -> tuple[list, list, int] | None:
    """Per seed holding both, the two outcomes' hits on their common images, in one order:
    ``(strata_a, strata_b, n_seeds)``; None when no seed holds both."""
    sa, sb = [], []
    for seed in sorted(outcomes, key=lambda s: (not s.isdigit(), s)):
        a, b = outcomes[seed].get(path_a), outcomes[seed].get(path_b)
        if a is None or b is None or a.counted is not None or b.counted is not None:
            continue
        common, ia, ib = np.intersect1d(a.images, b.images, return_indices=True)
        if not len(common):
            continue
        sa.append(a.hits[ia])
        sb.append(b.hits[ib])
    return (sa, sb, len(sa)) if sa else None


def compare(outcomes: dict, pairs: list, sign: int = 1) -> list[dict]:
    """One family: per ``(label, path_a, path_b)`` of ``pairs``, the paired difference A - B,
    its interval, the CMH p, Holm's p within the family and the verdict on the claim "A - B
    has sign ``sign``"."""
    out = []
    for label, pa, pb in pairs:
        got = _strata(outcomes, pa, pb)
        if got is None:
            continue
        sa, sb, m = got
        test = stats.cmh_paired(sa, sb)
        b, c = (sum(x) for x in zip(*(stats.discordant(x, y) for x, y in zip(sa, sb))))
        out.append({"label": label, "diff": stats.cmh_interval(sa, sb), "p": test.p,
                    "n": sum(len(x) for x in sa), "seeds": m, "b": b, "c": c})
    for item, q in zip(out, stats.holm([i["p"] for i in out])):
        item["p_holm"] = q
        item["verdict"] = stats.decide(item["diff"].mean, q, sign)
    return out


def _rows(summary: dict, key: str) -> list:
    return (summary.get(key) or {}).get("rows") or []


def twin_pairs(summary: dict, key: str = "suite", measure: str = "worst_case",
               eps=None) -> list:
    """``(label, path_a, path_b)``: each capped row of block ``key`` (at ``eps`` where its rows
    have one) against its uncapped twin (the same adversarial training)."""
    rows = list(enumerate(_rows(summary, key)))
    if eps is not None:
        rows = [(i, r) for i, r in rows if abs(float(r.get("eps", eps)) - eps) < 1e-9]
    twins = {r["adv_training"]: i for i, r in rows if r["beta"] is None}
    return [(f"β={beta_label(r['beta'])}, {adv_label(r['adv_training'])}",
             f"{key}.rows[{i}].{measure}", f"{key}.rows[{twins[r['adv_training']]}].{measure}")
            for i, r in rows if r["beta"] is not None and r["adv_training"] in twins]


def pgd_pairs(summary: dict) -> list:
    """Table 1's PGD against the suite's worst case, per network of the suite."""
    return [(f"β={beta_label(r['beta'], 'none')}, {adv_label(r['adv_training'])}",
             f"suite.rows[{i}].pgd_paper", f"suite.rows[{i}].worst_case")
            for i, r in enumerate(_rows(summary, "suite"))]


def control_pairs(summary: dict) -> list:
    """Each network trained through the cap against the same network trained with the true
    gradient (the suite's row of the same beta and adversarial training)."""
    suite = {row_key(r): i for i, r in enumerate(_rows(summary, "suite"))}
    return [(f"β={beta_label(r['beta'])}, {adv_label(r['adv_training'])}",
             f"control.rows[{i}].worst_case", f"suite.rows[{suite[row_key(r)]}].worst_case")
            for i, r in enumerate(_rows(summary, "control")) if row_key(r) in suite]


def budget_pairs(summary: dict) -> list:
    """Plain CW-L2 at the paper's budget (``cw_paper``) against plain CW-L2 at the reduced
    budget (``cw_gap``), per capped network without adversarial training in both."""
    gap = {row_key(r): i for i, r in enumerate(_rows(summary, "cw_gap"))}
    return [(f"β={beta_label(r['beta'])}, {adv_label(r['adv_training'])}",
             f"cw_paper.rows[{i}].variants.cw.accuracy",
             f"cw_gap.rows[{gap[row_key(r)]}].variants.cw.accuracy")
            for i, r in enumerate(_rows(summary, "cw_paper")) if row_key(r) in gap]


def families(summary: dict, outcomes: dict) -> list[tuple]:
    """``(title, claim in words, results)`` of every family the summary's blocks allow."""
    out = []
    for measure, words in (("worst_case", "the worst case"),
                           ("worst_case_common", "the worst case over the attacks common to "
                                                 "both twins")):
        out.append((f"Capped minus uncapped twin, {words}, eps 0.1 (the title question)",
                    "capping helps", compare(outcomes, twin_pairs(summary, "suite", measure))))
    for eps in (summary.get("title_eps") or {}).get("eps") or []:
        out.append((f"Capped minus uncapped twin, the worst case, eps {eps:g}", "capping helps",
                    compare(outcomes, twin_pairs(summary, "title_eps", "worst_case", eps))))
    out.append(("Table 1's PGD minus the suite's worst case, per network",
                "PGD overestimates robustness", compare(outcomes, pgd_pairs(summary))))
    out.append(("Trained through the cap minus trained with the true gradient, the worst case",
                "training through the cap raises the worst case",
                compare(outcomes, control_pairs(summary))))
    out.append(("The paper's CW-L2 budget minus the reduced budget, plain CW, accuracy",
                "the paper's budget lowers the accuracy",
                compare(outcomes, budget_pairs(summary), sign=-1)))
    return [f for f in out if f[2]]


def disagreeing(summary: dict, outcomes: dict) -> list[str]:
    """The outcomes, among those of the blocks compared here, whose value is not the number the
    summary holds for that seed and path (outcomes of another run, say)."""
    runs = runs_of(summary, OUTPUTS)
    bad = []
    for seed, by_path in outcomes.items():
        numbers = {p: v for key, block in runs.get(seed, {}).items()
                   if key in COMPARED for p, v in values_at(block, key).items()}
        bad += [f"seed {seed}: {p}" for p, o in by_path.items()
                if p.split(".", 1)[0].split("[", 1)[0] in COMPARED and numbers.get(p) != o.value]
    return bad


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def table(results: list) -> str:
    return md_table(
        ["Comparison", "Images (seeds)", "A − B per image, points [95%]",
         "Only A right / only B right", "p (CMH)", f"p (Holm, family of {len(results)})",
         "Verdict"],
        [[r["label"], f"{r['n']} ({r['seeds']})",
          f"{100 * r['diff'].mean:+.2f} [{100 * r['diff'].lo:+.2f}, {100 * r['diff'].hi:+.2f}]",
          f"{r['b']} / {r['c']}", _p(r["p"]), _p(r["p_holm"]), r["verdict"]] for r in results])


def section(summary: dict, out_dir) -> list[str]:
    """The report's section: each family's table, or why there is none."""
    lines = [f"## {TITLE}", ""]
    outcomes, note = load(out_dir)
    if outcomes is None:
        return lines + [note, ""]
    problems = disagreeing(summary, outcomes)
    if problems:
        return lines + [f"The per-image outcomes beside this summary do not give its numbers "
                        f"({len(problems)} disagree, e.g. {problems[0]}): no paired test is "
                        "made from them.", ""]
    fams = families(summary, outcomes)
    if not fams:
        return lines + ["No two numbers of this summary share their test images.", ""]
    lines += [METHOD, ""]
    for title, claim, results in fams:
        lines += [f"**{title}** (claim: {claim})", "", table(results), ""]
    return lines
