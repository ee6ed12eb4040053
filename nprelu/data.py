"""MNIST from its four IDX files, parsed here and checked against known SHA-256 sums.

MNIST (LeCun, Cortes, Burges) is 70,000 greyscale 28x28 handwritten digits: 60,000 for
training and 10,000 for testing, each with a label 0-9. It ships as four IDX files,
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``, each of which may be present gzip-compressed (``NAME.gz``) or raw.

They are looked for in, in order:

1. the ``data_dir`` argument (all four must be there: no fallback),
2. ``$NPRELU_DATA`` (likewise; set but empty is refused, not read as unset),
3. the per-user cache ``$XDG_CACHE_HOME/nprelu/mnist`` (default ``~/.cache/nprelu/mnist``),
   where missing files are downloaded from public mirrors (:data:`MIRRORS`), written to a
   temporary file, checked, and only then renamed into place.

IDX format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian uint32,
then the data, big-endian. :data:`MNIST_FILES` holds the SHA-256 of the *decompressed* IDX
bytes, so it holds for the distributed ``.gz`` files and for recompressed copies alike, and
:data:`MNIST_SIZES` their decompressed sizes.

A file is read in chunks (:data:`CHUNK` bytes), decompressed on the way for a ``.gz``, and its
SHA-256 is computed on the way too. The read is bounded: an MNIST file by its expected size, any
other IDX file by :data:`MAX_IDX_BYTES`; a file that grows past its bound (a decompression bomb,
a wrong file under an MNIST name) stops at once with a :class:`DataError` naming it, having held
at most the bound in memory.

Host-side I/O: this module uses NumPy directly. Images come back as read-only float32 arrays in
[0, 1] with shape (N, 784), labels as read-only int64 arrays of shape (N,).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .checkpoint import new_file_mode

MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: The decompressed size of each IDX file in bytes: its header and 60,000 or 10,000 items.
MNIST_SIZES = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
#: The most bytes read from an IDX file whose name is not one of MNIST's.
MAX_IDX_BYTES = 1 << 30
#: Bytes decompressed (or read) at a time.
CHUNK = 1 << 20
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
FIX = ("delete it and run again, or point --data DIR (or $NPRELU_DATA) at a directory holding "
       "the four MNIST files")
SET_DATA = ("pass --data DIR to run_all.py (data_dir= in Python) or set NPRELU_DATA to a "
            "directory holding the four MNIST files (.gz or raw)")

_CACHE_SIZE = 2          # parsed datasets kept in memory (one MNIST is ~220 MB)
_cache: dict = {}


class DataError(Exception):
    """A data file that is missing, corrupt or unreachable; the message names it and the fix."""


def cache_dir() -> Path:
    """The per-user download cache: ``$XDG_CACHE_HOME/nprelu/mnist``, else ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nprelu" / "mnist"


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """The array stored in the IDX bytes ``raw``, in native byte order; ``name`` is for errors."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number 0x{bytes(raw[:4]).hex()}, "
                        f"expected 0x0000 then type and rank); {FIX}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x}; {FIX}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated: header of {ndim} dimensions needs {header} bytes, "
                        f"file has {len(raw)}; {FIX}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[code]
    need, have = math.prod(dims) * dtype.itemsize, len(raw) - header
    if have != need:
        what = "truncated" if have < need else "trailing bytes"
        shape = "x".join(map(str, dims)) or "scalar"
        raise DataError(f"{name}: {what}: header says {shape} = {need} bytes of data, "
                        f"file has {have}; {FIX}")
    array = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def read_idx_file(path, limit=None) -> bytes:
    """The decompressed bytes of a raw or ``.gz`` IDX file, read in a stream of at most
    ``limit`` bytes (default: :func:`size_limit`); DataError naming the file if it has more."""
    return read_idx_stream(path, limit)[0]


def size_limit(path) -> int:
    """The most decompressed bytes ``path`` may hold: its :data:`MNIST_SIZES` entry for an MNIST
    file name (with or without ``.gz``), else :data:`MAX_IDX_BYTES`."""
    return MNIST_SIZES.get(Path(path).name.removesuffix(".gz"), MAX_IDX_BYTES)


def read_idx_stream(path, limit=None) -> tuple[bytes, str]:
    """``(raw, sha256)``: the decompressed bytes of a raw or ``.gz`` IDX file and their SHA-256
    (hex), both made chunk by chunk. DataError naming the file, as soon as the stream passes
    ``limit`` bytes (default: :func:`size_limit`), or when it cannot be read or decompressed."""
    path = Path(path)
    limit = size_limit(path) if limit is None else int(limit)
    gz = path.suffix == ".gz"
    digest, chunks = hashlib.sha256(), []
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            for chunk in _bounded_chunks(f, limit, path, gz):
                digest.update(chunk)
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile is an OSError
        kind = "a gzip file" if gz else "a file"
        raise DataError(f"{path}: cannot be read as {kind} ({type(exc).__name__}: {exc}); "
                        f"{FIX}") from None
    return b"".join(chunks), digest.hexdigest()


def _locate(directory: Path, name: str) -> Path | None:
    """``directory/NAME.gz`` or ``directory/NAME``, whichever exists first, else None."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _bounded_chunks(f, limit: int, path, gz: bool):
    """The bytes of the open file ``f``, :data:`CHUNK` at a time; DataError naming ``path`` as
    soon as they pass ``limit`` (at most ``limit + 1`` bytes are ever read)."""
    size = 0
    while chunk := f.read(min(CHUNK, limit + 1 - size)):
        size += len(chunk)
        if size > limit:
            raise DataError(f"{path}: {'decompresses' if gz else 'holds'} to more than "
                            f"{limit:,} bytes, the size of this file (a decompression bomb, or "
                            f"not the file its name says); {FIX}")
        yield chunk


