"""Checkpoints as plain ``.npz`` files (no pickle), written atomically.

Layout of a network checkpoint: ``W{i}`` (fan_in, fan_out) and ``b{i}`` (fan_out,) for each
layer i = 0, 1, ..., and ``meta``, a JSON string holding at least ``format``, ``version``,
``sizes`` and ``caps``, of at most :data:`META_MAX_CHARS` characters (a few hundred in
practice): a larger one is refused from its ``.npy`` header, before it is loaded. Host-side
I/O, so this module uses NumPy directly.

Every file is written through :func:`atomic_write_bytes`, which reports a failed write (a full
disk, ENOSPC; a file-size limit, EFBIG; a read-only folder) as an :class:`OutputError` naming
the path it was writing and the OS error. :func:`locked` is the one inter-process lock on a
file being made (a trained network, a unit of work): ``flock`` on a ``.NAME.lock`` beside it.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .progress import log

FORMAT = "nprelu-mlp"
VERSION = 1
#: The most characters a checkpoint's ``meta`` JSON may hold (1 Mi; NumPy stores 4 bytes each).
META_MAX_CHARS = 1 << 20


class CheckpointError(ValueError):
    """A file that is not a readable nprelu checkpoint."""


class OutputError(OSError):
    """An output that could not be written; ``errno`` and ``strerror`` are the OS error's, and
    ``filename`` the path being written (not the temporary file)."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The file gets the mode a plain ``open(path, "wb")`` gives a new file, ``0o666`` less the
    process umask (0644 under the usual umask 022): ``mkstemp`` alone would leave it private
    (0600), unreadable to collaborators.

    :class:`OutputError` (an OSError with the OS error's errno) naming ``path`` if any step
    fails: ENOSPC, EFBIG and EACCES name the file being written, not a temporary one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def new_file_mode() -> int:
    """The mode a plain ``open()`` gives a new file: 0o666 less the process umask (read by
    setting it and putting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


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
    file, a file that is not an ``.npz`` archive (a single ``.npy`` array, text, ...), a missing or
    malformed ``meta``, another format version, missing arrays, shapes that do not chain
    ``sizes[0] -> sizes[1] -> ...``, or weights that are not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    arrays = _read_npz(path)
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: no 'meta' entry; not an nprelu checkpoint")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: 'meta' does not describe an {FORMAT} checkpoint")
    version = meta.get("version", VERSION)
    if version != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r}; this nprelu "
                              f"reads version {VERSION} only (retrain the network, or load it "
                              "with the nprelu that wrote it)")
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
        for name, a in ((f"W{i}", w), (f"b{i}", b)):
            if a.dtype.kind != "f":
                raise CheckpointError(f"{path}: {name} is {a.dtype}, not floating point")
            bad = a.size - int(np.count_nonzero(np.isfinite(a)))
            if bad:
                raise CheckpointError(f"{path}: {name} holds {bad} NaN or infinite value(s) "
                                      f"of {a.size}; the network diverged or the file is damaged")
        weights.append(w)
        biases.append(b)
    return weights, biases, meta


#: What a file starts with, by format: a zip archive (``.npz``), a single ``.npy`` array.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


def _read_npz(path: Path) -> dict:
    """Every array of the ``.npz`` archive at ``path``; CheckpointError saying what it is else."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith(_NPY_MAGIC):
        raise CheckpointError(f"{path}: a single NumPy .npy array, not an .npz checkpoint "
                              "(a checkpoint is an archive of W0, b0, ..., meta)")
    if not head.startswith(_ZIP_MAGIC):
        what = "empty" if not head else f"starts with {head!r}, not the zip signature 'PK'"
        raise CheckpointError(f"{path}: not an .npz checkpoint (the file is {what})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "meta" in npz.files:
                _check_meta_size(path, npz.zip)
            arrays = {k: npz[k] for k in npz.files}
    except CheckpointError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint "
                              f"({type(exc).__name__}: {exc})") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):   # NpzFile hands back a non-.npy member's bytes
            raise CheckpointError(f"{path}: not a readable .npz checkpoint (its entry {key!r} "
                                  "is not a NumPy array)")
    return arrays


def _check_meta_size(path: Path, archive: zipfile.ZipFile) -> None:
    """CheckpointError naming ``path`` when its ``meta`` holds more than :data:`META_MAX_CHARS`
    characters, read from the ``.npy`` header of ``meta.npy`` alone (its shape and dtype), so
    that an oversized string is never loaded."""
    with archive.open("meta.npy") as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise ValueError(f"meta.npy has an unknown .npy format version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
    chars = int(np.prod(shape, dtype=object)) * dtype.itemsize // (4 if dtype.kind == "U" else 1)
    if chars > META_MAX_CHARS:
        raise CheckpointError(f"{path}: its 'meta' holds {chars:,} characters, more than the "
                              f"{META_MAX_CHARS:,} a checkpoint's meta may have; not loaded "
                              "(the file is damaged or not a checkpoint of this nprelu)")


@contextmanager
def locked(path: Path, what: str | None = None):
    """An exclusive ``flock`` on ``DIR/.NAME.lock`` (beside ``path`` = ``DIR/NAME``), held for
    the block; another process asking for it waits (saying so, naming ``what`` or NAME). The
    lock file stays (empty): removing it while another process waits on it would let a third
    take a second lock."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {what or path.name}: another process is making it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
