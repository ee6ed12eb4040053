"""Blocks over seeds: each seed's block kept, their mean, and a 95% interval for every number.

One seed's run of an experiment gives blocks (``{"fig04": block}``) of the shapes in
:mod:`~nprelu.experiments.schema`. With several seeds the summary keeps them all under
``runs[seed]`` and, for every block key, puts beside them

- the **mean block** (``summary[key]``): the same shape, each number the mean over the seeds
  that have one (None where none has), so every reader of one seed's block reads it unchanged;
  numbers equal in every seed (sizes, betas, ``n_test``) stay as they are;
- the **interval block** (``summary["intervals"][key]``): the same shape, each number replaced
  by ``[lo, hi]``, its 95% interval: Student t over the seeds with 2 or more
  (:func:`nprelu.stats.t_interval`); with one seed, Wilson's interval over the test images for a
  proportion (:data:`PROPORTIONS`, n from the nearest ``n``/``n_test``/``n_cw`` field) and
  ``[v, v]`` otherwise;
- the method, in words (``summary["interval_methods"][key]``).

Strings, booleans and None are not averaged: they must agree across seeds (or be None in some),
else :class:`ValueError` names the path. Lists must have the same length in every seed. The
fields of :data:`PER_SEED` are a diagnosis of one network (the checklist's lines and
passed/failed checks, Figure 7's images and slices, ``cases``), not numbers to average: the
mean block keeps the first seed's, as its interval block does; ``runs`` keeps every seed's.
"""
from __future__ import annotations

from .. import stats

#: Fields holding a proportion of test images (an accuracy, a success or found rate): a number
#: at a path through one of these names gets Wilson's interval when there is one seed.
PROPORTIONS = frozenset({
    "accuracy", "standard", "robust", "success", "found_fraction", "clean", "fgsm", "pgd", "cw",
    "bpda", "bpda_relu", "bpda_identity", "transfer", "square", "margin_pgd", "worst_case",
    "zero_gradient_fraction", "zero_fraction", "at_budget", "pgd_paper", "attacks",
    "zero_grad_f32", "zero_grad_f64", "pgd_ce_f32", "pgd_margin_f32", "pgd_ce_f64"})
#: Fields whose subtree is one seed's diagnosis (module doc): the first seed's is kept.
PER_SEED = frozenset({"cases", "checklist"})
#: Where a proportion's n is found: the nearest of these fields on its path ("cw" uses n_cw).
N_FIELDS = ("n", "n_test")


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


def interval_block(blocks: list, path=(), n=None):
    """``[lo, hi]`` for every number of the seeds' ``blocks`` (module doc); other leaves as the
    mean block has them. ``path``: the field names so far; ``n``: the nearest test-image count."""
    first = blocks[0]
    if isinstance(first, dict):
        n = next((first[f] for f in N_FIELDS if is_number(first.get(f))), n)
        n_cw = first.get("n_cw") if is_number(first.get("n_cw")) else n
        return {k: first[k] if k in PER_SEED else
                interval_block([b[k] for b in blocks], path + (k,), n_cw if k == "cw" else n)
                for k in first}
    if isinstance(first, list):
        return [interval_block([b[i] for b in blocks], path, n) for i in range(len(first))]
    values = [float(v) for v in blocks if is_number(v)]
    if not values or len(values) < len([b for b in blocks if b is not None]):
        return mean_block(blocks)
    if len(blocks) >= 2:
        if len(values) < 2:
            return [values[0], values[0]]
        iv = stats.t_interval(values)
        return [iv.lo, iv.hi]
    v = values[0]
    if n and PROPORTIONS.intersection(path) and 0.0 <= v <= 1.0:
        iv = stats.wilson_interval(v, int(n))
        return [iv.lo, iv.hi]
    return [v, v]


def method(n_seeds: int) -> str:
    """How the intervals of a block over ``n_seeds`` seeds were made, in words."""
    if n_seeds >= 2:
        return f"95% Student t interval over {n_seeds} seeds"
    return ("one seed: 95% Wilson interval over the test images for proportions, "
            "no interval for other numbers")


def aggregate(runs: dict) -> dict:
    """``{key: mean block}``, ``{"intervals": {...}, "interval_methods": {...}}`` merged in one
    dict, from ``runs`` = {seed: {key: block}} (every seed holding the same keys)."""
    seeds = sorted(runs, key=int)
    keys = list(runs[seeds[0]])
    for s in seeds[1:]:
        if set(runs[s]) != set(keys):
            raise ValueError(f"seed {s} holds blocks {list(runs[s])}, seed {seeds[0]} {keys}")
    out = {k: mean_block([runs[s][k] for s in seeds], k) for k in keys}
    out["intervals"] = {k: interval_block([runs[s][k] for s in seeds]) for k in keys}
    out["interval_methods"] = {k: method(len(seeds)) for k in keys}
    return out
