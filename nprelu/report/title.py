"""The paper's title question, "Is ReLU adversarially robust?", answered from the one-budget
suite (``suite`` block), network by network, on three measures that must agree.

Each capped network is compared with its uncapped twin (same adversarial training), paired per
seed, on each measure M of :data:`MEASURES`:

    d_s = M(capped, seed s) - M(uncapped, seed s),

- the worst case (correct clean and under every attack of the suite);
- the strongest single attack: per seed, the lowest robust accuracy of any one attack (a union
  over more attacks is lower by construction, and a capped network faces four different
  gradients where on its twin every surrogate run is the true-gradient attack again);
- the worst case over the attacks that are the same on both twins (``worst_case_common``:
  true-gradient APGD-CE/DLR/T, margin PGD, Square, transfer from the uncapped twin), where the
  summary has it (it needs the per-image outcomes; summaries before it lack the field).

Per measure: the mean of d_s and its 95% Student t interval over the seeds
(:func:`.intervals.difference`), its paired t test, and the capped networks as one family,
Holm-corrected together (:mod:`.families`; one seed: the two-proportion z test over the test
images), each comparison "helps" (holds), "hurts" (fails) or inconclusive. A network's verdict
is "capping helps" or "capping hurts" only where every measure says so, "no difference shown"
where none shows one, and "depends on the attack mix" otherwise (the measures disagree; each
difference is printed). Requiring every measure to reject is an intersection-union test: no
correction across the measures is needed.
"""
from __future__ import annotations

import math

from .format import adv_label, beta_label, md_table, num, pct
from .families import Family, significance
from .intervals import diff_text, difference, seed_blocks
from .table1 import row_key

VERDICT_WORDS = {"holds": "capping helps", "fails": "capping hurts",
                 "inconclusive": "no difference shown (inconclusive)",
                 "mixed": "depends on the attack mix"}
#: The measures a twin comparison is judged on, by key: what the report calls them.
MEASURES = {"worst_case": "worst case", "strongest": "strongest single attack",
            "worst_case_common": "worst case over the attacks common to both twins"}
#: The measure that is present only in summaries that recorded it.
OPTIONAL = "worst_case_common"


def strongest_single(row: dict) -> float:
    """The lowest robust accuracy of any one attack on this row (NaN when none has one)."""
    vals = [num(v) for v in (row.get("attacks") or {}).values()]
    vals = [v for v in vals if math.isfinite(v)]
    return min(vals) if vals else float("nan")


def measure(row: dict | None, key: str) -> float:
    """Measure ``key`` of :data:`MEASURES` on one seed's ``row`` (NaN where it has none)."""
    if row is None:
        return float("nan")
    return strongest_single(row) if key == "strongest" else num(row.get(key))


def measures_of(per_seed: list) -> list[str]:
    """The measures every row of every seed has: all but :data:`OPTIONAL` where one lacks it."""
    has = all(OPTIONAL in r for rows in per_seed for r in rows)
    return [m for m in MEASURES if m != OPTIONAL or has]


def combine(verdicts: list[str]) -> str:
    """The network's verdict (:data:`VERDICT_WORDS` key) from its measures' verdicts."""
    return verdicts[0] if len(set(verdicts)) == 1 else "mixed"


def twin_verdicts(rows: list, seed_rows: list | None = None) -> list[dict]:
    """Per capped network with an uncapped twin (same adversarial training): ``{"row", "twin",
    "measures": {key: {"a", "b" (per seed), "diffs", "diff" (Interval), "verdict" (a key of
    VERDICT_WORDS), "p", "p_holm"}}, "verdict"}`` (module doc), and the worst case's ``diffs``,
    ``diff``, ``p``, ``p_holm`` and ``family`` (its size) at the top level. ``seed_rows``: one
    list of rows per seed (None: ``rows`` is the one seed)."""
    per_seed = seed_rows or [rows]
    keys = measures_of(per_seed)
    twins = {t["adv_training"]: t for t in rows if t["beta"] is None}
    pairs = [(r, twins[r["adv_training"]]) for r in rows
             if r["beta"] is not None and r["adv_training"] in twins]
    out = [{"row": r, "twin": t, "measures": {}} for r, t in pairs]
    for key in keys:
        fam = Family(f"Is ReLU adversarially robust? (capped minus uncapped twin, {MEASURES[key]})")
        for v in out:
            a = [measure(_find(rs, v["row"]), key) for rs in per_seed]
            b = [measure(_find(rs, v["twin"]), key) for rs in per_seed]
            v["measures"][key] = {"a": a, "b": b, "diffs": [x - y for x, y in zip(a, b)],
                                  "diff": difference(a, b, v["row"].get("n")),
                                  "item": fam.add(significance(a, b, v["row"].get("n")), 1)}
        fam.settle([v["measures"][key] for v in out])
    for v in out:
        worst = v["measures"]["worst_case"]
        v.update({k: worst[k] for k in ("diffs", "diff", "p", "p_holm", "family")})
        v["verdict"] = VERDICT_WORDS[combine([m["verdict"] for m in v["measures"].values()])]
    return out


