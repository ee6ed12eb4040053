"""One PNG per figure of the registry, drawn from the experiment ``summary`` (``summary.json``).

Draws only. Which blocks are figures, their file names and titles come from the one registry
(:data:`nprelu.experiments.OUTPUTS`): an output with a ``file`` is a figure, and its ``kind``
picks the function registered with :func:`draws` (one module per family of figures:
:mod:`.figures`, :mod:`.sweeps`, :mod:`.maps`, :mod:`.adaptive`, :mod:`.suite`,
:mod:`.masking`, :mod:`.cw_gap`, :mod:`.cw_paper`, :mod:`.control`). Figures 4, 5 and 6 (kind
``pgd_sweep``) share one function, so adding a figure of an existing kind needs no change here.

A figure's title is at most two short lines; what it leaves out (settings, sample sizes, how
to read it, the intervals) is its caption, :func:`figure_caption` (:mod:`.captions`), which the
report prints under it. Series differ in colour and in line style or marker (grey print),
legends lie outside the data, and lines that coincide in a panel are named in its title
(:mod:`.style`). :func:`draw_figure` returns one figure unsaved (the figure-quality tests).

A block's shape is :data:`nprelu.runner.schema.SCHEMAS` of its kind; blocks are checked
against it before drawing and then read directly. ``null`` values that the schema allows
(``Opt``: e.g. no zero gradient found) become gaps in the lines. Each drawer also gets the
block's 95% intervals (``summary["intervals"][key]``, drawn as bands or error bars; absent for a
single-seed summary of the older layout) and the caption line of its experiment's attack
settings (``meta.settings``), in a :class:`Extras`.

Host-side package: NumPy and Matplotlib only. Figures are built as ``matplotlib.figure.Figure``
objects on an explicit Agg canvas, never through pyplot, so no display is needed, no global
figure state is kept, and the process-wide backend is left alone. Every PNG is written
atomically (``checkpoint.atomic_write_bytes``).

Conventions: accuracies and rates are fractions in [0, 1] in the summary and are drawn in
percent; ``beta`` is the paper's "max value" of the capped ReLU ``a(z, beta) = max(0, min(z,
beta))``; HL1/HL2/HL3 are the hidden layers, HL12/HL123 "all hidden layers capped".
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..experiments import OUTPUTS, experiment_of
from ..runner.schema import SCHEMAS, check
from .common import (BUILDERS, CAPTIONS, DRAWERS, Extras, coinciding, draws, save_figure,
                     wrap_title)
from .captions import attack_caption
from . import adaptive, captions, control, cw_gap, cw_paper, figures, maps, masking, suite, \
    sweeps, title_eps

#: Every module whose ``@draws`` (and ``@captions``) functions fill :data:`DRAWERS` and
#: :data:`CAPTIONS`, in one place: imported here, with the package, before any of its modules
#: runs, so the tables are whole whatever is imported first (tests/test_metadata.py checks that
#: every figure's kind has its drawer).
DRAWING_MODULES = (figures, sweeps, maps, adaptive, masking, cw_gap, cw_paper, suite, control,
                   title_eps, captions)


def extras_for(summary: dict, key: str) -> Extras:
    """The intervals of block ``key`` and its experiment's attack settings, from ``summary``
    (the output's ``settings_scope`` entry of them where it has one)."""
    iv = (summary.get("intervals") or {}).get(key)
    method = (summary.get("interval_methods") or {}).get(key, "")
    try:
        settings = summary.get("meta", {}).get("settings", {}).get(experiment_of(key).key)
    except KeyError:
        settings = None
    scope = OUTPUTS[key].settings_scope if key in OUTPUTS else None
    if scope and isinstance(settings, dict) and isinstance(settings.get(scope), dict):
        settings = settings[scope]
    reads = {k: (summary[k], (summary.get("intervals") or {}).get(k))
             for k in (OUTPUTS[key].reads if key in OUTPUTS else ()) if summary.get(k)}
    return Extras(iv, attack_caption(settings), method, reads)


def _checked(summary: dict, key: str) -> dict:
    if key not in OUTPUTS or OUTPUTS[key].file is None:
        raise KeyError(f"{key!r} is not a figure of the registry")
    if key not in summary:
        raise KeyError(f"the summary has no block {key!r}")
    output = OUTPUTS[key]
    check(summary[key], SCHEMAS[output.kind], key)
    return summary[key]


def draw_figure(summary: dict, key: str):
    """The figure of block ``key`` of ``summary``, built but not saved (a Matplotlib
    ``Figure``, its title wrapped as :func:`save_figure` writes it)."""
    block = _checked(summary, key)
    fig = BUILDERS[OUTPUTS[key].kind](OUTPUTS[key], block, extras_for(summary, key))
    wrap_title(fig)
    return fig


def figure_caption(summary: dict, key: str) -> str:
    """The caption of figure ``key``: what its title leaves out (settings, sample sizes, how
    to read it, what the bands are), in sentences, for the report to print under it."""
    block = _checked(summary, key)
    return CAPTIONS[OUTPUTS[key].kind](OUTPUTS[key], block, extras_for(summary, key))


def plot_all(summary: dict, out_dir, strict: bool = False) -> list[Path]:
    """Draw every figure of the registry whose block is in ``summary``; return the PNG paths.

    Each output with a ``file`` is drawn to ``out_dir / output.file`` by the function
    registered for its ``kind``; blocks absent from ``summary`` (``--only`` runs) are skipped.
    A figure that fails to draw (a block of the wrong shape included) is skipped with a
    :class:`RuntimeWarning` naming it, so one malformed block cannot cost the others; pass
    ``strict=True`` to raise instead (tests do). A figure that cannot be written (an OSError:
    a full disk, a read-only folder) always raises, naming its path.
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for output in OUTPUTS.values():
        if output.file is None or output.key not in summary:
            continue
        block = summary[output.key]
        try:
            check(block, SCHEMAS[output.kind], output.key)
            written.append(DRAWERS[output.kind](output, block, out_dir / output.file,
                                                extras_for(summary, output.key)))
        except OSError:   # cannot be written: fails the run (checkpoint.OutputError names it)
            raise
        except Exception as exc:  # noqa: BLE001 - reported, and re-raised when strict
            if strict:
                raise
            warnings.warn(f"{output.key} ({output.file}) not drawn: {type(exc).__name__}: "
                          f"{exc}", RuntimeWarning, stacklevel=2)
    return written


__all__ = ["BUILDERS", "CAPTIONS", "DRAWERS", "Extras", "attack_caption", "coinciding",
           "draw_figure", "draws", "figure_caption", "plot_all", "save_figure"]
