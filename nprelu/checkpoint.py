"""Checkpoints as plain ``.npz`` files (no pickle), written atomically.

Layout of a network checkpoint: ``W{i}`` (fan_in, fan_out) and ``b{i}`` (fan_out,) for each
layer i = 0, 1, ..., and ``meta``, a JSON string holding at least ``format``, ``version``,
``sizes`` and ``caps``. Host-side I/O, so this module uses NumPy directly.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "nprelu-mlp"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable nprelu checkpoint."""


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_checkpoint(path, weights, biases, meta: dict) -> None:
    """Save host arrays ``weights[i]``, ``biases[i]`` and the JSON-able ``meta``."""
    arrays = {}
    for i, (w, b) in enumerate(zip(weights, biases)):
        arrays[f"W{i}"] = np.asarray(w)
        arrays[f"b{i}"] = np.asarray(b)
    meta = {"format": FORMAT, "version": VERSION, **meta}
    arrays["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_checkpoint(path):
    """``(weights, biases, meta)`` from a checkpoint, checked for consistency.

    Raises :class:`CheckpointError` naming the file and the problem for anything else: a missing
    file, a non-npz file, a missing or malformed ``meta``, missing arrays, or shapes that do not
    chain ``sizes[0] -> sizes[1] -> ...``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{path}: not an .npz checkpoint ({exc})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: no 'meta' entry; not an nprelu checkpoint")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: 'meta' does not describe an {FORMAT} checkpoint")
    sizes, caps = meta.get("sizes"), meta.get("caps")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and isinstance(caps, list)
            and len(caps) == len(sizes) - 2):
        raise CheckpointError(f"{path}: 'meta' needs 'sizes' (>= 2 layers) and one cap per hidden layer")
    weights, biases = [], []
    for i in range(len(sizes) - 1):
        shape = (sizes[i], sizes[i + 1])
        w, b = arrays.get(f"W{i}"), arrays.get(f"b{i}")
        if w is None or b is None:
            raise CheckpointError(f"{path}: missing W{i} or b{i}")
        if w.shape != shape or b.shape != (shape[1],):
            raise CheckpointError(
                f"{path}: W{i} has shape {w.shape} and b{i} {b.shape}; sizes {sizes} need {shape} and ({shape[1]},)")
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise CheckpointError(f"{path}: W{i}/b{i} are not floating point")
        weights.append(w)
        biases.append(b)
    return weights, biases, meta
