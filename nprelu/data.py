"""MNIST from its four IDX files, parsed here, checked against known SHA-256 sums.

The files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each ``.gz`` or raw) are looked for in, in order:

1. the ``data_dir`` argument (all four must be there: no fallback),
2. ``$NPRELU_DATA`` (likewise),
3. the per-user cache ``$XDG_CACHE_HOME/nprelu/mnist`` (default ``~/.cache/nprelu/mnist``), where
   missing files are downloaded from public mirrors, written atomically and kept only when
   their checksum is right.

IDX format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian uint32,
then the data, big-endian. The SHA-256 is of the decompressed IDX bytes, so it holds for the
distributed ``.gz`` files and for recompressed copies alike.

Host-side I/O: this module uses NumPy directly. Images come back as float32 in [0, 1] with
shape (N, 784), labels as int64.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
FIX = ("delete it and run again to download a fresh copy, or set NPRELU_DATA to a directory "
       "holding the four MNIST files")

_cache: dict = {}


class DataError(Exception):
    """A data file that is missing, corrupt or unreachable; the message names it and the fix."""


def cache_dir() -> Path:
    """The per-user download cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nprelu" / "mnist"


def parse_idx(raw: bytes, name: str) -> np.ndarray:
    """The array stored in the IDX bytes ``raw`` (native byte order); ``name`` is for errors."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number {raw[:4].hex()}); {FIX}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x}; {FIX}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header; {FIX}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[code]
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have != need:
        what = "truncated" if have < need else "trailing bytes"
        raise DataError(f"{name}: {what}: header says {'x'.join(map(str, dims))} = {need} bytes "
                        f"of data, file has {have}; {FIX}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx_file(path) -> bytes:
    """The decompressed bytes of a raw or ``.gz`` IDX file."""
    path = Path(path)
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.suffix == ".gz" else data
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'IDX'} "
                        f"({exc}); {FIX}") from None


def _locate(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def download_mnist(dest, mirrors=MIRRORS, timeout=30.0) -> None:
    """Fetch each missing file into ``dest``; only files whose checksum is right are kept."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, sha in MNIST_FILES.items():
        if _locate(dest, name):
            continue
        failures = []
        for base in mirrors:
            url = f"{base}{name}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    payload = response.read()
                actual = _sha256(gzip.decompress(payload))
            except (urllib.error.URLError, OSError, EOFError, zlib.error, ValueError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            if actual != sha:
                failures.append(f"{url}: checksum {actual} != expected {sha}")
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=dest)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(payload)
                os.replace(tmp, dest / f"{name}.gz")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            break
        else:
            raise DataError(f"{name}.gz: could not be downloaded into {dest}; tried:\n  "
                            + "\n  ".join(failures)
                            + "\nFix: set NPRELU_DATA to a directory holding the four MNIST files "
                              "(or pass data_dir), or check the network connection.")


def find_data_dir(data_dir=None, download=True) -> Path:
    """The directory the four files will be read from (downloading into the cache if allowed)."""
    for where, source in ((data_dir, "data_dir"), (os.environ.get("NPRELU_DATA"), "NPRELU_DATA")):
        if where:
            where = Path(where)
            missing = [n for n in MNIST_FILES if not _locate(where, n)]
            if missing:
                raise DataError(f"{where} (from {source}) lacks {', '.join(missing)} (.gz or raw); "
                                "put the four MNIST files there or point it elsewhere")
            return where
    cache = cache_dir()
    if any(not _locate(cache, n) for n in MNIST_FILES):
        if not download:
            raise DataError(f"MNIST is not in {cache} and download=False; set NPRELU_DATA")
        download_mnist(cache)
    return cache


def load_mnist(data_dir=None, download=True, verify=True):
    """``(x_train, y_train, x_test, y_test)``: float32 images (N, 784) in [0, 1], int64 labels.

    The arrays are read-only and cached per directory, so later calls in a process are free.
    """
    directory = find_data_dir(data_dir, download).resolve()
    key = (str(directory), verify)
    if key not in _cache:
        arrays = {}
        for name, sha in MNIST_FILES.items():
            path = _locate(directory, name)
            raw = read_idx_file(path)
            if verify and _sha256(raw) != sha:
                raise DataError(f"{path}: SHA-256 of its contents is {_sha256(raw)}, expected {sha}; {FIX}")
            arrays[name] = (path, parse_idx(raw, str(path)))
        out = []
        for split in ("train", "t10k"):
            (ipath, images), (lpath, labels) = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
            if images.ndim != 3 or images.shape[1:] != (28, 28):
                raise DataError(f"{ipath}: images should be N x 28 x 28, got {images.shape}; {FIX}")
            if labels.ndim != 1 or len(labels) != len(images):
                raise DataError(f"{lpath}: {labels.shape} labels for {len(images)} images in {ipath}; {FIX}")
            x = images.reshape(len(images), 784).astype(np.float32) / np.float32(255.0)
            y = labels.astype(np.int64)
            for a in (x, y):
                a.flags.writeable = False
            out += [x, y]
        _cache[key] = tuple(out)
    return _cache[key]
