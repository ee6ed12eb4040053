"""``summary.json``: every finished experiment's numbers, persisted so that a run can resume.

The file holds ``meta`` and one block per output of the registry (shapes in
:mod:`~nprelu.experiments.schema`). It is rewritten atomically after each experiment, under an
exclusive lock, merged with what is on disk: two runs with disjoint ``--only`` lists may share
one output directory (one per core) and neither overwrites the other's results. Numbers are
only combined between summaries of the *same run* (:func:`same_run`: profile, seed and the
profile's settings).
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from ..checkpoint import atomic_write_bytes
from ..progress import log
from .schema import META, SCHEMAS, SummaryError, check

RUN_KEYS = ("profile", "seed", "profile_settings")


def beta_key(beta) -> str:
    """The summary's key for a cap value: ``format(beta, 'g')`` ("0.01", "1"); "none" for None."""
    if isinstance(beta, str):
        return beta
    return "none" if beta is None else format(float(beta), "g")


def run_meta(profile, seed: int, backend: str) -> dict:
    """A fresh ``meta`` for a run of ``profile`` with ``seed`` on ``backend``."""
    settings = json.loads(json.dumps(asdict(profile)))  # tuples -> lists, as JSON gives them back
    return {"profile": profile.name, "seed": int(seed), "profile_settings": settings,
            "backend": backend, "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "subsets": {}, "settings": {}, "wall_seconds": {}, "flops": {}, "jobs": {},
            "done": []}


def same_run(meta_a: dict, meta_b: dict) -> bool:
    """Whether two summaries' ``meta`` describe the same run (profile, seed and its settings),
    so that their numbers may be combined."""
    return all(meta_a.get(k) == meta_b.get(k) for k in RUN_KEYS)


def run_identity(meta: dict) -> dict:
    """What a file written for this summary (a finished unit, ``experiments/units.py``) records
    to be recognised as its own: the run (:func:`same_run`) and when the summary was started, so
    that a summary deleted and started afresh never picks up the old one's units."""
    return {k: meta.get(k) for k in (*RUN_KEYS, "started")}


def run_differences(old: dict, new: dict) -> list:
    """What makes ``old`` and ``new`` (two summaries' ``meta``) different runs, in words."""
    diffs = []
    for key in ("profile", "seed"):
        if old.get(key) != new.get(key):
            diffs.append(f"{key} {old.get(key)!r} there, {new.get(key)!r} here")
    if old.get("profile") == new.get("profile"):
        a, b = old.get("profile_settings") or {}, new.get("profile_settings") or {}
        fields = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        if fields:
            diffs.append(f"profile {new.get('profile')!r} settings " + ", ".join(
                f"{k} {a.get(k)!r} there, {b.get(k)!r} here" for k in fields))
    return diffs or ["other settings"]


def check_summary(summary: dict, outputs: dict, where: str = "summary") -> dict:
    """``summary`` itself, after checking ``meta`` (when present) and every block it holds.

    ``outputs``: the registry's outputs by key (``nprelu.experiments.OUTPUTS``). An unknown
    block or a block of the wrong shape raises :class:`SummaryError` naming the field.
    """
    if not isinstance(summary, dict):
        raise SummaryError(f"{where} should be a JSON object")
    for key, block in summary.items():
        if key == "meta":
            check(block, META, f"{where}.meta")
        elif key in outputs:
            check(block, SCHEMAS[outputs[key].kind], f"{where}.{key}")
        else:
            raise SummaryError(f"{where}.{key} is not a block this version writes "
                               f"(known: {', '.join(outputs)})")
    return summary


def read_summary(path, outputs: dict) -> dict:
    """The checked summary stored at ``path``; SummaryError naming the file otherwise."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: not a readable summary ({exc})") from None
    return check_summary(summary, outputs, where=str(path))


#: What ``nprelu.report`` draws from a summary besides the registry's figures.
REPORT_FILES = ("REPORT.md", "table1.md")


def set_aside(out_dir, outputs: dict, suffix: str) -> list:
    """Keep ``out_dir/summary.json`` aside as ``summary.json{suffix}`` and delete what was drawn
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
    summary = out_dir / "summary.json"
    if summary.exists():
        os.replace(summary, out_dir / f"summary.json{suffix}")
    return removed


