"""The report's four tables of functions, filled by the decorators ``@checks``, ``@finds``,
``@tabulates`` and ``@renders`` in the modules that define the functions.

- ``CLAIM_TESTS``: a claim's ``test`` (``paper.Claim.test``) -> ``fn(claim, output, summary)``
  returning findings items (the claim tested on our numbers, with its verdict).
- ``FINDINGS``: an output ``kind`` -> ``fn(group, summary)`` returning the findings items of a
  section (``group``: its outputs, see :func:`sections`); kinds without one get their claims'
  tests only (:func:`claim_items`).
- ``NUMBERS``: an output ``kind`` -> ``fn(block)`` returning its "key numbers" Markdown table
  or None.
- ``BODIES``: an output ``kind`` -> ``fn(group, summary, figure_line)`` returning the lines of
  a section's body, for kinds whose section is not "each figure, then its key numbers".

Adding an output kind to the report: one function per table it needs, each under its kind.
"""
from __future__ import annotations

from typing import Callable

from ..experiments import OUTPUTS


class Registry(dict):
    """A dict of functions by name, filled with ``@registry.register(name)``."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def register(self, *names: str) -> Callable:
        def add(fn: Callable) -> Callable:
            for name in names:
                if name in self:
                    raise ValueError(f"two {self.what} functions for {name!r}")
                self[name] = fn
            return fn
        return add


CLAIM_TESTS = Registry("claim test")
FINDINGS = Registry("findings")
NUMBERS = Registry("key numbers")
BODIES = Registry("section body")

#: The decorators that fill them: ``@checks(test)``, ``@finds(kind)``, ``@tabulates(kind)``,
#: ``@renders(kind)``.
checks = CLAIM_TESTS.register
finds = FINDINGS.register
tabulates = NUMBERS.register
renders = BODIES.register


def claim_items(output, summary: dict) -> list[str]:
    """Each claim of ``output`` tested; a claim its numbers cannot test says so."""
    items = []
    for claim in output.claims:
        found = CLAIM_TESTS[claim.test](claim, output, summary)
        items += found or [f"Paper (Section {claim.section}): {claim.text} — not testable on "
                           f"these numbers."]
    return items


def sections(outputs: dict = OUTPUTS) -> list[tuple]:
    """The report's sections in registry order, each the tuple of its outputs: one with
    ``section=True`` first, then the outputs without a section of their own that follow it
    (Table 1 over seeds goes with Table 1, Figure 12 with the adaptive attacks)."""
    groups = []
    for output in outputs.values():
        if output.section or not groups:
            groups.append((output,))
        else:
            groups[-1] += (output,)
    return groups
