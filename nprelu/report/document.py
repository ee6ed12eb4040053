"""``REPORT.md``: the answer first, then one section per result, the verdicts, the compute.

The first screen (:mod:`.front`): the contents, the paper's title question answered (the suite's
table), where we agree and where we differ with the paper (one line per section, linked), and
the settings the paper leaves open (``paper.OPEN_SETTINGS``). Then how the run was made, and
one section per output with ``section=True`` (:func:`.registry.sections`), in the paper's order
(:func:`.front.order`), each holding the outputs without a section of their own that follow it
in the registry. A section's data subset and settings are those its experiment recorded in
``meta`` (``experiment_of``), the settings as a table given once per experiment
(:mod:`.settings`); its body is its figure and key numbers, or the kind's own body (Table 1,
the adaptive attacks). Then "Where we agree and where we differ" tests every claim of the paper
on our numbers, claim by claim, and an appendix gives the compute (time, TFLOP, the share of
the matrix-product rate).

A section that fails to render is replaced by a note and a :class:`RuntimeWarning`
(``strict=True`` raises instead); a summary of the wrong shape raises ``SummaryError``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

from .. import paper
from ..experiments import EXPERIMENTS, OUTPUTS, experiment_of
from ..runner.summary import check_summary
from ..progress import format_seconds
from . import front, paired
from .anchors import heading_anchors, headings
from .families import NOT_EVIDENCE
from .format import Paragraph, md_table
from .intervals import METHODS, RULE, marks, seed_blocks, seeds
from .registry import BODIES, FINDINGS, NUMBERS, claim_items, sections
from .settings import SettingsWriter

HOW = "How this was produced"
VERDICTS = "Where we agree and where we differ"
OPEN = "Settings the paper does not give"
APPENDIX = "Appendix: compute"
HEADER = ["# Reproduction report: *Is ReLU Adversarially Robust?*", "",
          "A from-scratch NumPy reproduction of Sooksatra, Hamerly and Rivas (ICML 2023). The "
          "capped ReLU is a(z, β) = max(0, min(z, β)); β is the paper's \"max value\". "
          "Everything below is generated from `summary.json`.", ""]


def present_sections(summary: dict) -> list[tuple]:
    """The sections with at least one of their outputs in ``summary``."""
    return [g for g in sections() if any(summary.get(o.key) for o in g)]


def _experiments(group, summary: dict) -> list:
    """The experiments that wrote the section's outputs present in ``summary``."""
    exps = [experiment_of(o.key) for o in group if summary.get(o.key)]
    return list({e.key: e for e in exps}.values())


# --------------------------------------------------------------------------- the run

def small_profile_banner(summary: dict) -> list[str]:
    """A warning on top of a report whose networks were trained on less than the paper's data
    or for fewer epochs (the ``quick`` profile): its numbers check the code, not the paper."""
    settings = summary.get("meta", {}).get("profile_settings", {})
    subset, epochs = settings.get("train_subset"), settings.get("epochs")
    if subset is None and (epochs is None or epochs >= paper.SECTION8["epochs"]):
        return []
    trained = f"the first {subset} training images" if subset is not None else "all images"
    return [f"> **Not comparable to the paper.** Profile `{summary['meta']['profile']}`: the "
            f"networks were trained on {trained} for {epochs} epochs (the paper: 60,000 images, "
            f"{paper.SECTION8['epochs']} epochs) and evaluated on small test subsets. These "
            "numbers show that every step runs, not what the paper's claims come to; run the "
            "paper profile for those.", ""]


def how_produced(summary: dict, groups: list) -> list[str]:
    """Profile, seeds, intervals, backend and data of the run, as ``meta`` records them (the
    compute is in the appendix, :func:`compute_appendix`)."""
    meta = summary.get("meta")
    results = [o.key for g in groups for o in g if summary.get(o.key)]
    lines = [f"## {HOW}", ""]
    if meta is None:
        return lines + ["- Run metadata: not in this summary.",
                        f"- Results in this summary: {', '.join(results) or 'none'}", ""]
    run_seeds = meta.get("seeds") or seeds(summary) or [meta["seed"]]
    methods = sorted(set((summary.get("interval_methods") or {}).values()))
    lines += [f"- Profile: `{meta['profile']}`",
              f"- Seeds: {', '.join(f'`{s}`' for s in run_seeds)}"
              + (" (numbers are means over them)" if len(run_seeds) > 1 else " (one seed)"),
              f"- Intervals: {'; '.join(methods) if methods else 'none in this summary'}",
              f"- Backend: `{meta['backend']}`", f"- Started: {meta['started']}"]
    if "training" in meta["subsets"]:
        lines.append(f"- Training data: {meta['subsets']['training']}")
    lines.append(f"- Results in this summary: {', '.join(results) or 'none'}")
    return lines + [""]


