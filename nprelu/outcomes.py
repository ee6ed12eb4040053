r"""Per-image outcomes: what stands behind every accuracy and success rate of the summary.

An :class:`Outcome` is one proportion kept image by image: the test images it is over (their
indices in the 10,000 MNIST test images), for each a hit (1: classified correctly, or the
attack succeeded) or a miss, and optionally which images are counted (a success rate counts
only the images correct before the attack). Its value is::

    value = sum_n hit_n * counted_n / sum_n counted_n        (None when nothing is counted)

the very float the summary records: an experiment puts Outcomes where it used to put the
accuracy, and the runner (``runner/summary.py``) records each one's value in ``summary.json``
and its bits in ``outcomes.npz`` beside it (:class:`OutcomeFile`), so every number can be
recomputed, and two networks or two attacks compared image by image on the same images.

Between a worker and the summary an Outcome travels as JSON (:meth:`Outcome.to_json`: packed
bits and indices in base64, and the value). Host-side only: NumPy, never the device.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write_bytes

#: The JSON form's marker key (:meth:`Outcome.to_json`).
TAG = "__outcome__"
#: What the test-image indices are stored as (10,000 < 2**16).
INDEX_DTYPE = np.uint16


def _host(a):
    """``a`` as a NumPy array on the host (a CuPy array has ``.get()``)."""
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _bits(a) -> str:
    return base64.b64encode(np.packbits(a).tobytes()).decode()


def _unbits(s: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(base64.b64decode(s), np.uint8), count=n).astype(bool)


class Outcome:
    """One proportion, image by image (module doc). ``hits``: bool per image; ``images``: the
    test-image indices, one per hit, distinct; ``counted``: bool per image, or None (all).
    ValueError on shapes that disagree or indices that repeat or leave [0, 65535]."""

    __slots__ = ("hits", "images", "counted")

    def __init__(self, hits, images, counted=None):
        hits = _host(hits).astype(bool).ravel()
        images = _host(images).astype(np.int64).ravel()
        if len(images) != len(hits):
            raise ValueError(f"outcome: {len(hits)} hits for {len(images)} images")
        if len(images) and (images.min() < 0 or images.max() > np.iinfo(INDEX_DTYPE).max):
            raise ValueError("outcome: image indices must lie in [0, 65535]")
        if len(np.unique(images)) != len(images):
            raise ValueError("outcome: an image appears twice")
        if counted is not None:
            counted = _host(counted).astype(bool).ravel()
            if len(counted) != len(hits):
                raise ValueError(f"outcome: {len(counted)} counted flags for {len(hits)} hits")
        self.hits, self.images, self.counted = hits, images.astype(INDEX_DTYPE), counted

    @property
    def n(self) -> int:
        """The images counted: the proportion's denominator."""
        return int(len(self.hits) if self.counted is None else self.counted.sum())

    @property
    def k(self) -> int:
        """The hits among the counted images: the numerator."""
        return int((self.hits if self.counted is None else self.hits & self.counted).sum())

    @property
    def value(self) -> float | None:
        """k / n, as the summary records it (None when n = 0)."""
        return float(self.k) / self.n if self.n else None

    def __float__(self) -> float:
        v = self.value
        return float("nan") if v is None else v

    def __eq__(self, other) -> bool:
        return (isinstance(other, Outcome) and np.array_equal(self.images, other.images)
                and np.array_equal(self.hits, other.hits)
                and (self.counted is None) == (other.counted is None)
                and (self.counted is None or np.array_equal(self.counted, other.counted)))

    def __repr__(self) -> str:
        return f"Outcome({self.k}/{self.n} of {len(self.hits)} images)"

    def subset(self, keep) -> "Outcome":
        """The outcome on the images where ``keep`` (bool per image) holds."""
        keep = _host(keep).astype(bool)
        return Outcome(self.hits[keep], self.images[keep],
                       None if self.counted is None else self.counted[keep])

    def to_json(self) -> dict:
        """The JSON form a worker's partial result carries (module doc)."""
        return {TAG: 1, "value": self.value, "n_images": int(len(self.hits)),
                "hits": _bits(self.hits),
                "images": base64.b64encode(self.images.tobytes()).decode(),
                "counted": None if self.counted is None else _bits(self.counted)}

    @classmethod
    def from_json(cls, d: dict) -> "Outcome":
        n = int(d["n_images"])
        images = np.frombuffer(base64.b64decode(d["images"]), INDEX_DTYPE)
        counted = None if d.get("counted") is None else _unbits(d["counted"], n)
        return cls(_unbits(d["hits"], n), images, counted)


