"""Blocks over seeds: each seed's block kept, their mean, and a 95% interval for every number.

One seed's run of an experiment gives blocks (``{"fig04": block}``) of the shapes in
:mod:`~nprelu.runner.schema`. With several seeds the summary keeps them all under
``runs[seed]`` and, for every block key, puts beside them

- the **mean block** (``summary[key]``): the same shape, each number the mean over the seeds
  that have one (None where none has), so every reader of one seed's block reads it unchanged;
  numbers equal in every seed (sizes, betas, ``n_test``) stay as they are;
- the **interval block** (``summary["intervals"][key]``): the same shape, each number replaced
  by ``[lo, hi]``, its 95% interval, by what the number is (:data:`FIELDS`, the one table of
  field kinds; docs/statistics.md): a proportion of n test images on the logit scale over the
  seeds with the binomial image term (:func:`nprelu.stats.proportion_interval`; n from the
  nearest ``n``/``n_test`` field, ``n_cw`` for ``cw``; the same images in every seed when n is
  the whole test set), a non-negative number on the log scale
  (:func:`nprelu.stats.positive_interval`), a signed one by Student t; with one seed, Wilson's
  interval over the test images for a proportion and ``[v, v]`` otherwise. Every interval stays
  in its quantity's range. A number missing (None) in some seeds rests on the others;
- the method, in words, with the seeds actually present and the test images
  (``summary["interval_methods"][key]``).

Strings, booleans and None are not averaged: they must agree across seeds (or be None in some),
else :class:`ValueError` names the path. Lists must have the same length in every seed. The
fields of :data:`PER_SEED` are a diagnosis of one network (the checklist's lines and
passed/failed checks, Figure 7's images and slices, ``cases``), not numbers to average: the
mean block keeps the first seed's, as its interval block does; ``runs`` keeps every seed's.
"""
from __future__ import annotations

from .. import stats

#: What each field IS, by name: the nearest name on a number's path found here decides its
#: interval (so ``fig02.accuracy.HL1.0.01`` is an accuracy, ``fig01.uncapped.l2`` a distance).
#: "proportion": a fraction of the n test images (n: the nearest ``n``/``n_test``, or the named
#: field); "rate": a fraction of something other than the test images (unknown n); "positive":
#: a non-negative quantity (distance, norm, sum, count, steps); anything else is "signed".
FIELDS = {
    **{f: ("proportion", "n") for f in (
        "accuracy", "standard", "robust", "found_fraction", "clean", "fgsm", "pgd", "bpda",
        "bpda_relu", "bpda_identity", "transfer", "square", "margin_pgd", "worst_case",
        "worst_case_common", "zero_gradient_fraction", "at_budget", "pgd_paper",
        "zero_grad_f32", "zero_grad_f64", "pgd_ce_f32", "pgd_margin_f32", "pgd_ce_f64",
        "pgd_margin_f64", "uncapped", "robust_accuracy", "white_box_robust_accuracy")},
    "cw": ("proportion", "n_cw"),
    "attacks": ("proportion", "n_attacks"),   # the suite's full run on its first n_attacks
    "success": ("rate", None),          # of the correctly classified images
    "zero_fraction": ("proportion", "n"),   # Figure 11: of the test images, map sum 0
    **{f: ("positive", None) for f in (
        "l2", "linf", "distance", "distance_censored", "distance_common", "mean_steps",
        "l2_mean", "l2_median", "l2_q1", "l2_q3", "cw_mean_l2", "sums", "mean_sum_test",
        "logit_gap", "maps", "image", "n_common", "n_correct", "n_search_failed",
        "n_search_found", "n_zero_at_x", "label", "sample_index")},
}
#: Fields whose subtree is one seed's diagnosis (module doc): the first seed's is kept.
PER_SEED = frozenset({"cases", "checklist"})
#: Where a proportion's n is found: the nearest of these fields on its path ("cw" uses n_cw).
N_FIELDS = ("n", "n_test")
#: The whole MNIST test set: evaluated on it, every seed sees the same images.
N_TEST_SET = 10_000


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def mean_block(blocks: list, path: str = "block"):
    """The mean of equal-shaped ``blocks`` (one per seed), as the module doc says."""
    first = blocks[0]
    if isinstance(first, dict):
        keys = list(first)
        for b in blocks[1:]:
            if not isinstance(b, dict) or set(b) != set(keys):
                raise ValueError(f"{path}: the seeds' blocks have different fields")
        return {k: first[k] if k in PER_SEED else mean_block([b[k] for b in blocks], f"{path}.{k}")
                for k in keys}
    if isinstance(first, list):
        if any(not isinstance(b, list) or len(b) != len(first) for b in blocks):
            raise ValueError(f"{path}: the seeds' lists have different lengths")
        return [mean_block([b[i] for b in blocks], f"{path}[{i}]") for i in range(len(first))]
    values = [b for b in blocks if b is not None]
    if not values:
        return None
    if all(is_number(v) for v in values):
        if all(v == values[0] for v in values):
            return values[0]
        return sum(float(v) for v in values) / len(values)
    if any(v != values[0] for v in values):
        raise ValueError(f"{path}: the seeds disagree ({values[0]!r} and others)")
    return values[0]


