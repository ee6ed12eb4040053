"""The files around ``summary.json`` in an output folder: setting a summary aside with what was
drawn from it and its per-image outcomes, and removing the temporary files killed runs left."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ..outcomes import OutcomeFile
from ..progress import log


#: What ``nprelu.report`` draws from a summary besides the registry's figures.
REPORT_FILES = ("REPORT.md", "table1.md")


def set_aside(out_dir, outputs: dict, suffix: str) -> list:
    """Keep ``out_dir/summary.json`` (and its ``outcomes.npz``) aside as ``summary.json{suffix}``
    (``outcomes.npz{suffix}``) and delete what was drawn
    from it (the report files and the registry's figures), so that a new run's report never
    stands beside an old run's figures. Models stay: each checkpoint is reused only when it was
    trained with the same settings. The summary moves last, so an interrupted call leaves a
    folder that still holds it. Returns the names of the files removed."""
    out_dir = Path(out_dir)
    removed = []
    for name in (*REPORT_FILES, *(o.file for o in outputs.values() if o.file)):
        path = out_dir / name
        if path.is_file():
            path.unlink()
            removed.append(name)
    outcomes = out_dir / OutcomeFile.NAME        # the summary's per-image outcomes go with it
    if outcomes.exists():
        os.replace(outcomes, out_dir / f"{OutcomeFile.NAME}{suffix}")
    summary = out_dir / "summary.json"
    if summary.exists():
        os.replace(summary, out_dir / f"summary.json{suffix}")
    return removed


#: The temporary files our atomic writes leave when killed midway (``checkpoint.atomic_write_bytes``:
#: ``.NAME.XXXXXXXX.tmp``) and ``run_all.py``'s write probe (``.nprelu-write-test.XXXXXXXX``).
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp|\.nprelu-write-test\.[a-z0-9_]{8}")


def remove_stale_temps(out_dir, started: float | None = None, margin: float = 60.0) -> list:
    """Delete the temporary files (:data:`TEMP_NAME`) that killed runs left in ``out_dir``,
    ``models/`` and ``units/`` (all its folders): those last written more than ``margin`` seconds
    before ``started`` (default: now), so that a concurrent run's write in progress stays.
    Returns the paths removed (logged in one line)."""
    out_dir, limit = Path(out_dir), (time.time() if started is None else started) - margin
    folders = [out_dir, out_dir / "models", *(p for p in (out_dir / "units").rglob("*")
                                              if p.is_dir())]
    removed = []
    for folder in folders:
        for path in folder.glob(".*") if folder.is_dir() else ():
            try:
                if TEMP_NAME.fullmatch(path.name) and path.is_file() \
                        and path.stat().st_mtime < limit:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:   # removed meanwhile by another run
                continue
    if removed:
        log(f"removed {len(removed)} temporary file(s) left by an interrupted run in {out_dir}")
    return removed
