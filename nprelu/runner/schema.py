"""The shape of ``summary.json``, defined once and checked when a summary is loaded.

``summary.json`` holds ``meta`` (how the run was made) and one block per finished output of the
registry (``"fig04"``, ``"table1"``...): the mean over the run's seeds, of the same shape as one
seed's block. Beside them (:data:`SEED_PARTS`), ``runs`` keeps every seed's blocks and
``intervals`` and ``interval_methods`` the 95% interval of every number and how it was made.
Summaries written before seeds were a run dimension have none of the three: one seed,
``meta.seed``. Each output's ``kind`` names its schema here, so a
reader (plots, report) can index a block directly: every field below is present, with the type
given. A summary from an older version, or one that is not ours, fails :func:`check` with a
:class:`SummaryError` naming the first field that is missing or of the wrong type.

A schema is written with these pieces: a type (``str``, ``int``, ``NUM`` for int or float,
``dict`` for any object), ``[spec]`` (a list of spec), ``{field: spec}`` (an object with at
least those fields), ``Map(spec)`` (an object whose values are all spec, keys free: a cap, a
layer), ``Opt(spec)`` (spec or null) and, as a field of an object, ``MayLack(spec)`` (spec, or
no such field: what older summaries lack).
"""
from __future__ import annotations

from dataclasses import dataclass


class SummaryError(ValueError):
    """A summary whose shape is not the one this version writes; the message names the field."""


NUM = (int, float)


@dataclass(frozen=True)
class Map:
    values: object


@dataclass(frozen=True)
class Opt:
    spec: object


@dataclass(frozen=True)
class MayLack:
    spec: object


NUMS = [NUM]


def LAYER_BETA_CURVES(fields, newer=()):  # noqa: N802 (a schema, like the constants)
    """{capped layers: {initial beta: {field: [number or null per eval beta]}}}; ``newer``
    fields may be missing (summaries written before them)."""
    return Map(Map({**{f: [Opt(NUM)] for f in fields},
                    **{f: MayLack([Opt(NUM)]) for f in newer}}))



SWEEP_HEAD = {"network": str, "sizes": [int], "betas_eval": NUMS, "initial_betas": NUMS,
              "capped_layers": [str], "n_test": int}
TABLE1_ROW = {"beta": Opt(NUM), "adv_training": str, "n_cw": int, "n": MayLack(int),
              **{m: NUM for m in ("clean", "fgsm", "pgd", "cw")}}

#: One image of Figure 7 from data (``experiments/landscape.py``), or null where none qualifies.
LANDSCAPE_CASE = {"case": str, "index": int, "label": int, "selection": str, "u": str,
                  "a": NUMS, "b": NUMS, "loss": [NUMS], "plateau": [[bool]],
                  "plateau_fraction": NUM, "pgd_path": [NUMS], "pgd_success": bool,
                  "pgd_batch_success": bool, "zero_path": [NUMS], "zero_found": bool,
                  "zero_steps": int, "zero_batch_found": bool, "zero_batch_steps": int}

#: One CW-L2 run's measures (``experiments/cw_gap.cw_measures``).
CW_MEASURES = {"accuracy": NUM, "at_budget": NUMS,
               **{k: Opt(NUM) for k in ("l2_median", "l2_mean", "l2_q1", "l2_q3")}}

