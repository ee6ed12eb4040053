"""The report: ``REPORT.md`` and ``table1.md`` (and, through :mod:`nprelu.plots`, the figures)
from a run's ``summary``.

Host-side package (NumPy only, no printing); every file is written atomically. It reads the
registry (``nprelu.experiments``) for what the summary holds and how each block is titled,
drawn and read, and ``nprelu.paper`` for what the paper says: no number or claim of the paper is
written here. Any block may be missing (an ``--only`` run): only the present ones get a section.

Modules, by concern: :mod:`.format` (numbers to text), :mod:`.stats` (trends in words),
:mod:`.intervals` (every verdict, holds / fails / inconclusive, from the per-seed values),
:mod:`.registry` (the functions per claim test and output kind), :mod:`.findings`,
:mod:`.sweeps`, :mod:`.table1_claims` (the paper's claims tested), :mod:`.numbers` (key-number
tables), :mod:`.table1` (Table 1 beside the paper's), :mod:`.adaptive` (the section beyond the
paper), :mod:`.control` (adversarial training through the cap), :mod:`.cw_paper` (CW-L2 at the
paper's budget), :mod:`.title` (the title
question answered), :mod:`.front` (the first screen: the contents, the answer, the agreement
per section; the sections' order), :mod:`.settings` (each experiment's settings as a table,
once), :mod:`.anchors` (links to headings) and
:mod:`.document` (``REPORT.md``).
"""
from __future__ import annotations

from pathlib import Path

from ..experiments import OUTPUTS
from ..runner.summary import check_summary
from . import (adaptive, control, cw_gap, cw_paper, findings, masking, numbers, suite, sweeps,
               table1, table1_claims, title_eps)
from .document import build_report
from .format import write_text
from .table1 import has_table1, table1_text

#: Every module whose functions fill the report's tables (:mod:`.registry`: ``@checks``,
#: ``@finds``, ``@tabulates``, ``@renders``), in one place: imported here, with the package,
#: before any of its modules runs, so the tables are whole whatever is imported first
#: (tests/test_metadata.py checks that every output kind has its functions).
SECTION_MODULES = (adaptive, control, cw_gap, cw_paper, findings, masking, numbers, suite, sweeps,
                   table1, table1_claims, title_eps)


def write_table1(summary: dict, out_dir) -> Path | None:
    """Write ``table1.md`` (ours beside the paper's Table 1); None when Table 1 is absent."""
    check_summary(summary, OUTPUTS)
    if not has_table1(summary):
        return None
    return write_text(Path(out_dir) / "table1.md", table1_text(summary))


def write_report(summary: dict, out_dir, strict: bool = False) -> Path:
    """Write ``REPORT.md`` into ``out_dir`` and return its path.

    Figures are linked when their PNG already exists in ``out_dir`` (draw them first, or use
    :func:`write_all`). A section that fails to render is replaced by a note and a
    :class:`RuntimeWarning` (``strict=True`` raises).
    """
    return write_text(Path(out_dir) / "REPORT.md", build_report(summary, out_dir, strict=strict))


def write_all(summary: dict, out_dir, strict: bool = False) -> list[Path]:
    """Figures, ``table1.md`` (when Table 1 is present) and ``REPORT.md`` for ``summary``;
    returns every path written. A summary of the wrong shape raises ``SummaryError`` naming the
    field, before anything is written. An output that cannot be written raises its OSError
    (``checkpoint.OutputError``: the path and the OS error) once the others have been tried:
    the figures stop at the first, ``table1.md`` and ``REPORT.md`` are still written if they
    can be."""
    from ..plots import plot_all   # Matplotlib only when figures are drawn

    check_summary(summary, OUTPUTS)
    paths, failed = [], []
    for write in (lambda: plot_all(summary, out_dir, strict=strict),
                  lambda: [write_table1(summary, out_dir)],
                  lambda: [write_report(summary, out_dir, strict=strict)]):
        try:
            paths += [p for p in write() if p is not None]
        except OSError as exc:
            failed.append(exc)
    if failed:
        raise failed[0]
    return paths


__all__ = ["build_report", "write_all", "write_report", "write_table1"]