def compute_appendix(summary: dict) -> list[str]:
    """Compute time, useful TFLOP and the share of the matrix-product rate, in total and per
    experiment, as ``meta`` records them; nothing without ``meta`` or records."""
    meta = summary.get("meta")
    if meta is None:
        return []
    walls, subsets = meta["wall_seconds"], meta["subsets"]
    lines = []
    if walls:
        total = format_seconds(sum(walls.values()))
        lines.append(f"- Compute time, summed over experiments: {total}"
                     " (each experiment's units added up: with `--jobs N` these are worker-seconds,"
                     " about N times the elapsed time; runs sharing a folder overlap)")
    flops, capacity = meta.get("flops") or {}, meta.get("matmul_capacity") or {}
    if flops:
        lines.append(f"- Useful work: {sum(flops.values()) / 1e12:.1f} TFLOP of matrix products "
                     "(multiply-add = 2; `nprelu.flops`)")
    shared = [k for k in flops if capacity.get(k)]
    if shared:
        share = sum(flops[k] for k in shared) / sum(capacity[k] for k in shared)
        over = ("" if len(shared) == len(flops) else
                f" over the experiments that recorded it ({', '.join(shared)})")
        lines.append(f"- Share of the matrix-product rate{over}: {share:.0%} (useful operations "
                     "over what each unit's time allowed at the rate measured right after it, "
                     "`flops.matmul_rate`: its matrix products alone, at that rate, would "
                     "take this share of the compute time)")
    recorded = [*walls, *subsets]
    keys = ([k for k in EXPERIMENTS if k in recorded]
            + [k for k in dict.fromkeys(recorded) if k not in EXPERIMENTS and k != "training"])
    if keys:
        lines += ["", "Experiments (as recorded in `meta`):", "",
                  md_table(["Experiment", "Compute time", "Useful TFLOP", "Share of matmul rate",
                            "Data used"],
                           [[k, format_seconds(walls.get(k)),
                             f"{flops[k] / 1e12:.2f}" if k in flops else "—",
                             f"{flops[k] / capacity[k]:.0%}" if capacity.get(k) and k in flops
                             else "—", subsets.get(k, "—")] for k in keys])]
    return [f"## {APPENDIX}", ""] + lines + [""] if lines else []


# --------------------------------------------------------------------------- sections

def figure_line(output, out_dir: Path, summary: dict | None = None) -> list[str]:
    """The Markdown image of ``output``'s figure with its caption (the settings, sample sizes
    and intervals its short title leaves out: :func:`nprelu.plots.figure_caption`), or a note
    when it was not drawn."""
    if output.file is None:
        return []
    if not (out_dir / output.file).exists():
        return [f"_Figure `{output.file}` was not drawn (run `nprelu.plots.plot_all` first)._",
                ""]
    lines = [f"![{output.title}]({output.file})", ""]
    if summary is not None and output.key in summary:
        from ..plots import figure_caption   # Matplotlib only where a figure exists
        caption = figure_caption(summary, output.key)
        if caption:
            lines += [f"_{caption}_", ""]
    return lines


def _network_line(block) -> list[str]:
    if not (isinstance(block, dict) and "network" in block):
        return []
    return [f"Network: {block['network']} ({'-'.join(str(s) for s in block['sizes'])}); "
            f"{block['n_test']} test samples"
            + (f"; at most {block['max_steps']} PGD steps" if "max_steps" in block else ""), ""]


def run_lines(group, summary: dict, writer: SettingsWriter | None = None) -> list[str]:
    """The section's data subsets and settings, from its experiments' entries in ``meta``;
    ``writer`` gives each experiment's settings once (a new one: in full here)."""
    meta = summary.get("meta")
    if meta is None:
        return ["Settings: not recorded.", ""]
    writer = writer or SettingsWriter()
    exps = _experiments(group, summary)
    data = [f"Data (experiment `{e.key}`): {meta['subsets'][e.key]}"
            for e in exps if e.key in meta["subsets"]]
    lines = data + [""] if data else []
    for e in exps:
        lines += (writer.lines(e.key, meta["settings"][e.key], group[0].title)
                  if e.key in meta["settings"]
                  else [f"Settings (experiment `{e.key}`): not recorded.", ""])
    return lines


