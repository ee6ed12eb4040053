"""Every registry figure, drawn from a small synthetic summary, reads as a printed figure would:
short titles, legends off the data, series told apart in grey print (issue 28)."""
from __future__ import annotations

import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.lines import Line2D

from nprelu.experiments import OUTPUTS
try:
    from nprelu.plots import draw_figure
except ImportError:   # the drawers before issue 28 (old_check.py)
    draw_figure = None

FIGURES = [o.key for o in OUTPUTS.values() if o.file]


def title_lines(fig) -> dict:
    """Each title of ``fig`` (suptitle, every axes' title at left, centre, right): its lines."""
    titles = {}
    if getattr(fig, "_suptitle", None) is not None and fig._suptitle.get_text():
        titles["suptitle"] = fig._suptitle.get_text().split("\n")
    for i, ax in enumerate(fig.axes):
        for loc in ("left", "center", "right"):
            text = ax.get_title(loc)
            if text:
                titles[f"axes {i} ({loc})"] = text.split("\n")
    return titles


def _paths_hit(artist, box, filled: bool) -> bool:
    trans = artist.get_transform()
    return any(trans.transform_path(p).intersects_bbox(box, filled=filled)
               for p in artist.get_paths() if len(p.vertices))


def covered(ax, box, renderer) -> list[str]:
    """What of ``ax``'s data (lines, bands, bars, images, contours, notes) lies under ``box``
    (display coordinates); a line counts by its segments, not only its points."""
    hits = []
    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        if len(path.vertices) and path.intersects_bbox(box, filled=False):
            hits.append(f"line {line.get_label()!r}")
    for coll in ax.collections:
        if _paths_hit(coll, box, filled=True):
            hits.append(f"{type(coll).__name__} {coll.get_label()!r}")
    for patch in ax.patches:
        if patch.get_window_extent(renderer).overlaps(box):
            hits.append(f"patch {patch.get_label()!r}")
    for image in ax.images:
        if image.get_window_extent(renderer).overlaps(box):
            hits.append("image")
    for text in ax.texts:
        if text.get_text() and text.get_window_extent(renderer).overlaps(box):
            hits.append(f"text {text.get_text()[:30]!r}")
    return hits


def legends(fig) -> list:
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]


def legend_problems(fig) -> list[str]:
    """Each legend that lies over some axes' data area and covers data there."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    for leg in legends(fig):
        box = leg.get_window_extent(renderer)
        for i, ax in enumerate(fig.axes):
            if ax.get_window_extent(renderer).overlaps(box):
                hits = covered(ax, box, renderer)
                if hits:
                    problems.append(f"legend over axes {i} covers {', '.join(hits[:3])}")
    return problems


def _style(line: Line2D) -> tuple:
    return line.get_linestyle(), line.get_marker() if line.get_marker() not in (None, "None", "", " ") else ""


def series_styles(ax) -> dict:
    """Each labelled series of ``ax``: (colour, line style, marker) for lines and error bars,
    (colour, hatch) for bars."""
    from matplotlib.colors import to_hex
    out = {}
    for line in ax.lines:
        label = line.get_label()
        if label and not label.startswith("_"):
            out[label] = (to_hex(line.get_color()),) + _style(line)
    for cont in ax.containers:
        label = cont.get_label()
        if not label or label.startswith("_"):
            continue
        if isinstance(cont, ErrorbarContainer) and cont.lines[0] is not None:
            out[label] = (to_hex(cont.lines[0].get_color()),) + _style(cont.lines[0])
        elif isinstance(cont, BarContainer) and cont.patches:
            bar = cont.patches[0]
            out[label] = (to_hex(bar.get_facecolor()), bar.get_hatch() or "")
    return out


def style_clashes(fig) -> list[str]:
    """Pairs of labelled series in one axes that share their style: (colour, line style,
    marker), and, for grey print, (line style, marker) (bars: colour and hatch, hatch)."""
    clashes = []
    for i, ax in enumerate(fig.axes):
        styles = series_styles(ax)
        for grey in (False, True):
            seen = {}
            for label, style in styles.items():
                key = style[1:] if grey else style
                if key in seen:
                    clashes.append(f"axes {i}: {seen[key]!r} and {label!r} share {key}"
                                   + (" (grey print)" if grey else ""))
                seen.setdefault(key, label)
    return clashes


@pytest.fixture(scope="module")
def drawn(summary):
    return {key: draw_figure(summary, key) for key in FIGURES}


@pytest.mark.parametrize("key", FIGURES)
def test_every_title_has_at_most_two_lines(drawn, key):
    long = {where: lines for where, lines in title_lines(drawn[key]).items() if len(lines) > 2}
    assert not long, f"{key}: titles over two lines: {long}"


@pytest.mark.parametrize("key", FIGURES)
def test_no_legend_covers_data(drawn, key):
    assert not legend_problems(drawn[key]), f"{key}: {legend_problems(drawn[key])}"


@pytest.mark.parametrize("key", FIGURES)
def test_every_series_has_its_own_style_also_in_grey(drawn, key):
    assert not style_clashes(drawn[key]), f"{key}: {style_clashes(drawn[key])}"


def test_every_figure_labels_its_series(drawn):
    """The style check has something to check: the figures with lines label them."""
    for key in ("fig01", "fig02", "fig04", "fig08", "fig12", "fig13", "masking"):
        assert any(series_styles(ax) for ax in drawn[key].axes), key


def test_the_checks_catch_a_bad_figure():
    """A legend over the data, a three-line title and two series styled alike are caught."""
    from nprelu.plots.common import new_figure
    fig = new_figure((4, 3))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="C0", label="a")
    ax.plot([0, 1], [0.1, 0.9], color="C1", label="b")
    ax.legend(loc="center")
    ax.set_title("one\ntwo\nthree")
    assert legend_problems(fig) and len(title_lines(fig)["axes 0 (center)"]) == 3
    assert style_clashes(fig) == ["axes 0: 'a' and 'b' share ('-', '') (grey print)"]
