"""A section's data and settings, as its experiment recorded them in ``meta``, written once.

``meta.settings[experiment]`` is a JSON dict; each entry becomes one row of a two-column
Markdown table, its value in words (:func:`value_text`): a nested dict as "key: value; ...",
with deeper dicts in parentheses, a list as its items joined by commas, booleans as yes / no,
numbers as Python writes them (the same digits as ``summary.json``). An experiment that writes
several sections (``fig01-02``: Figures 1 and 2) gets its table in the first of them only; the
later ones point back to it (:class:`SettingsWriter`).
"""
from __future__ import annotations

from .anchors import anchor
from .format import md_table


def value_text(v, nested: bool = False) -> str:
    """A recorded setting in words (module doc); ``nested``: a dict inside a dict, in
    parentheses."""
    if isinstance(v, dict):
        text = "; ".join(f"{k.replace('_', ' ')}: {value_text(x, True)}" for k, x in v.items())
        return f"({text})" if nested else text
    if isinstance(v, (list, tuple)):
        return ", ".join(value_text(x, True) for x in v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "none"
    return str(v)


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (no pipe, no line break)."""
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table(settings: dict) -> str:
    """One row per recorded setting: its name (underscores as spaces) and its value in words."""
    return md_table(["Setting", "Value"],
                    [[_cell(k.replace("_", " ")), _cell(value_text(v))]
                     for k, v in settings.items()])


class SettingsWriter:
    """Writes each experiment's settings once, in the first section that shows them; a later
    section of the same experiment gets a line that links back to that section."""

    def __init__(self):
        self.first: dict[str, str] = {}     # experiment key -> title of its first section

    def lines(self, key: str, settings, title: str) -> list[str]:
        """The settings of experiment ``key`` in the section headed ``title``."""
        head = f"Settings (experiment `{key}`)"
        if settings is None:
            return [f"{head}: none recorded.", ""]
        if key in self.first:
            where = self.first[key]
            return [f"{head}: as in [{where}](#{anchor(where)}).", ""]
        self.first[key] = title
        if not settings:
            return [f"{head}: none recorded.", ""]
        return [f"{head}:", "", settings_table(settings), ""]