def _gz_sha256(path: Path, limit: int) -> str:
    """The SHA-256 of the gzip file ``path`` decompressed, in a stream bounded by ``limit``."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for chunk in _bounded_chunks(f, limit, path, True):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, name: str, sha: str, timeout: float) -> None:
    """Download ``url`` into a temp file in ``dest``, check it, and rename it to ``NAME.gz``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            os.fchmod(out.fileno(), new_file_mode())   # readable as a plain open() makes it
            shutil.copyfileobj(resp, out)
        actual = _gz_sha256(Path(tmp), MNIST_SIZES.get(name, MAX_IDX_BYTES))
        if actual != sha:
            raise ValueError(f"checksum of the decompressed file is {actual}, expected {sha}")
        os.replace(tmp, dest / f"{name}.gz")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_mnist(dest, mirrors=MIRRORS, timeout=30) -> Path:
    """Fetch each file missing from ``dest``, trying ``mirrors`` in turn; returns ``dest``.

    Only files whose decompressed SHA-256 matches :data:`MNIST_FILES` are kept. If every mirror
    fails for a file, :class:`DataError` lists the URLs tried and why.
    """
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest}: cannot create the download directory ({exc}); "
                        f"{SET_DATA}") from None
    for name, sha in MNIST_FILES.items():
        if _locate(dest, name):
            continue
        failures = []
        for base in mirrors:
            url = f"{base}{name}.gz"
            try:
                _fetch(url, dest, name, sha, timeout)
                break
            except (OSError, EOFError, zlib.error, ValueError, DataError,
                    http.client.HTTPException) as exc:
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
        else:
            tried = "\n  ".join(failures) or "(no mirrors given)"
            raise DataError(f"{dest / (name + '.gz')}: could not be downloaded; tried:\n  {tried}\n"
                            f"Fix: check the network connection, or {SET_DATA}.")
    return dest


def find_data_dir(data_dir=None, flag: str = "data_dir") -> Path | None:
    """The directory to read MNIST from: ``data_dir``, else ``$NPRELU_DATA``, else the cache.

    A directory given (the argument, ``flag`` naming it in messages: ``"--data"`` for
    ``run_all.py``, or the environment) that is empty, missing or lacks a file raises
    :class:`DataError` in one line naming the files and a fix that fits how it was given; no
    fallback. ``~`` is expanded. Returns None when the cache is the place to use but does not
    hold all four files yet.
    """
    if data_dir is not None:
        return _given_dir(str(data_dir), flag, " ", f"point {flag} at")
    env = os.environ.get("NPRELU_DATA")
    if env is not None:
        return _given_dir(env, "NPRELU_DATA", "=", "set NPRELU_DATA to",
                          ", or unset it to use the download cache")
    cache = cache_dir()
    return cache if all(_locate(cache, n) for n in MNIST_FILES) else None


