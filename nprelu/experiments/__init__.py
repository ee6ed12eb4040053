"""The ONE registry of experiments: what runs, what it writes, how it is drawn and read.

Each :class:`Experiment` names its key (what ``run_all.py`` runs, resumes and records), its
``run(ctx) -> (numbers, settings)`` function (for one seed, ``ctx.seed``), or a
:class:`~nprelu.runner.units.Split` of it into units of work that run apart, the summary
blocks it writes (:class:`Output`:
key, kind, title, figure file, the paper claims tested on it), its cost estimate and the test
subsets it evaluates on. ``run_all.py``, the plots, the report and the profiles all read it.

An output's ``kind`` says what shape its block has (``schema.SCHEMAS``), which function draws
it (``plots``) and which function reads it in the report (``report.findings``); figures of the
same kind (Figures 4, 5 and 6) share all three.

To add an experiment: write its module here (``run(ctx)``, or a ``Split`` when it is long), add
one entry below (its run as ``later("module.run")``: the registry imports no experiment module,
so reading it loads no compute code), and, for a new kind, one schema, one plotting function and
one findings function registered under it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Callable, NamedTuple

from .. import paper
from ..runner.config import PROFILES, Profile
from ..runner.units import Split, unit_id, unit_seed


class Later(NamedTuple):
    """Where an experiment's runnable lives, for :class:`Experiment` to import on first use:
    ``name`` in the module ``nprelu.experiments.<module>``, called with ``args`` when there are
    any (a factory, as ``sweeps.split("fig04")``). Written ``later("sweeps.split", "fig04")``."""

    module: str
    name: str
    args: tuple = ()

    def resolve(self):
        found = getattr(import_module(f"{__name__}.{self.module}"), self.name)
        return found(*self.args) if self.args else found


def later(path: str, *args) -> Later:
    """The :class:`Later` of ``path``, "module.name" in this package, with ``args``."""
    module, name = path.rsplit(".", 1)
    return Later(module, name, args)


class _Imported:
    """The field :attr:`Experiment.run`: set to a runnable or to a :class:`Later`, it reads as
    the runnable, imported on the first read. So the registry's metadata (keys, outputs,
    titles, claims) loads without the compute code: the report and the plots never read
    ``run``."""

    def __set_name__(self, owner, name):
        self.slot = f"_{name}"

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError(self.slot[1:])   # no class-level default: a required field
        value = obj.__dict__[self.slot]
        if isinstance(value, Later):
            value = obj.__dict__[self.slot] = value.resolve()
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class Output:
    """One block of ``summary.json`` and what the report makes of it.

    ``key``: the summary key ("fig04"). ``kind``: its shape and how it is drawn and read.
    ``title``: the report's section title and the figure's caption. ``file``: the PNG drawn
    from it (None: no figure). ``number``: the figure number in captions ("4"). ``claims``:
    the paper's claims tested on it. ``partner``: the output whose claims are re-tested here
    (Figure 8 tests Figure 4's). ``section``: whether it gets a report section of its own
    (Figure 12 is drawn inside the adaptive section). ``settings_scope``: the entry of its
    experiment's recorded settings that holds its own attacks, where they differ from the
    experiment's (Figures 13 and 14 run the suite's reduced budget, ``"curves"``); its
    figure's caption is drawn from that entry. ``reads``: other blocks its figure reads
    besides its own (the title question across eps reads the suite's rows at eps 0.1, the
    control's figure the suite's rows it is compared with).
    """

    key: str
    kind: str
    title: str
    file: str | None = None
    number: str = ""
    claims: tuple = ()
    partner: str | None = None
    section: bool = True
    settings_scope: str | None = None
    reads: tuple = ()


@dataclass(frozen=True)
class Experiment:
    """One experiment of a run (see the module doc).

    ``run``: ``run(ctx) -> (numbers, settings)`` for the seed ``ctx.seed``, or a :class:`Split`
    (callable the same way) whose units ``run_all.py --jobs N`` spreads over N workers; given
    as a :func:`later` reference, it is imported when first read.
    ``minutes``: measured wall-clock minutes of one seed on 2 CPU cores, per profile (``full``
    falls back to ``paper``; the paper's experiments from the quiet one-seed run of
    2026-11-26 with ``--jobs 2`` after the flush of subnormal moments (``optim``): worker time
    over 2; issue 14's experiments from their 3-seed runs of 2026-11-26 the same way, before
    that flush, cw_gap's on an otherwise quiet machine). ``subsets``: the test
    subsets it evaluates on, {what they serve: the Profile field of their size}. ``seeded``:
    whether it trains or draws at random, so that ``--seeds N`` runs it once per seed (Figure 3
    does neither: it runs once, unit id its key). ``needs_data``: whether it reads MNIST; a
    run of experiments that all need none (Figure 3) neither looks for nor loads it.
    """

    key: str
    run: Callable = _Imported()
    outputs: tuple
    minutes: dict
    subsets: dict = field(default_factory=dict)
    seeded: bool = True
    needs_data: bool = True

    def estimate(self, profile: str, n_seeds: int = 1) -> float:
        """Expected wall-clock minutes on 2 CPU cores for ``n_seeds`` seeds."""
        return self.minutes.get(profile, self.minutes["paper"]) * (n_seeds if self.seeded else 1)

    # ---- units of work (runner/units.py): one code path, split or not ------------------
    def seeds(self, ctx) -> list:
        """The seeds it runs for: the run's (``ctx.seeds``), or ``[None]`` when not seeded."""
        return ctx.seeds if self.seeded else [None]

    def seed_units(self, ctx, seed) -> list:
        """The ids of its units for one seed (None: not seeded), in order."""
        sub = ctx if seed is None else ctx.for_seed(seed)
        if isinstance(self.run, Split):
            return list(self.run.units(sub))
        return [self.key if seed is None else unit_id(self.key, seed)]

    def units(self, ctx) -> list:
        """The ids of its units for every seed of the run, seed by seed."""
        return [u for seed in self.seeds(ctx) for u in self.seed_units(ctx, seed)]

    def run_unit(self, ctx, unit: str):
        """One unit's partial result (JSON-able); unsplit: ``[numbers, settings]``."""
        seed = unit_seed(unit) if self.seeded else None
        sub = ctx if seed is None else ctx.for_seed(seed)
        if isinstance(self.run, Split):
            return self.run.run_unit(sub, unit)
        return list(self.run(sub))

    def networks(self, ctx, unit: str) -> list:
        """The trained networks (``ModelSpec``) ``unit`` needs, as far as its Split declares
        them (``Split.networks``); ``[]`` when it declares none (it gets them from the store)."""
        if not isinstance(self.run, Split) or self.run.networks is None:
            return []
        seed = unit_seed(unit) if self.seeded else None
        return list(self.run.networks(ctx if seed is None else ctx.for_seed(seed), unit))

    def combine(self, ctx, seed, partials: dict) -> tuple:
        """``(numbers, settings)`` of one seed (None: not seeded) from its units' partials."""
        sub = ctx if seed is None else ctx.for_seed(seed)
        if isinstance(self.run, Split):
            return self.run.combine(sub, partials)
        numbers, settings = partials[self.seed_units(ctx, seed)[0]]
        return numbers, settings


def _sweep(key, number, network):
    return Output(key, "pgd_sweep", f"Figure {number} — PGD over a range of max values, "
                  f"{network} network", f"{key}_{network}_pgd.png", number, paper.claims(key))


def _zero(key, number, network, partner):
    return Output(key, "zero_gradient", f"Figure {number} — distance to zero gradients, "
                  f"{network} network", f"{key}_{network}_zero_gradient.png", number,
                  paper.claims("zero_gradient"), partner)


_ENTRIES = (
    Experiment("fig01-02", later("growth.SPLIT"), (
        Output("fig01", "growth", "Figure 1 — perturbation growth through the hidden layers",
               "fig01_perturbation_growth.png", "1", paper.claims("fig01")),
        Output("fig02", "accuracy", "Figure 2 — accuracy of capped networks",
               "fig02_accuracy.png", "2", paper.claims("fig02"))),
        {"quick": 0.3, "paper": 5}, {"test images": "n_growth"}),
    Experiment("fig03", later("sigmoid.run"), (
        Output("fig03", "sigmoid", "Figure 3 — sigmoid with a constant c", "fig03_sigmoid.png",
               "3", paper.claims("fig03")),), {"quick": 0.0, "paper": 0.0}, seeded=False,
        needs_data=False),
    Experiment("fig04", later("sweeps.split", "fig04"), (_sweep("fig04", "4", "general"),),
               {"quick": 0.3, "paper": 3.5}, {"test images": "n_sweep"}),
    Experiment("fig05", later("sweeps.split", "fig05"), (_sweep("fig05", "5", "reversed"),),
               {"quick": 0.2, "paper": 2.5}, {"test images": "n_sweep"}),
    Experiment("fig06", later("sweeps.split", "fig06"), (_sweep("fig06", "6", "equal"),),
               {"quick": 0.4, "paper": 12}, {"test images": "n_sweep"}),
    Experiment("fig08", later("zero_gradient.split", "fig08"),
               (_zero("fig08", "8", "general", "fig04"),),
               {"quick": 0.2, "paper": 0.3}, {"test images": "n_zero"}),
    Experiment("fig09", later("zero_gradient.split", "fig09"),
               (_zero("fig09", "9", "reversed", "fig05"),),
               {"quick": 0.2, "paper": 0.4}, {"test images": "n_zero"}),
    Experiment("fig10", later("zero_gradient.split", "fig10"),
               (_zero("fig10", "10", "equal", "fig06"),),
               {"quick": 0.2, "paper": 2.1}, {"test images": "n_zero"}),
    Experiment("fig11", later("sensitivity.run"), (
        Output("fig11", "sensitivity", "Figure 11 — sensitivity map",
               "fig11_sensitivity_map.png", "11", paper.claims("fig11")),),
        {"quick": 0.05, "paper": 0.1}, {"test-set mean": "n_sensitivity"}),
    Experiment("table1", later("table1.SPLIT"), (
        Output("table1", "table1", "Table 1 — capped ReLU with adversarial training",
               claims=paper.claims("table1")),),
        {"quick": 0.5, "paper": 13.2}, {"clean/FGSM/PGD": "n_table", "CW-L2": "n_cw"}),
    Experiment("adaptive", later("adaptive.SPLIT"), (
        Output("adaptive", "adaptive", "Beyond the paper — adaptive attacks: robustness, or a "
               "hidden gradient?"),
        Output("fig12", "adaptive_curve",
               "Figure 12 (ours) — PGD against the adaptive worst case",
               "fig12_adaptive_robustness.png", "12 (ours)", section=False)),
        {"quick": 0.5, "paper": 2},
        {"attacks": "n_adaptive", "checklist": "n_checklist", "Figure 12": "n_fig12"}),
    Experiment("suite", later("suite.SPLIT"), (
        Output("suite", "suite", "Beyond the paper — one attack suite, one budget"),
        Output("fig13", "eps_curve", "Figure 13 (ours) — robust accuracy against eps",
               "fig13_eps_curves.png", "13 (ours)", section=False, settings_scope="curves"),
        Output("fig14", "adaptive_curve", "Figure 14 (ours) — Figure 12 under the reduced suite",
               "fig14_suite_robustness.png", "14 (ours)", section=False,
               settings_scope="curves")),
        {"quick": 1.0, "paper": 36},
        {"attacks": "n_adaptive", "eps curves and Figure 14": "n_fig12"}),
    Experiment("masking", later("masking.run"), (
        Output("masking", "masking", "Beyond the paper — a second masking mechanism: does the "
               "float32 softmax saturate?", "masking_softmax.png", "15 (ours)"),),
        {"quick": 0.1, "paper": 1.5}, {"test images": "n_zero"}),
    Experiment("fig07", later("landscape.run"), (
        Output("fig07", "landscape", "Figure 7 (ours, from data) — zero-gradient search "
               "around three test images", "fig07_landscape.png", "7 (ours)"),),
        {"quick": 0.1, "paper": 0.2},
        {"test images": "n_zero"}),
    Experiment("cw_gap", later("cw_gap.SPLIT"), (
        Output("cw_gap", "cw_gap", "Beyond the paper — the CW-L2 gap: which CW setting gives "
               "the paper's numbers?", "cw_gap_l2.png", "16 (ours)"),),
        {"quick": 0.2, "paper": 21}, {"CW variants": "n_adaptive"}),
    # cw_paper: quick measured 2026-12-02 (--only cw_paper, jobs 2, a loaded machine: 9.8 s
    # elapsed with the training of its 3 quick networks, 8.7 s of unit time). Paper: an
    # ESTIMATE, not a run. Abort early makes the cost the row-iterations CW actually runs, so
    # they were counted (seed 0's networks, one BLAS thread, CPU seconds): at 9 x 10,000 a row
    # ran 28% (beta 1) and 22% (0.1) of its 90,000 iterations with the true gradient (200
    # images: 151 s and 118 s of CPU, 30 us per row-iteration), and on 30 images 18%/11%/10%
    # through BPDA (beta 1/0.1/0.01) and 13% true (0.01); 1 x 1,000 on 1,000 images cost 38 us
    # per row-iteration (its rows stop early: sparser blocks). So 92 M row-iterations per seed,
    # 46-58 min of worker CPU time, 23-29 min on 2 workers (longest unit, beta 1 true gradient,
    # 13-16 min); 26 here.
    Experiment("cw_paper", later("cw_paper.SPLIT"), (
        Output("cw_paper", "cw_paper", "Beyond the paper — CW-L2 at the paper's budget: is the "
               "CW gap the budget?", "cw_paper_budget.png", "17 (ours)", reads=("cw_gap",)),),
        {"quick": 0.2, "paper": 26}, {"CW-L2 at the paper's budget": "n_adaptive"}),
    # control: quick measured 2026-12-02 (--only control, jobs 2, a loaded machine: 112 s of
    # worker time, 1m12s elapsed). Paper: an ESTIMATE, not measured: its 12 adversarially
    # trained networks (6 PGD, 6 FGSM, the twins at seed + 1 included) cost about 1.5 times
    # Table 1's adversarial training (PGD training dominates), and its evaluation about half
    # of the suite's rows without their per-attack runs and eps curves: about 20 min.
    Experiment("control", later("control.SPLIT"), (
        Output("control", "control", "Beyond the paper — the control: adversarial training "
               "that sees through the cap", "control_bpda_training.png", "18 (ours)",
               reads=("suite",)),),
        {"quick": 1.0, "paper": 20}, {"attacks": "n_adaptive"}),
    # minutes: quick measured once at 3 eps (2026-12-02, 2 workers, a shared machine: 202 s of
    # unit time, 1.9 TFLOP against the quick suite's 1.44 TFLOP the same day), a third of it
    # since the quick profile runs eps 0.2 alone (title_eps.QUICK_EPS); paper an ESTIMATE,
    # not measured: 3 eps of the suite's rows at 2.4x the cost of its eps-0.1 rows (more images
    # survive the cascade to APGD-T at eps 0.05; the n / 5 full run costs the same at every
    # eps), scaled from the suite's recorded 36 min (its rows about 45% of it): ~80 min/seed
    Experiment("title_eps", later("title_eps.SPLIT"), (
        Output("title_eps", "title_eps", "Beyond the paper — the title question across eps",
               "title_eps.png", "19 (ours)", reads=("suite",)),),
        {"quick": 0.6, "paper": 80}, {"attacks": "n_adaptive"}),
)

#: Every experiment, in the order ``run_all.py`` runs them, by key.
EXPERIMENTS: dict[str, Experiment] = {e.key: e for e in _ENTRIES}
#: Every summary block, by key, in the same order.
OUTPUTS: dict[str, Output] = {o.key: o for e in _ENTRIES for o in e.outputs}


def experiment_of(output_key: str) -> Experiment:
    """The experiment that writes the summary block ``output_key``."""
    for e in _ENTRIES:
        if any(o.key == output_key for o in e.outputs):
            return e
    raise KeyError(f"no experiment writes {output_key!r}")


__all__ = ["EXPERIMENTS", "OUTPUTS", "PROFILES", "Experiment", "Later", "Output", "Profile",
           "Split", "experiment_of", "later"]