def twin_difference(summary: dict, beta, adv: str) -> str:
    """"; under the suite's worst case, β=0.01 minus the uncapped twin: -30.03 [..] points
    (strongest single attack: ...): capping hurts" for the capped network (``beta``, trained with ``adv``), paired per seed as
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
    others = "; ".join(f"{MEASURES[k]}: {diff_text(m['diff'])}"
                       for k, m in v["measures"].items() if k != "worst_case")
    return (f"; under the suite's worst case, β={beta_label(v['row']['beta'])} minus the "
            f"uncapped twin: {diff_text(v['diff'])}" + (f" ({others})" if others else "")
            + f": **{v['verdict']}**")


def _find(rows: list, like: dict) -> dict | None:
    return next((r for r in rows if row_key(r) == row_key(like)), None)


def verdict_counts(verdicts: list) -> dict:
    """How many capped networks capping helps, hurts, shows no difference for, or where the
    verdict depends on the attack mix (keys: :data:`VERDICT_WORDS`' values, in its order)."""
    return {v: sum(x["verdict"] == v for x in verdicts) for v in VERDICT_WORDS.values()}


def measure_cell(m: dict) -> str:
    """"-0.80 [-2.70, +1.10] (Holm 0.412)": one measure's paired difference in points."""
    return f"{diff_text(m['diff'], unit='')} (Holm {_p(m['p_holm'])})"


def verdict_table(verdicts: list) -> str:
    """One row per capped network: its worst case and its twin's, the worst case's per-seed
    differences, mean [95% interval] and p (Holm), the same difference on every other measure
    the summary has, and the verdict (module doc)."""
    size = verdicts[0]["family"] if verdicts else 0
    others = [k for k in (verdicts[0]["measures"] if verdicts else {}) if k != "worst_case"]
    header = (["Max val.", "Adv. training", "Worst case %", "Uncapped twin %",
               "Capped − uncapped per seed (points)", "Mean [95% interval] (points)",
               f"p (Holm, family of {size})"]
              + [f"{MEASURES[k].capitalize()}: capped − uncapped (points)" for k in others]
              + ["Verdict"])
    return md_table(header, [[beta_label(v["row"]["beta"]), adv_label(v["row"]["adv_training"]),
                              pct(v["row"]["worst_case"], 1), pct(v["twin"]["worst_case"], 1),
                              ", ".join(f"{100.0 * d:+.1f}" for d in v["diffs"]),
                              diff_text(v["diff"], unit=""),
                              f"{_p(v['p'])} ({_p(v['p_holm'])})"]
                             + [measure_cell(v["measures"][k]) for k in others] + [v["verdict"]]
                             for v in verdicts])


def _p(p: float) -> str:
    return "—" if p != p else "<0.001" if p < 0.001 else f"{p:.3f}"


def title_answer(verdicts: list, n_seeds: int) -> str:
    """The paragraph answering "Is ReLU adversarially robust?" from the verdicts' counts only."""
    helps, hurts, none_, mixed = verdict_counts(verdicts).values()
    total = helps + hurts + none_ + mixed
    if not total:
        return "No capped network has an uncapped twin here: the question stays open."
    keys = list(verdicts[0]["measures"])
    on = ", ".join(f"the {MEASURES[k]}" for k in keys[:-1]) + f" and the {MEASURES[keys[-1]]}"
    how = (f"paired over {n_seeds} seeds (t test of the differences, Holm over the {total} "
           f"comparisons of each measure)" if n_seeds > 1
           else f"on one seed (two-proportion z test, Holm over the {total} comparisons of each "
                f"measure)")
    text = (f"_Is ReLU adversarially robust?_ Under one attack suite with one budget, of "
            f"{total} capped networks compared with their uncapped twins {how}, on {on} "
            f"(a verdict only where they agree), capping helps in {helps}, hurts in {hurts}, "
            f"shows no difference in {none_} and depends on the attack mix in {mixed}. ")
    if helps > total - helps:
        text += ("Most capped networks keep more images than their uncapped twins on every "
                 "measure: by these measures capping makes these networks more robust.")
    elif hurts > total - hurts:
        text += ("Most capped networks keep fewer images than their uncapped twins on every "
                 "measure: by these measures capping makes these networks less robust.")
    elif helps == 0 and hurts == 0:
        text += ("No capped network is shown more or less robust than its uncapped twin on "
                 "every measure: these numbers do not show that capping changes robustness.")
    else:
        text += ("Neither verdict holds for most of them: these numbers do not show that "
                 "capping makes these networks more robust in general.")
    return text