def data_given(data_dir=None) -> bool:
    """Whether the MNIST directory is given (``data_dir`` or ``$NPRELU_DATA``), not the cache's.
    An error in a given directory is the caller's to fix: ``run_all.py`` exits 2 for it, and 1
    for the cache's (a failed download)."""
    return data_dir is not None or "NPRELU_DATA" in os.environ


def _given_dir(text: str, name: str, sep: str, point: str, other: str = "") -> Path:
    """``text`` as a directory holding the four files, else :class:`DataError`: ``name`` and
    ``sep`` say how it was given (``NPRELU_DATA=``), ``point`` how to give another."""
    fix = f"{point} the directory holding the four MNIST files{other}"
    if not text:
        raise DataError(f"{name} is empty; {fix}")
    where = Path(text).expanduser()
    label = f"{name}{sep}{where}"
    if not where.is_dir():
        why = "not a directory" if where.exists() else "no such directory"
        raise DataError(f"{label}: {why}; {fix}")
    missing = [n for n in MNIST_FILES if not _locate(where, n)]
    if len(missing) == len(MNIST_FILES):
        raise DataError(f"{label}: no MNIST file there ({{train,t10k}}-{{images-idx3,labels-idx1}}"
                        f"-ubyte[.gz]); {point} the directory holding them{other}")
    if missing:
        raise DataError(f"{label}: {', '.join(n + '[.gz]' for n in missing)} missing there; "
                        f"put {'it' if len(missing) == 1 else 'them'} there, or {fix}")
    return where


def load_idx_pair(images_path, labels_path, expected_sha=None):
    """``(x, y)`` from one images/labels pair: float32 (N, 784) in [0, 1] and int64 (N,).

    ``expected_sha`` is None or the pair of SHA-256 sums of the decompressed files.
    """
    arrays = []
    for path, sha in zip((images_path, labels_path), expected_sha or (None, None)):
        raw, actual = read_idx_stream(path)
        if sha is not None and actual != sha:
            raise DataError(f"{path}: SHA-256 of its decompressed contents is {actual}, "
                            f"expected {sha}; {FIX}")
        arrays.append(parse_idx(raw, str(path)))
    images, labels = arrays
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: images should be N x 28 x 28 uint8, got "
                        f"{'x'.join(map(str, images.shape))} {images.dtype}; {FIX}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
        raise DataError(f"{labels_path}: {'x'.join(map(str, labels.shape))} {labels.dtype} labels "
                        f"for {len(images)} images in {images_path}; {FIX}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{labels_path}: labels outside 0..9 (min {labels.min()}, "
                        f"max {labels.max()}); {FIX}")
    x = images.reshape(len(images), 28 * 28).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


def load_mnist(data_dir=None, download=True, verify=True):
    """``(x_train, y_train, x_test, y_test)``: float32 images (N, 784) in [0, 1], int64 labels.

    Files are found as the module docstring says; with ``verify`` each decompressed file's
    SHA-256 is checked against :data:`MNIST_FILES`. The arrays are read-only and kept in memory
    per directory (and file size/mtime), so later calls in a process are cheap.
    """
    directory = find_data_dir(data_dir)
    if directory is None:
        cache = cache_dir()
        if not download:
            raise DataError(f"{cache}: MNIST is not in the download cache and download=False; "
                            f"{SET_DATA}, or allow the download")
        directory = download_mnist(cache, MIRRORS)
    directory = directory.resolve()
    paths = {name: _locate(directory, name) for name in MNIST_FILES}
    stamps = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths.values())
    key = (str(directory), bool(verify), stamps)
    if key not in _cache:
        out = []
        for split in ("train", "t10k"):
            names = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
            shas = tuple(MNIST_FILES[n] for n in names) if verify else None
            for array in load_idx_pair(paths[names[0]], paths[names[1]], shas):
                array.flags.writeable = False
                out.append(array)
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = tuple(out)
    return _cache[key]
