"""The paper's title question, "Is ReLU adversarially robust?", answered from the symmetric
worst case of the one-budget suite (``suite`` block), network by network.

Each capped network's worst case is compared with its uncapped twin's (same adversarial
training), paired per seed:

    d_s = worst_case(capped, seed s) - worst_case(uncapped, seed s),

its mean and 95% Student t interval over the seeds (:func:`.intervals.difference`), and its
paired t test; the capped networks form one family, Holm-corrected together (:mod:`.families`;
one seed: the two-proportion z test over the test images). "capping helps" where the corrected
p < 0.05 and the difference is above 0, "capping hurts" where it is below, otherwise "no
difference shown (inconclusive)".
"""
from __future__ import annotations

from .format import adv_label, beta_label, md_table, num, pct
from .families import Family, significance
from .intervals import diff_text, difference, seed_blocks
from .table1 import row_key

VERDICT_WORDS = {"holds": "capping helps", "fails": "capping hurts",
                 "inconclusive": "no difference shown (inconclusive)"}


def twin_verdicts(rows: list, seed_rows: list | None = None) -> list[dict]:
    """Per capped network, its worst case against its uncapped twin's (same adversarial
    training): ``{"row", "twin", "diffs" (per seed), "diff" (Interval), "verdict"}``, the
    verdict one of :data:`VERDICT_WORDS`' values. ``seed_rows``: one list of rows per seed
    (None: ``rows`` is the one seed)."""
    per_seed = seed_rows or [rows]
    out = []
    fam = Family("Is ReLU adversarially robust? (capped minus uncapped twin, worst case)")
    twins = {t["adv_training"]: t for t in rows if t["beta"] is None}
    for r in (r for r in rows if r["beta"] is not None and r["adv_training"] in twins):
        twin = twins[r["adv_training"]]
        a = [_worst(rs, r) for rs in per_seed]
        b = [_worst(rs, twin) for rs in per_seed]
        out.append({"row": r, "twin": twin, "diffs": [x - y for x, y in zip(a, b)],
                    "diff": difference(a, b, r.get("n")),
                    "item": fam.add(significance(a, b, r.get("n")), 1)})
    fam.judge()
    for v in out:
        item = v["item"]
        v["verdict"] = VERDICT_WORDS[item["verdict"] if item else "inconclusive"]
        v["p"] = item["test"].p if item else float("nan")
        v["p_holm"] = item["p_holm"] if item else float("nan")
        v["family"] = fam.size
    return out


def twin_difference(summary: dict, beta, adv: str) -> str:
    """"; under the suite's worst case, β=0.01 minus the uncapped twin: -30.03 [..] points:
    capping hurts" for the capped network (``beta``, trained with ``adv``), paired per seed as
    in the title question's table; "" when the summary has no suite block or no such row.
    A pointer, not a claim-level verdict (no arrow), so the report's counts stay the paper's."""
    if not summary.get("suite"):
        return ""
    seeds = [b["rows"] for b in seed_blocks(summary, "suite")]
    want = row_key({"beta": beta, "adv_training": adv})
    v = next((v for v in twin_verdicts(summary["suite"]["rows"], seeds)
              if row_key(v["row"]) == want), None)
    if v is None:
        return ""
    return (f"; under the suite's worst case, β={beta_label(v['row']['beta'])} minus the "
            f"uncapped twin: {diff_text(v['diff'])}: **{v['verdict']}**")


def _worst(rows: list, like: dict) -> float:
    row = next((r for r in rows if row_key(r) == row_key(like)), None)
    return num(row["worst_case"]) if row else float("nan")


def verdict_counts(verdicts: list) -> dict:
    """How many capped networks capping helps, hurts, or shows no difference for."""
    return {v: sum(x["verdict"] == v for x in verdicts) for v in VERDICT_WORDS.values()}


def verdict_table(verdicts: list) -> str:
    size = verdicts[0]["family"] if verdicts else 0
    header = ["Max val.", "Adv. training", "Worst case %", "Uncapped twin %",
              "Capped − uncapped per seed (points)", "Mean [95% interval] (points)",
              f"p (Holm, family of {size})", "Verdict"]
    return md_table(header, [[beta_label(v["row"]["beta"]), adv_label(v["row"]["adv_training"]),
                              pct(v["row"]["worst_case"], 1), pct(v["twin"]["worst_case"], 1),
                              ", ".join(f"{100.0 * d:+.1f}" for d in v["diffs"]),
                              diff_text(v["diff"], unit=""),
                              f"{_p(v['p'])} ({_p(v['p_holm'])})", v["verdict"]]
                             for v in verdicts])


def _p(p: float) -> str:
    return "—" if p != p else "<0.001" if p < 0.001 else f"{p:.3f}"


def title_answer(verdicts: list, n_seeds: int) -> str:
    """The paragraph answering "Is ReLU adversarially robust?" from the verdicts' counts only."""
    helps, hurts, none_ = verdict_counts(verdicts).values()
    total = helps + hurts + none_
    if not total:
        return "No capped network has an uncapped twin here: the question stays open."
    how = (f"paired over {n_seeds} seeds (t test of the differences, Holm over the {total} "
           f"comparisons)" if n_seeds > 1
           else f"on one seed (two-proportion z test, Holm over the {total} comparisons)")
    text = (f"_Is ReLU adversarially robust?_ Under one attack suite with one budget, of "
            f"{total} capped networks compared with their uncapped twins {how}, capping helps "
            f"in {helps}, hurts in {hurts} and shows no difference in {none_}. ")
    if helps > hurts + none_:
        text += ("Most capped networks keep more images under the worst case than their "
                 "uncapped twins: by this measure capping makes these networks more robust.")
    elif hurts > helps + none_:
        text += ("Most capped networks keep fewer images under the worst case than their "
                 "uncapped twins: by this measure capping makes these networks less robust.")
    elif helps == 0 and hurts == 0:
        text += ("No capped network is shown more or less robust than its uncapped twin: "
                 "these numbers do not show that capping changes robustness.")
    else:
        text += ("Neither verdict holds for most of them: these numbers do not show that "
                 "capping makes these networks more robust in general.")
    return text