def figures_and_numbers(group, summary: dict, draw) -> list[str]:
    """The default body: each output's figure, then its key numbers."""
    lines = []
    for output in group:
        if not summary.get(output.key):
            continue
        lines += draw(output)
        table = (NUMBERS[output.kind](summary[output.key], seed_blocks(summary, output.key))
                 if output.kind in NUMBERS else None)
        if table:
            lines += ["Key numbers:", "", table, ""]
    return lines


def section(group, summary: dict, out_dir: Path, writer: SettingsWriter | None = None) -> list[str]:
    host = group[0]
    body = BODIES.get(host.kind, figures_and_numbers)
    return ([f"## {host.title}", ""] + _network_line(summary.get(host.key))
            + run_lines(group, summary, writer)
            + body(group, summary, lambda output: figure_line(output, out_dir, summary)))


# --------------------------------------------------------------------------- verdicts

def section_findings(group, summary: dict) -> list[str]:
    """The findings items of a section: its kind's function, or its claims tested."""
    fn = FINDINGS.get(group[0].kind)
    return fn(group, summary) if fn else claim_items(group[0], summary)


def render_items(items: list) -> list[str]:
    """Findings items as Markdown: bullets, with paragraphs (tables, asides) set apart."""
    lines = []
    for item in items:
        if isinstance(item, Paragraph):
            lines += ([""] if lines and lines[-1] else []) + [item, ""]
        else:
            lines.append(f"- {item}")
    return lines + ([""] if lines and lines[-1] else [])


def open_settings() -> list[str]:
    """The settings the paper leaves open and our choice for each (``paper.OPEN_SETTINGS``)."""
    return ([f"## {OPEN}", "",
             md_table(["Setting", "Our choice", "Why"], [list(s) for s in paper.OPEN_SETTINGS]),
             ""])


def verdict_lines(groups: list, found: dict) -> list[str]:
    """"Where we agree and where we differ": how verdicts are made, the counts per section,
    then each section's findings (``found``: items by the host's key)."""
    lines = [f"## {VERDICTS}", "",
             "Each statement of the paper below is tested on our numbers; the verdicts "
             "(holds, fails, inconclusive) are computed, not written by hand. " + METHODS
             + " " + RULE, ""]
    if not groups:
        lines += ["No experiment results in this summary.", ""]
    body, counts = [], []
    for group in groups:
        items = found.get(group[0].key)
        if items:
            body += [f"### {group[0].title}", ""] + render_items(items)
            c = marks(items)
            counts.append([group[0].title] + [str(c.get(v, 0)) for v in
                                              ("holds", "fails", "inconclusive")
                                              + NOT_EVIDENCE])
    if counts:
        lines += ["Claim verdicts per section:", "",
                  md_table(["Section", "holds", "fails", "inconclusive"] + list(NOT_EVIDENCE),
                           counts), ""]
    return lines + body


# --------------------------------------------------------------------------- the document

def build_report(summary: dict, out_dir, strict: bool = False) -> str:
    """The text of ``REPORT.md`` for ``summary``; figures are linked when their PNG exists in
    ``out_dir``."""
    check_summary(summary, OUTPUTS)
    out_dir = Path(out_dir)
    groups = front.order(present_sections(summary))

    def guarded(fn, group, note):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - reported in the report, re-raised when strict
            if strict:
                raise
            warnings.warn(f"report section {group[0].key} failed: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=3)
            return note(f"_This part could not be generated ({type(exc).__name__}: {exc})._")

    writer = SettingsWriter()
    body = how_produced(summary, groups)
    for group in groups:
        body += guarded(lambda: section(group, summary, out_dir, writer), group,
                        lambda text: [f"## {group[0].title}", "", text, ""])
    found = {g[0].key: guarded(lambda: section_findings(g, summary), g,
                               lambda text: [Paragraph(text)]) for g in groups}
    body += guarded(lambda: paired.section(summary, out_dir), [SimpleNamespace(key="paired")],
                    lambda text: [f"## {paired.TITLE}", "", text, ""])
    body += verdict_lines(groups, found) + compute_appendix(summary)

    # the first screen links into the body: anchors in document order (the top's own headings
    # first, none of them a section's title)
    top_titles = [front.CONTENTS, front.ANSWER, front.AGREEMENT, OPEN]
    anchors = heading_anchors(top_titles + headings(body))
    others = [HOW, paired.TITLE, VERDICTS, APPENDIX]
    lines = (HEADER + small_profile_banner(summary) + front.contents(groups, anchors, others)
             + front.answer(summary, anchors) + front.agreement(groups, found, anchors)
             + open_settings() + body)
    return "\n".join(lines).rstrip() + "\n"