def kind_of(path) -> tuple:
    """``(kind, n field)`` of the number at ``path`` (:data:`FIELDS`; "signed" if none)."""
    for name in reversed(path):
        if name in FIELDS:
            return FIELDS[name]
    return ("signed", None)


def _interval(values: list, n_seeds: int, path, ns: dict, tally: list):
    """``[lo, hi]`` of one number from the values of the seeds that have it."""
    kind, n_field = kind_of(path)
    n = ns.get(n_field)
    n = int(n) if n else None
    m = len(values)
    if m == 1:
        v = values[0]
        if n_seeds == 1 and kind == "proportion" and n and 0.0 <= v <= 1.0:
            iv = stats.wilson_interval(v, n)
            tally.append(("wilson", 1, n))
            return [iv.lo, iv.hi]
        tally.append(("none", 1, None))
        return [v, v]
    if kind in ("proportion", "rate") and all(0.0 <= v <= 1.0 for v in values):
        n = n if kind == "proportion" else None
        iv = stats.proportion_interval(values, n, same_images=n == N_TEST_SET)
        tally.append((kind, m, n))
    elif kind == "positive" and all(v >= 0.0 for v in values):
        iv = stats.positive_interval(values)
        tally.append(("positive", m, None))
    else:
        iv = stats.t_interval(values)
        tally.append(("signed", m, None))
    return [iv.lo, iv.hi]


def interval_block(blocks: list, path=(), ns=None, tally=None):
    """``[lo, hi]`` for every number of the seeds' ``blocks`` (module doc); other leaves as the
    mean block has them. ``path``: the field names so far; ``ns``: the nearest test-image
    counts by field; ``tally``: a list that receives ``(method, seeds, n)`` per interval."""
    ns = dict(ns or {})
    tally = [] if tally is None else tally
    first = blocks[0]
    if isinstance(first, dict):
        n = next((first[f] for f in N_FIELDS if is_number(first.get(f))), None)
        if n is not None:
            ns["n"] = n
        ns["n_cw"] = first["n_cw"] if is_number(first.get("n_cw")) else ns.get("n_cw", ns.get("n"))
        ns["n_attacks"] = (first["n_attacks"] if is_number(first.get("n_attacks"))
                           else ns.get("n_attacks", ns.get("n")))
        return {k: first[k] if k in PER_SEED else
                interval_block([b[k] for b in blocks], path + (k,), ns, tally)
                for k in first}
    if isinstance(first, list):
        return [interval_block([b[i] for b in blocks], path, ns, tally) for i in range(len(first))]
    values = [float(v) for v in blocks if is_number(v)]
    if not values or len(values) < len([b for b in blocks if b is not None]):
        return mean_block(blocks)
    if (all(v == values[0] for v in values) and len(values) == len(blocks) > 1
            and kind_of(path)[0] == "signed"):
        return [values[0], values[0]]               # equal in every seed: a setting, a size
    return _interval(values, len(blocks), path, ns, tally)


_WORDS = {
    "proportion": "proportions of {n} test images: logit scale over the seeds, the "
                  "binomial image term included (Clopper-Pearson on the pooled counts where "
                  "every seed is 0 or 1)",
    "rate": "rates of other denominators: logit scale over the seeds",
    "positive": "non-negative numbers: log scale, t over the seeds (raw and cut at 0 where a "
                "seed is 0)",
    "signed": "other numbers: Student t over the seeds",
}


def method(n_seeds: int, tally=None) -> str:
    """How the intervals of a block over ``n_seeds`` seeds were made, in words: the methods
    used, the seeds actually present and the test images (``tally`` from
    :func:`interval_block`)."""
    if n_seeds < 2:
        return ("one seed: 95% Wilson interval over the test images for proportions, "
                "no interval for other numbers")
    tally = tally or []
    fewer = {}
    for _, m, _ in tally:
        if m < n_seeds:
            fewer[m] = fewer.get(m, 0) + 1
    head = f"95% intervals over {n_seeds} seeds"
    if fewer:
        head += " (" + ", ".join(f"{m} seed{'s' * (m != 1)} for {c} number{'s' * (c != 1)}"
                                 for m, c in sorted(fewer.items())) + ", where a seed has none)"
    parts = []
    ns = sorted({n for k, m, n in tally if k == "proportion" and n})
    if any(k == "proportion" for k, _, _ in tally):
        sizes = " or ".join(f"{n} ({'the same' if n == N_TEST_SET else 'a fresh draw'} in every "
                            f"seed)".replace("a fresh draw in every", "a fresh draw per")
                            for n in ns) or "n"
        parts.append(_WORDS["proportion"].format(n=sizes))
    parts += [_WORDS[k] for k in ("rate", "positive", "signed") if any(t[0] == k for t in tally)]
    return head + (": " + "; ".join(parts) if parts else "")


