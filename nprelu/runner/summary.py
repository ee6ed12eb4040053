"""``summary.json``: every finished experiment's numbers, persisted so that a run can resume.

The file holds ``meta``, one block per output of the registry (shapes in
:mod:`~nprelu.runner.schema`) and, for the experiments run over seeds, ``runs`` (every seed's
blocks), ``intervals`` and ``interval_methods``. A seeded experiment is recorded seed by seed
(:meth:`SummaryFile.record` with its seed, into ``runs[seed]``); once all the run's seeds are in,
its blocks are their mean, with intervals (:func:`~nprelu.runner.aggregate.aggregate`), and
it is done. An experiment that draws nothing at random (Figure 3) is recorded once, at the top
level. The file is rewritten atomically after each record, under an exclusive lock, merged with
what is on disk: two runs with disjoint ``--only`` lists may share one output directory (one per
core) and neither overwrites the other's results. Numbers are only combined between summaries of
the *same run* (:func:`same_run`: profile, seeds and the profile's settings).
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
from ..outcomes import OutcomeFile, split
from ..progress import log
from .folder import set_aside
from .aggregate import aggregate
from .schema import LEGACY_BLOCKS, META, SCHEMAS, SEED_PARTS, SummaryError, check, \
    check_interval

RUN_KEYS = ("profile", "seed", "profile_settings", "seeds")


def beta_key(beta) -> str:
    """The summary's key for a cap value: ``format(beta, 'g')`` ("0.01", "1"); "none" for None."""
    if isinstance(beta, str):
        return beta
    return "none" if beta is None else format(float(beta), "g")


def run_meta(profile, seed: int, backend: str, n_seeds: int = 1) -> dict:
    """A fresh ``meta`` for a run of ``profile`` with seeds ``seed``, ..., ``seed + n_seeds - 1``
    on ``backend``."""
    settings = json.loads(json.dumps(asdict(profile)))  # tuples -> lists, as JSON gives them back
    return {"profile": profile.name, "seed": int(seed), "profile_settings": settings,
            "seeds": list(range(int(seed), int(seed) + int(n_seeds))),
            "backend": backend, "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "subsets": {}, "subsets_drawn": {}, "settings": {}, "wall_seconds": {}, "flops": {},
            "jobs": {}, "done": []}


def seeds_of(meta: dict) -> list:
    """The seeds of a summary's run: ``meta.seeds``, or ``[meta.seed]`` for a summary written
    before seeds were recorded (one seed)."""
    return [int(s) for s in meta["seeds"]] if "seeds" in meta else [int(meta.get("seed", 0))]


def _run_value(meta: dict, key: str):
    return seeds_of(meta) if key == "seeds" and meta else meta.get(key)


def same_run(meta_a: dict, meta_b: dict) -> bool:
    """Whether two summaries' ``meta`` describe the same run (profile, seeds and the profile's
    settings), so that their numbers may be combined."""
    return all(_run_value(meta_a, k) == _run_value(meta_b, k) for k in RUN_KEYS)


def run_identity(meta: dict) -> dict:
    """What a file written for this summary (a finished unit, ``runner/units.py``) records
    to be recognised as its own: the run (:func:`same_run`) and when the summary was started, so
    that a summary deleted and started afresh never picks up the old one's units."""
    return {**{k: _run_value(meta, k) for k in RUN_KEYS}, "started": meta.get("started")}


def runs_of(summary: dict, outputs: dict) -> dict:
    """Every seed's blocks, ``{seed (str): {block key: block}}``: the summary's ``runs``, with the
    blocks of experiments recorded once (Figure 3) or before seeds were recorded (an old summary:
    one seed, ``meta.seed``) taken from the top level for every seed."""
    runs = summary.get("runs") or {}
    seeds = [str(s) for s in seeds_of(summary.get("meta", {}))]
    out = {s: dict(runs.get(s, {})) for s in seeds}
    for key in outputs:
        if key in summary and not any(key in r for r in runs.values()):
            for s in seeds:
                out[s][key] = summary[key]
    return out