#: One schema per output kind (see ``nprelu.experiments.Output``).
SCHEMAS = {
    "growth": {"betas": NUMS, "capped_layers": [str], "uncapped": {"linf": NUMS, "l2": NUMS},
               "capped": Map(Map({"linf": NUMS, "l2": NUMS}))},
    "accuracy": {"betas": NUMS, "capped_layers": [str], "uncapped": NUM,
                 "accuracy": Map(Map(NUM)), "n_test": MayLack(int)},
    "sigmoid": {"c": NUMS, "z": NUMS, "sigmoid": Map(NUMS)},
    "pgd_sweep": {**SWEEP_HEAD, "curves": LAYER_BETA_CURVES(("standard", "robust", "success"))},
    "zero_gradient": {**SWEEP_HEAD, "max_steps": int,
                      "curves": LAYER_BETA_CURVES(
                          ("distance", "found_fraction", "mean_steps"),
                          newer=("distance_censored", "distance_common", "n_common"))},
    "sensitivity": {"betas": NUMS, "sample_index": int, "label": int, "image": NUMS,
                    "maps": [NUMS], "sums": NUMS, "mean_sum_test": NUMS, "n_test": int,
                    "zero_fraction": MayLack(NUMS)},
    "table1": [{**TABLE1_ROW, "cw_mean_l2": Opt(NUM)}],
    # Table 1 over seeds as summaries before seeds were a run dimension wrote it (read only:
    # schema.LEGACY_BLOCKS); every experiment now keeps each seed's blocks in ``runs``.
    "table1_seeds": {"n_seeds": int, "rows": [{**TABLE1_ROW, **{
        f"{m}_std": NUM for m in ("clean", "fgsm", "pgd", "cw")}}]},
    "adaptive": {"eps": NUM, "rows": [{
        "beta": Opt(NUM), "adv_training": str, "n": int, "bpda_relu": Opt(NUM),
        "bpda_identity": Opt(NUM), **{k: NUM for k in (
            "clean", "pgd", "fgsm", "bpda", "transfer", "square", "margin_pgd", "worst_case",
            "zero_gradient_fraction")}}],
        "checklist": [{"beta": Opt(NUM), "adv_training": str, "n": int, "lines": [str],
                       "checks": [{"name": str, "passed": bool, "warning": Opt(str),
                                   "numbers": dict}]}]},
    "cw_gap": {"n": int, "budgets": NUMS, "variants": [str], "rows": [{
        "beta": Opt(NUM), "adv_training": str, "paper_cw": Opt(NUM),
        "variants": Map({"accuracy": NUM, "at_budget": NUMS, **{
            k: Opt(NUM) for k in ("l2_median", "l2_mean", "l2_q1", "l2_q3")}})}]},
    # CW-L2 at the paper's budget (experiments/cw_paper.py): cw_gap's rows, two gradients
    "cw_paper": {"n": int, "search_steps": int, "max_iter": int, "budgets": NUMS,
                 "variants": [str], "rows": [{
                     "beta": NUM, "adv_training": str, "paper_cw": Opt(NUM),
                     "variants": Map(CW_MEASURES)}]},
    "adaptive_curve": {"network": str, "sizes": [int], "capped_layer": str, "betas_eval": NUMS,
                       "initial_betas": NUMS, "n_test": int, "eps": NUM,
                       "curves": Map({"pgd": NUMS, "worst_case": NUMS, "standard": NUMS})},
    "suite": {"eps": NUM, "attacks": [str], "rows": [{
        "beta": Opt(NUM), "adv_training": str, "n": int, "clean": NUM, "pgd_paper": NUM,
        "worst_case": NUM, "worst_case_common": MayLack(NUM), "n_attacks": MayLack(int),
        "attacks": Map(NUM)}]},
    "control": {"eps": NUM, "surrogate": str, "rows": [{
        "beta": NUM, "adv_training": str, "adv_gradient": str, "n": int,
        **{k: NUM for k in ("clean", "pgd_paper", "worst_case", "worst_case_common")}}]},
    "title_eps": {"eps": NUMS, "attacks": [str], "rows": [{
        "eps": NUM, "beta": Opt(NUM), "adv_training": str, "n": int, "clean": NUM,
        "worst_case": NUM, "worst_case_common": NUM, "n_attacks": int, "attacks": Map(NUM)}]},
    "eps_curve": {"eps": NUMS, "n": int, "networks": [{
        "beta": Opt(NUM), "adv_training": str, "pgd_paper": NUMS, "worst_case": NUMS}]},
    "masking": {"network": str, "sizes": [int], "capped_layer": str, "trained_beta": NUM,
                "betas_eval": NUMS, "n": int, "n_test": int,
                **{f"zero_grad_{t}": {c: NUMS for c in ("cap", "softmax", "both", "any",
                                                        "saturated")}
                   for t in ("f32", "f64")},
                **{k: NUMS for k in ("pgd_ce_f32", "pgd_margin_f32", "pgd_ce_f64", "standard")},
                "pgd_margin_f64": MayLack(NUMS),     # measured since issue 24
                "logit_gap": [Opt(NUM)]},
    "landscape": {"network": str, "sizes": [int], "capped_layer": str, "beta": NUM, "eps": NUM,
                  "n_test": int,    # the counts: NUM, as the mean block over seeds holds them
                  **{k: NUM for k in ("n_correct", "n_zero_at_x",
                                      "n_search_found", "n_search_failed")},
                  "cases": {c: Opt(LANDSCAPE_CASE) for c in ("at_x", "succeeds", "fails")}},
}

#: Blocks older summaries hold that no experiment writes any more, by key: their kind.
LEGACY_BLOCKS = {"table1_seeds": "table1_seeds"}