def is_outcome(value) -> bool:
    """Whether ``value`` is an :class:`Outcome` or its JSON form."""
    return isinstance(value, Outcome) or (isinstance(value, dict) and TAG in value)


def as_outcome(value) -> Outcome:
    return value if isinstance(value, Outcome) else Outcome.from_json(value)


def split(block, path: str = ""):
    """``(numbers, outcomes)``: ``block`` (a JSON-like tree, as a partial result comes back) with
    every Outcome, or its JSON form, replaced by its value, and ``{path: Outcome}`` of them,
    paths written as ``table1[3].clean``, ``fig02.accuracy.HL1.0.01``."""
    found: dict = {}

    def walk(v, where):
        if is_outcome(v):
            o = as_outcome(v)
            found[where] = o
            return o.value
        if isinstance(v, dict):
            return {k: walk(x, f"{where}.{k}" if where else str(k)) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{where}[{i}]") for i, x in enumerate(v)]
        return v
    return walk(block, path), found


def values_at(block, path: str = ""):
    """Every leaf of ``block`` by path, as :func:`split` writes paths: ``{path: value}``."""
    out: dict = {}

    def walk(v, where):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{where}.{k}" if where else str(k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{where}[{i}]")
        else:
            out[where] = v
    walk(block, path)
    return out


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


class OutcomeFile:
    """``outcomes.npz`` beside ``summary.json``: every recorded Outcome, by seed and path.

    Inside the archive: ``manifest``, a JSON text ``{"SEED/PATH": {"images": DIGEST, "n": N,
    "counted": bool}}``; ``images/DIGEST``, each distinct set of test-image indices once
    (uint16); ``hits/SEED/PATH`` and, where not every image counts, ``counted/SEED/PATH``, packed
    bits (``numpy.packbits``). Written whole and atomically; compressed."""

    NAME = "outcomes.npz"

    def __init__(self, out_dir):
        self.path = Path(out_dir) / self.NAME

    def read(self) -> dict:
        """``{seed (str): {path: Outcome}}``; empty when there is no file. ValueError naming the
        file when it cannot be read."""
        if not self.path.exists():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as z:
                manifest = json.loads(str(z["manifest"]))
                out: dict = {}
                for key, entry in manifest.items():
                    seed, path = key.split("/", 1)
                    n = int(entry["n"])
                    hits = np.unpackbits(z[f"hits/{key}"], count=n).astype(bool)
                    counted = (np.unpackbits(z[f"counted/{key}"], count=n).astype(bool)
                               if entry["counted"] else None)
                    out.setdefault(seed, {})[path] = Outcome(hits, z[f"images/{entry['images']}"],
                                                             counted)
            return out
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: not a readable outcome file ({exc})") from None

    def write(self, outcomes: dict) -> None:
        """Store ``{seed: {path: Outcome}}`` (the whole file), atomically."""
        arrays, manifest = {}, {}
        for seed, by_path in sorted(outcomes.items()):
            for path, o in sorted(by_path.items()):
                key = f"{seed}/{path}"
                digest = _digest(o.images)
                arrays[f"images/{digest}"] = o.images
                arrays[f"hits/{key}"] = np.packbits(o.hits)
                if o.counted is not None:
                    arrays[f"counted/{key}"] = np.packbits(o.counted)
                manifest[key] = {"images": digest, "n": int(len(o.hits)),
                                 "counted": o.counted is not None}
        buf = io.BytesIO()
        np.savez_compressed(buf, manifest=np.array(json.dumps(manifest, sort_keys=True)),
                            **arrays)
        atomic_write_bytes(self.path, buf.getvalue())

    def add(self, seed, outcomes: dict) -> None:
        """Add one seed's ``{path: Outcome}`` (replacing those paths) and write the file. The
        caller holds the summary's lock (``SummaryFile.record``)."""
        if not outcomes:
            return
        stored = self.read()
        stored.setdefault(str(seed), {}).update(outcomes)
        self.write(stored)