def run_differences(old: dict, new: dict) -> list:
    """What makes ``old`` and ``new`` (two summaries' ``meta``) different runs, in words."""
    diffs = []
    for key in ("profile", "seed", "seeds"):
        if key == "seeds" and old.get("seed") != new.get("seed"):
            continue                # another first seed: said once
        if _run_value(old, key) != _run_value(new, key):
            diffs.append(f"{key} {_run_value(old, key)!r} there, {_run_value(new, key)!r} here")
    if old.get("profile") == new.get("profile"):
        a, b = old.get("profile_settings") or {}, new.get("profile_settings") or {}
        fields = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        if fields:
            diffs.append(f"profile {new.get('profile')!r} settings " + ", ".join(
                f"{k} {a.get(k)!r} there, {b.get(k)!r} here" for k in fields))
    return diffs or ["other settings"]


def check_summary(summary: dict, outputs: dict, where: str = "summary",
                  legacy: bool = True) -> dict:
    """``summary`` itself, after checking ``meta`` (when present), every block it holds and
    ``runs``, ``intervals`` and ``interval_methods`` (``schema.SEED_PARTS``).

    ``outputs``: the registry's outputs by key (``nprelu.experiments.OUTPUTS``). An unknown
    block or a block of the wrong shape raises :class:`SummaryError` naming the field; with
    ``legacy``, blocks that older versions wrote (``schema.LEGACY_BLOCKS``) are accepted.
    """
    if not isinstance(summary, dict):
        raise SummaryError(f"{where} should be a JSON object")
    for key, block in summary.items():
        if key == "meta":
            check(block, META, f"{where}.meta")
        elif key in SEED_PARTS:
            _check_seed_part(key, block, summary, outputs, f"{where}.{key}")
        elif key in outputs:
            check(block, SCHEMAS[outputs[key].kind], f"{where}.{key}")
        elif key in LEGACY_BLOCKS and legacy:   # an older summary's block, read only
            check(block, SCHEMAS[LEGACY_BLOCKS[key]], f"{where}.{key}")
        else:
            raise SummaryError(f"{where}.{key} is not a block this version writes "
                               f"(known: {', '.join(outputs)})")
    return summary


def _check_seed_part(part: str, value, summary: dict, outputs: dict, where: str) -> None:
    """``runs``, ``intervals`` or ``interval_methods`` (schema.SEED_PARTS), against the blocks."""
    if not isinstance(value, dict):
        raise SummaryError(f"{where} should be an object")
    if part == "runs":
        for seed, blocks in value.items():
            if not seed.isdigit() or not isinstance(blocks, dict):
                raise SummaryError(f"{where}.{seed} should be a seed's object of blocks")
            for key, block in blocks.items():
                if key not in outputs:
                    raise SummaryError(f"{where}.{seed}.{key} is not a block this version writes")
                check(block, SCHEMAS[outputs[key].kind], f"{where}.{seed}.{key}")
        return
    for key, v in value.items():
        if key not in outputs:
            raise SummaryError(f"{where}.{key} is not a block this version writes")
        if part == "interval_methods":
            if not isinstance(v, str):
                raise SummaryError(f"{where}.{key} should be a string")
        elif key in summary:
            check_interval(v, summary[key], f"{where}.{key}")