def aggregate(runs: dict) -> dict:
    """``{key: mean block}``, ``{"intervals": {...}, "interval_methods": {...}}`` merged in one
    dict, from ``runs`` = {seed: {key: block}} (every seed holding the same keys)."""
    seeds = sorted(runs, key=int)
    keys = list(runs[seeds[0]])
    for s in seeds[1:]:
        if set(runs[s]) != set(keys):
            raise ValueError(f"seed {s} holds blocks {list(runs[s])}, seed {seeds[0]} {keys}")
    out = {k: mean_block([runs[s][k] for s in seeds], k) for k in keys}
    out["intervals"], out["interval_methods"] = {}, {}
    for k in keys:
        tally = []
        out["intervals"][k] = interval_block([runs[s][k] for s in seeds], tally=tally)
        out["interval_methods"][k] = method(len(seeds), tally)
    return out


def out_of_range(summary: dict) -> list[str]:
    """The paths of ``summary["intervals"]`` whose interval leaves its quantity's range
    (proportions and rates [0, 1], non-negative numbers [0, inf)), or holds lo > hi."""
    bad = []

    def walk(iv, path, where):
        if isinstance(iv, dict):
            for k, v in iv.items():
                walk(v, path + (k,), f"{where}.{k}")
        elif isinstance(iv, list) and len(iv) == 2 and all(is_number(v) for v in iv):
            kind = kind_of(path)[0]
            lo, hi = iv
            if (lo > hi or (kind in ("proportion", "rate") and (lo < 0.0 or hi > 1.0))
                    or (kind == "positive" and lo < 0.0)):
                bad.append(f"{where} [{lo:.4g}, {hi:.4g}] ({kind})")
        elif isinstance(iv, list):
            for i, v in enumerate(iv):
                walk(v, path, f"{where}[{i}]")
    for key, block in (summary.get("intervals") or {}).items():
        if isinstance(block, dict) or isinstance(block, list):
            walk(block if not isinstance(block, dict) else
                 {k: v for k, v in block.items() if k not in PER_SEED}, (key,), key)
    return bad


def reaggregate(summary: dict) -> dict:
    """The summary with its mean blocks, ``intervals`` and ``interval_methods`` recomputed from
    ``runs`` (every other field kept): the committed results under new interval methods,
    without running an experiment again. A summary without ``runs`` is returned unchanged."""
    runs = summary.get("runs")
    if not runs:
        return dict(summary)
    fresh = aggregate(runs)
    out = dict(summary)
    for key, value in fresh.items():
        out[key] = value
    return out


def unbacked(runs: dict, stored: dict) -> list[str]:
    """What the per-image outcomes do not back: every accuracy or rate (a "proportion" or
    "rate" field, :data:`FIELDS`) of each seed's blocks in ``runs`` ({seed: {key: block}}) that
    has no outcome in ``stored`` ({seed: {path: Outcome}}, ``outcomes.OutcomeFile.read``), or
    whose outcome's value is not exactly the number; and every outcome with no such number.
    Empty when every number is recomputed from its images."""
    from ..outcomes import values_at   # a leaf: the runner reads what it wrote

    problems = []
    for seed, blocks in runs.items():
        mine = stored.get(str(seed), {})
        numbers = {}
        for key, block in blocks.items():
            for path, v in values_at(block, key).items():
                names = tuple(p for p in path.replace("[", ".[").split(".") if p[:1] != "[")
                if any(n in PER_SEED for n in names) or not is_number(v) and v is not None:
                    continue
                if kind_of(names)[0] in ("proportion", "rate"):
                    numbers[path] = v
        for path, v in numbers.items():
            o = mine.get(path)
            if o is None:
                if v is not None:
                    problems.append(f"seed {seed}: {path} = {v} has no per-image outcome")
            elif o.value != v:
                problems.append(f"seed {seed}: {path} = {v}, its outcome gives {o.value}")
        problems += [f"seed {seed}: outcome {p} backs no number" for p in mine
                     if p not in numbers]
    return problems