class SummaryFile:
    """The summary of one run in ``out_dir``, kept in memory and on disk."""

    def __init__(self, out_dir, meta: dict, outputs: dict):
        self.path = Path(out_dir) / "summary.json"
        self.lock_dir = Path(out_dir)
        self.outputs = outputs
        self.data = self._resume(meta)

    @property
    def meta(self) -> dict:
        return self.data["meta"]

    def _resume(self, meta: dict) -> dict:
        """The summary on disk when it is from the same run, a fresh one when there is none.

        A summary of another run (:func:`same_run`) raises :class:`SummaryError` naming the
        settings that differ: two runs' numbers never share a directory, and nothing on disk is
        touched. A file that cannot be read or has another shape is moved aside to
        ``summary.json.corrupt`` (with a log line), so the run goes on and later merges work.
        """
        if self.path.exists():
            try:
                old = read_summary(self.path, self.outputs)
            except SummaryError as exc:
                removed = set_aside(self.path.parent, self.outputs, ".corrupt")
                log(f"{exc}; kept aside as {self.path}.corrupt"
                    + (f" (and removed what was drawn from it: {', '.join(removed)})"
                       if removed else "") + "; starting a fresh summary")
            else:
                old_meta = old.get("meta", {})
                if same_run(old_meta, meta):
                    old["meta"].update(backend=meta["backend"], subsets=meta["subsets"])
                    return old
                done = old_meta.get("done") or []
                raise SummaryError(
                    f"{self.path.parent} holds the results of another run "
                    f"({'; '.join(run_differences(old_meta, meta))}; done there: "
                    f"{', '.join(done) or 'nothing yet'}); choose another --out, or pass "
                    "--overwrite to replace that run")
        return {"meta": meta}

    def start(self) -> None:
        """Save the summary now, before any experiment is finished, merged with what is on disk:
        its ``started`` is then fixed, and the units finished from here on are recognised as
        this summary's when a killed run resumes (:func:`run_identity`)."""
        with _lock(self.lock_dir):
            self._merge_from_disk()
            self._save()

    def record(self, key: str, numbers: dict, settings, wall_seconds: float,
               flops: int | None = None, jobs: int | None = None) -> None:
        """Add the finished experiment ``key`` (its blocks ``numbers``) and save, merged with
        what concurrent runs in the same directory have saved meanwhile. ``flops``, ``jobs``:
        its useful operations and the ``--jobs`` it ran with (``schema.META``), if known."""
        numbers, settings = (as_json(v) for v in (numbers, settings))  # as a reload gives them
        check_summary(numbers, self.outputs, where=f"experiment {key}")
        with _lock(self.lock_dir):
            self._merge_from_disk()
            meta = self.meta
            self.data.update(numbers)
            meta["settings"][key] = settings
            meta["wall_seconds"][key] = round(wall_seconds, 1)
            for part, value in (("flops", flops), ("jobs", jobs)):
                if value is not None:
                    meta.setdefault(part, {})[key] = int(value)
            if key not in meta["done"]:
                meta["done"].append(key)
            self._save()

    def refresh(self) -> None:
        """Merge into this run's summary what other runs have added to the file."""
        with _lock(self.lock_dir):
            self._merge_from_disk()

    def _merge_from_disk(self) -> None:
        if not self.path.exists():
            return
        try:
            disk = read_summary(self.path, self.outputs)
        except SummaryError as exc:
            log(f"{exc}; not merged (it will be overwritten)")
            return
        mine, theirs = self.meta, disk.get("meta", {})
        if not same_run(theirs, mine):   # another run took this folder meanwhile: keep ours apart
            aside = self.path.with_name(f"summary.json.unsaved-{os.getpid()}")
            atomic_write_bytes(aside, json.dumps(self.data, indent=1, sort_keys=True).encode())
            raise SummaryError(
                f"{self.path} now holds another run's results "
                f"({'; '.join(run_differences(theirs, mine))}); this run's results are kept in "
                f"{aside}; run again with another --out")
        for key, value in disk.items():
            if key != "meta":
                self.data.setdefault(key, value)   # numbers this run computed itself win
        for part in ("settings", "wall_seconds", "flops", "jobs"):
            if part in theirs or part in mine:
                mine[part] = {**theirs.get(part, {}), **mine.get(part, {})}
        mine["done"] = list(dict.fromkeys(theirs.get("done", []) + mine["done"]))
        mine["started"] = theirs.get("started", mine["started"])  # the summary's first start

    def _save(self) -> None:
        text = json.dumps(self.data, indent=1, sort_keys=True, allow_nan=False,
                          default=_json_default)
        atomic_write_bytes(self.path, text.encode())


@contextmanager
def _lock(directory: Path):
    """An exclusive advisory lock on the directory ``directory`` itself (created if missing),
    held for the block: ``flock`` on the directory's own descriptor, so no lock file is left."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def as_json(value):
    """``value`` as it comes back from ``summary.json``: plain JSON types, keys sorted."""
    return json.loads(json.dumps(value, allow_nan=False, sort_keys=True, default=_json_default))


def _json_default(o):
    """Device or NumPy scalars and arrays as plain JSON values."""
    if hasattr(o, "item") and getattr(o, "ndim", 0) == 0:
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")
