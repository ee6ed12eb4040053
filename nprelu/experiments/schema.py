"""The shape of ``summary.json``, defined once and checked when a summary is loaded.

``summary.json`` holds ``meta`` (how the run was made) and one block per finished output of the
registry (``"fig04"``, ``"table1"``...). Each output's ``kind`` names its schema here, so a
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
LAYER_BETA_CURVES = lambda fields: Map(Map({f: [Opt(NUM)] for f in fields}))  # noqa: E731
SWEEP_HEAD = {"network": str, "sizes": [int], "betas_eval": NUMS, "initial_betas": NUMS,
              "capped_layers": [str], "n_test": int}
TABLE1_ROW = {"beta": Opt(NUM), "adv_training": str, "n_cw": int,
              **{m: NUM for m in ("clean", "fgsm", "pgd", "cw")}}

#: One schema per output kind (see ``nprelu.experiments.Output``).
SCHEMAS = {
    "growth": {"betas": NUMS, "capped_layers": [str], "uncapped": {"linf": NUMS, "l2": NUMS},
               "capped": Map(Map({"linf": NUMS, "l2": NUMS}))},
    "accuracy": {"betas": NUMS, "capped_layers": [str], "uncapped": NUM,
                 "accuracy": Map(Map(NUM))},
    "sigmoid": {"c": NUMS, "z": NUMS, "sigmoid": Map(NUMS)},
    "pgd_sweep": {**SWEEP_HEAD, "curves": LAYER_BETA_CURVES(("standard", "robust", "success"))},
    "zero_gradient": {**SWEEP_HEAD, "max_steps": int,
                      "curves": LAYER_BETA_CURVES(("distance", "found_fraction", "mean_steps"))},
    "sensitivity": {"betas": NUMS, "sample_index": int, "label": int, "image": NUMS,
                    "maps": [NUMS], "sums": NUMS, "mean_sum_test": NUMS, "n_test": int},
    "table1": [{**TABLE1_ROW, "cw_mean_l2": Opt(NUM)}],
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
    "adaptive_curve": {"network": str, "sizes": [int], "capped_layer": str, "betas_eval": NUMS,
                       "initial_betas": NUMS, "n_test": int, "eps": NUM,
                       "curves": Map({"pgd": NUMS, "worst_case": NUMS, "standard": NUMS})},
}

#: ``wall_seconds``: per experiment, the wall time of its units summed (with ``--jobs N``, seconds
#: of one worker with one BLAS thread each); ``flops``: the useful operations of its units
#: (``nprelu.flops``); ``jobs``: the ``--jobs`` of the run that recorded it. The last two are
#: missing from summaries written before they were recorded.
META = {"profile": str, "seed": int, "profile_settings": dict, "backend": str,
        "started": str, "subsets": Map(str), "settings": Map(Opt(dict)),
        "wall_seconds": Map(NUM), "done": [str], "flops": MayLack(Map(int)),
        "jobs": MayLack(Map(int))}


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
