"""Units of work: an experiment split into parts that run apart, and the files that keep them.

An experiment whose ``run`` is a :class:`Split` declares

- ``units(ctx) -> [unit id]``: its parts for the seed ``ctx.seed``, in order
  ("fig04/s0/HL1-0.01": one trained network of Figure 4 for seed 0; "table1/s2/pgd-0.1": one
  row of Table 1 for seed 2);
- ``run_unit(ctx, unit) -> partial``: one part, a JSON-able value;
- ``combine(ctx, {unit: partial}) -> (numbers, settings)``: the experiment's result for the seed;
- optionally ``networks(ctx, unit) -> [ModelSpec]``: the trained networks the unit asks
  ``ctx.model`` for, known before it runs (``run_all.py --cluster`` trains each as a task of
  its own that the units needing it wait for, ``runner/cluster.py``). None (the default):
  no known dependencies; the unit gets its networks from the store, under each one's lock.

A unit id is ``EXPERIMENT/sSEED/PART``: the experiment, the seed (:func:`unit_seed`) and the
part; an experiment that is not split is one unit per seed, ``EXPERIMENT/sSEED``, and one that
draws nothing at random (Figure 3) one unit, its key. Over ``--seeds N`` a run lists every
seed's units (``Experiment.units``), records each seed's blocks when its units are in and the
mean over the seeds once the last seed is recorded (``summary.SummaryFile.record``).

``units`` and ``combine`` read only ``ctx.profile`` and ``ctx.seed`` (a planning context has no
data). Calling the split, ``run(ctx)``, runs every unit of ``ctx.seed`` in this process and
combines them, exactly as ``run_all.py`` does with ``--jobs 1``.

Each finished unit is kept in ``OUT/units/UNIT.json`` (written atomically) with the identity of
the summary it belongs to (``summary.run_identity``), so a killed run resumes unit by unit; a
file of another run is ignored and removed. A unit runs under its claim, an ``flock`` on
``units/.../.PART.json.lock`` (``checkpoint.locked``), so that two runs on one folder compute it once.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checkpoint import atomic_write_bytes, locked
from ..progress import log
from .summary import as_json, beta_key, run_identity

_SEED = re.compile(r"s(\d+)")


def unit_id(experiment: str, seed: int, part: str | None = None) -> str:
    """``EXPERIMENT/sSEED/PART`` (``EXPERIMENT/sSEED`` without a part)."""
    return f"{experiment}/s{int(seed)}" + (f"/{part}" if part else "")


def network_units(experiment: str, seed: int, specs) -> dict:
    """``{unit id: ModelSpec}``: one unit per network of ``specs`` (Table 1's), in their order,
    named by its adversarial training and its HL2 cap ("table1/s0/pgd-0.1")."""
    return {unit_id(experiment, seed, f"{spec.adv or 'none'}-{beta_key(spec.caps[1])}"): spec
            for spec in specs}


def unit_seed(unit: str) -> int | None:
    """The seed a unit id names (its second segment ``sSEED``); None for a seed-free unit."""
    parts = unit.split("/")
    m = _SEED.fullmatch(parts[1]) if len(parts) > 1 else None
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Split:
    """An experiment in units (module doc); calling it runs the whole experiment here."""

    units: Callable
    run_unit: Callable
    combine: Callable
    networks: Callable | None = None

    def __call__(self, ctx) -> tuple:
        """combine(run_unit(u) for u in units) for ``ctx.seed``, each partial as it comes back
        from its file."""
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
            self.remove(unit, claim=False)      # perhaps claimed now, by this run
            return None
        return saved["record"]

    def save(self, unit: str, record: dict) -> None:
        text = json.dumps({"run": self.identity, "unit": unit, "record": record},
                          allow_nan=False, sort_keys=True)
        atomic_write_bytes(self.path(unit), text.encode())

    @contextmanager
    def claimed(self, unit: str):
        """Held while ``unit`` is run or read: another process asking for it waits."""
        with locked(self.path(unit), what=unit):
            yield

    def recorded(self, keys, seed: int | None) -> bool:
        """Whether ``summary.json`` beside ``units/`` (this run's) holds the blocks ``keys`` for
        ``seed`` (None: at the top level): recorded by another run on the folder."""
        try:
            summary = json.loads((self.dir.parent / "summary.json").read_text())
            if as_json(run_identity(summary["meta"])) != self.identity:
                return False
            blocks = summary if seed is None else summary.get("runs", {}).get(str(seed), {})
            return all(k in blocks for k in keys)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def remove(self, unit: str, claim: bool = True) -> None:
        """Delete the file of ``unit``, its claim's lock file (unless ``claim`` is False: only
        once its seed is recorded, which a run waiting on the claim checks) and the folders
        they leave empty under ``units/``."""
        path = self.path(unit)
        path.unlink(missing_ok=True)
        if claim:
            path.with_name(f".{path.name}.lock").unlink(missing_ok=True)
        for folder in path.parents:
            if folder == self.dir.parent:
                break
            try:
                folder.rmdir()
            except OSError:   # not empty (or already gone)
                break