def read_summary(path, outputs: dict) -> dict:
    """The checked summary stored at ``path``; SummaryError naming the file otherwise."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SummaryError(f"{path}: not a readable summary ({exc})") from None
    return check_summary(summary, outputs, where=str(path))


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
                    old["meta"].update(backend=meta["backend"], subsets=meta["subsets"],
                                       seeds=seeds_of(old_meta))
                    old["meta"].setdefault("subsets_drawn", {})
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

    def has_seed(self, keys, seed: int) -> bool:
        """Whether every block of ``keys`` is recorded for ``seed`` (in ``runs``)."""
        run = (self.data.get("runs") or {}).get(str(seed), {})
        return all(k in run for k in keys)

    def record(self, key: str, numbers: dict, settings, wall_seconds: float,
               flops: int | None = None, jobs: int | None = None, seed: int | None = None,
               subsets: dict | None = None, capacity: float | None = None) -> None:
        """Add the experiment ``key``'s blocks ``numbers`` and save, merged with what concurrent
        runs in the same directory have saved meanwhile.

        ``seed`` None: an experiment run once (no seeds): its blocks go to the top level and it
        is done. Otherwise the blocks of that seed go to ``runs[seed]`` and, when every seed of
        the run (``meta.seeds``) holds them, the top-level blocks become their mean, with
        ``intervals`` and ``interval_methods`` (``aggregate.aggregate``), and ``key`` is done.
        ``wall_seconds``, ``flops``: of the units recorded now, added to what earlier seeds
        spent, and so is ``capacity``, the operations that time allowed at the measured
        matrix-product rate (``meta.matmul_capacity``); ``jobs``: the ``--jobs`` it ran with
        (``schema.META``). ``subsets``: the test
        subsets the units drew, ``{seed: {n: record}}`` (``meta.subsets_drawn``)."""
        numbers, settings = (as_json(v) for v in (numbers, settings))  # as a reload gives them
        numbers, outcomes = split(numbers)   # per-image outcomes -> their values, and their bits
        check_summary(numbers, self.outputs, where=f"experiment {key}", legacy=False)
        with _lock(self.lock_dir):
            self._merge_from_disk()
            OutcomeFile(self.lock_dir).add("once" if seed is None else seed, outcomes)
            meta = self.meta
            complete, added = seed is None, False
            if seed is None:
                self.data.update(numbers)
            else:
                runs = self.data.setdefault("runs", {})
                added = any(all(k in blocks for k in numbers) for s, blocks in runs.items()
                            if s != str(seed))     # another seed counted already: add to it
                runs.setdefault(str(seed), {}).update(numbers)
                seeds = [str(s) for s in seeds_of(meta)]
                complete = all(k in runs.get(s, {}) for s in seeds for k in numbers)
                if complete:
                    agg = aggregate({s: {k: runs[s][k] for k in numbers} for s in seeds})
                    for part in ("intervals", "interval_methods"):
                        self.data.setdefault(part, {}).update(agg.pop(part))
                    self.data.update(agg)
            drawn = meta.setdefault("subsets_drawn", {})
            for s, records in as_json(subsets or {}).items():
                drawn.setdefault(s, {}).update(records)
            meta["settings"][key] = settings
            earlier = meta["wall_seconds"].get(key, 0.0) if added else 0.0
            meta["wall_seconds"][key] = round(wall_seconds + earlier, 1)
            for part, value in (("flops", flops), ("matmul_capacity", capacity), ("jobs", jobs)):
                if value is not None:
                    earlier = (meta.get(part, {}).get(key, 0)
                               if added and part != "jobs" else 0)
                    meta.setdefault(part, {})[key] = int(value) + earlier
            if complete and key not in meta["done"]:
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
            if key == "runs":                      # seed by seed, block by block
                mine_runs = self.data.setdefault("runs", {})
                for seed, blocks in value.items():
                    for k, block in blocks.items():
                        mine_runs.setdefault(seed, {}).setdefault(k, block)
            elif key in SEED_PARTS:
                for k, v in value.items():
                    self.data.setdefault(key, {}).setdefault(k, v)
            elif key != "meta":
                self.data.setdefault(key, value)   # numbers this run computed itself win
        drawn = mine.setdefault("subsets_drawn", {})
        for seed, records in theirs.get("subsets_drawn", {}).items():
            drawn[seed] = {**records, **drawn.get(seed, {})}
        for part in ("settings", "wall_seconds", "flops", "matmul_capacity", "jobs"):
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


def as_recorded(value):
    """``value`` as ``summary.json`` records it: :func:`as_json`, each per-image
    :class:`~nprelu.outcomes.Outcome` replaced by its value (its bits go to ``outcomes.npz``)."""
    return split(as_json(value))[0]


def _json_default(o):
    """Device or NumPy scalars and arrays as plain JSON values; an
    :class:`~nprelu.outcomes.Outcome` as its JSON form."""
    if hasattr(o, "to_json"):
        return o.to_json()
    if hasattr(o, "item") and getattr(o, "ndim", 0) == 0:
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")