#: ``wall_seconds``: per experiment, the wall time of its units summed (with ``--jobs N``, seconds
#: of one worker with one BLAS thread each); ``flops``: the useful operations of its units
#: (``nprelu.flops``); ``jobs``: the ``--jobs`` of the run that recorded it. The last two are
#: missing from summaries written before they were recorded, as is ``matmul_capacity``: the
#: operations its units' wall time allowed at the matrix-product rate measured after each unit
#: (``flops.matmul_rate``), so that flops / matmul_capacity is its fraction of that rate.
#: ``seeds``: the run's seeds (``--seed S --seeds N``: S, ..., S + N - 1; missing from older
#: summaries, which are one seed, ``seed``). ``subsets_drawn``: per seed and subset size ("500",
#: or "all"), the test images drawn (``context.subset_record``: SHA-256 prefix of the indices as
#: int64 bytes, their count and the first five).
SUBSET_RECORD = {"sha256": str, "count": int, "first": [int]}
META = {"profile": str, "seed": int, "profile_settings": dict, "backend": str,
        "started": str, "subsets": Map(str), "settings": Map(Opt(dict)),
        "wall_seconds": Map(NUM), "done": [str], "flops": MayLack(Map(int)),
        "jobs": MayLack(Map(int)), "matmul_capacity": MayLack(Map(NUM)), "seeds": MayLack([int]),
        "subsets_drawn": MayLack(Map(Map(SUBSET_RECORD)))}

#: The parts of a summary besides ``meta`` and the blocks (``summary.check_summary``):
#: ``runs`` {seed: {block key: that seed's block}}, ``intervals`` {block key: the block's shape,
#: each number replaced by its 95% interval [lo, hi]} and ``interval_methods`` {block key: how the
#: intervals were made, in words} (``runner/aggregate.py``).
SEED_PARTS = ("runs", "intervals", "interval_methods")


def check_interval(interval, block, where: str) -> None:
    """``interval`` has the shape of ``block`` with each number replaced by ``[lo, hi]``
    (lo <= hi); other leaves as the block has them (SummaryError naming the field otherwise)."""
    if isinstance(block, (dict, list)) and interval == block:
        return                      # a subtree kept as one seed has it (aggregate.PER_SEED)
    if isinstance(block, dict):
        _need(isinstance(interval, dict) and set(interval) == set(block), where,
              "an object with the block's fields")
        for k, v in block.items():
            check_interval(interval[k], v, f"{where}.{k}")
    elif isinstance(block, list):
        _need(isinstance(interval, list) and len(interval) == len(block), where,
              f"a list of {len(block)}")
        for i, v in enumerate(block):
            check_interval(interval[i], v, f"{where}[{i}]")
    elif isinstance(block, NUM) and not isinstance(block, bool):
        _need(isinstance(interval, list) and len(interval) == 2
              and all(isinstance(v, NUM) and not isinstance(v, bool) for v in interval)
              and interval[0] <= interval[1], where, "an interval [lo, hi]")
    else:
        _need(interval == block, where, f"{block!r}, as the block has it")


def check(value, spec, where: str) -> None:
    """Raise :class:`SummaryError` naming ``where`` (a dotted path) if ``value`` misfits."""
    if isinstance(spec, Opt):
        if value is not None:
            check(value, spec.spec, where)
        return
    if isinstance(spec, Map):
        _need(isinstance(value, dict), where, "an object")
        for k, v in value.items():
            check(v, spec.values, f"{where}.{k}")
        return
    if isinstance(spec, dict):
        _need(isinstance(value, dict), where, "an object")
        for k, sub in spec.items():
            if isinstance(sub, MayLack):
                if k not in value:
                    continue
                sub = sub.spec
            if k not in value:
                raise SummaryError(f"{where}.{k} is missing")
            check(value[k], sub, f"{where}.{k}")
        return
    if isinstance(spec, list):
        _need(isinstance(value, list), where, "a list")
        for i, v in enumerate(value):
            check(v, spec[0], f"{where}[{i}]")
        return
    ok = isinstance(value, spec) and not (isinstance(value, bool) and spec is not bool)
    _need(ok, where, _type_name(spec))


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise SummaryError(f"{where} should be {what}")


def _type_name(spec) -> str:
    if spec is NUM:
        return "a number"
    return {str: "a string", int: "an integer", bool: "true or false", dict: "an object"}.get(
        spec, getattr(spec, "__name__", str(spec)))
