"""Units of work: an experiment split into parts that run apart, and the files that keep them.

An experiment whose ``run`` is a :class:`Split` declares

- ``units(ctx) -> [unit id]``: its parts, in order ("fig04/HL1-0.01": one trained network of
  Figure 4; "table1/s0/pgd-0.1": one row of Table 1 for seed 0);
- ``run_unit(ctx, unit) -> partial``: one part, a JSON-able value;
- ``combine(ctx, {unit: partial}) -> (numbers, settings)``: the experiment's result.

``units`` and ``combine`` read only ``ctx.profile``, ``ctx.seed`` and ``ctx.n_seeds`` (a
planning context has no data). A unit id names one computation wherever it is listed: Table 1
over seeds lists Table 1's rows of the first seed, and a run computes each id once. Calling the
split, ``run(ctx)``, runs every unit in this process and combines them, exactly as
``run_all.py`` does with ``--jobs 1``; an experiment that is not split is one unit, its key.

Each finished unit is kept in ``OUT/units/UNIT.json`` (written atomically) with the identity of
the summary it belongs to (``summary.run_identity``), so a killed run resumes unit by unit; a
file of another run is ignored and removed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checkpoint import atomic_write_bytes
from ..progress import log
from .summary import as_json


@dataclass(frozen=True)
class Split:
    """An experiment in units (module doc); calling it runs the whole experiment here."""

    units: Callable
    run_unit: Callable
    combine: Callable

    def __call__(self, ctx) -> tuple:
        """combine(run_unit(u) for u in units), each partial as it comes back from its file."""
        return self.combine(ctx, {u: as_json(self.run_unit(ctx, u)) for u in self.units(ctx)})


class UnitFiles:
    """The finished units of one summary (``identity``) in ``out_dir/units``.

    A record is ``{"partial", "flops", "seconds", "experiment"}``: the unit's result, its useful
    operations and wall time, and the experiment it was computed for (which counts them).
    """

    def __init__(self, out_dir, identity: dict):
        self.dir = Path(out_dir) / "units"
        self.identity = as_json(identity)

    def path(self, unit: str) -> Path:
        return self.dir / f"{unit}.json"

    def load(self, unit: str) -> dict | None:
        """The record of ``unit`` if it was finished for this summary; None otherwise (a file of
        another run, or unreadable, is removed with a log line)."""
        path = self.path(unit)
        if not path.exists():
            return None
        try:
            saved = json.loads(path.read_text())
            fine = (isinstance(saved, dict) and saved.get("run") == self.identity
                    and saved.get("unit") == unit and isinstance(saved.get("record"), dict))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            fine = False
        if not fine:
            log(f"{path}: not a unit of this run's summary; removed, the unit runs again")
            self.remove(unit)
            return None
        return saved["record"]

    def save(self, unit: str, record: dict) -> None:
        text = json.dumps({"run": self.identity, "unit": unit, "record": record},
                          allow_nan=False, sort_keys=True)
        atomic_write_bytes(self.path(unit), text.encode())

    def remove(self, unit: str) -> None:
        """Delete the file of ``unit`` and the folders it leaves empty under ``units/``."""
        path = self.path(unit)
        path.unlink(missing_ok=True)
        for folder in path.parents:
            if folder == self.dir.parent:
                break
            try:
                folder.rmdir()
            except OSError:   # not empty (or already gone)
                break
