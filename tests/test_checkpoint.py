"""Checkpoint files: what is not a readable nprelu checkpoint is refused naming the file and the
problem, and every file written atomically gets the mode a plain open() would give it."""
import json
import os
import stat
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest

from nprelu.checkpoint import (VERSION, CheckpointError, atomic_write_bytes, read_checkpoint,
                               write_checkpoint)


def _good(path, **meta):
    """A valid 2-3-2 checkpoint at ``path``; ``meta`` overrides its fields."""
    weights = [np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)]
    biases = [np.zeros(3, np.float32), np.zeros(2, np.float32)]
    write_checkpoint(path, weights, biases, {"sizes": [2, 3, 2], "caps": [None], **meta})
    return weights, biases


def test_a_valid_checkpoint_reads_back_its_arrays_and_meta(tmp_path):
    weights, biases = _good(tmp_path / "m.npz", note="x")
    w, b, meta = read_checkpoint(tmp_path / "m.npz")
    assert all(np.array_equal(p, q) for p, q in zip(w + b, weights + biases))
    assert meta["version"] == VERSION and meta["note"] == "x"


def test_a_npy_file_renamed_npz_is_refused_naming_it(tmp_path):
    path = tmp_path / "m.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3)))
    with pytest.raises(CheckpointError, match=r"single NumPy \.npy array, not an \.npz") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content, words", [
    (b"W0 = 1, 2, 3\nmeta = {}\n", "starts with b'W0 = 1, '"),
    (b"", "the file is empty"),
    (b"\x80\x04K\x01.", "not the zip signature"),        # a pickle
])
def test_a_file_that_is_not_an_archive_is_refused_without_talking_of_pickles(tmp_path, content,
                                                                              words):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not an .npz checkpoint") as err:
        read_checkpoint(path)
    message = str(err.value)
    assert str(path) in message and words in message and "pickle" not in message


def test_a_zip_that_is_not_an_npz_is_refused_naming_it(tmp_path):
    path = tmp_path / "m.npz"
    _good(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(CheckpointError, match="entry 'notes.txt' is not a NumPy array") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)


def test_a_truncated_checkpoint_is_refused_naming_it(tmp_path):
    path = tmp_path / "m.npz"
    _good(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable .npz checkpoint") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_an_unknown_format_version_is_refused_naming_it(tmp_path, version):
    path = tmp_path / "m.npz"
    _good(path, version=version)
    with pytest.raises(CheckpointError, match=f"format version {version!r}; this nprelu reads "
                                              f"version {VERSION} only") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("array, index, value", [
    ("W", 0, np.nan), ("W", 1, np.inf), ("b", 1, -np.inf), ("b", 0, np.nan)])
def test_weights_that_are_not_finite_are_refused_naming_the_array(tmp_path, array, index, value):
    weights, biases = _good(tmp_path / "ok.npz")
    bad = (weights if array == "W" else biases)[index]
    bad.flat[0] = value
    path = tmp_path / "m.npz"
    write_checkpoint(path, weights, biases, {"sizes": [2, 3, 2], "caps": [None]})
    message = f"{array}{index} holds 1 NaN or infinite value"
    with pytest.raises(CheckpointError, match=message) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)


def test_integer_weights_are_refused_naming_the_array(tmp_path):
    path = tmp_path / "m.npz"
    meta = json.dumps({"format": "nprelu-mlp", "version": VERSION, "sizes": [2, 3, 2],
                       "caps": [None]})
    np.savez(path, W0=np.zeros((2, 3)), b0=np.zeros(3), W1=np.zeros((3, 2), np.int64),
             b1=np.zeros(2), meta=meta)
    with pytest.raises(CheckpointError, match="W1 is int64, not floating point"):
        read_checkpoint(path)


@contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_respect_the_umask_as_open_does(tmp_path, mask, mode):
    with _umask(mask):
        atomic_write_bytes(tmp_path / "REPORT.md", b"report")
        with open(tmp_path / "plain.md", "wb") as f:
            f.write(b"plain")
    assert _mode(tmp_path / "REPORT.md") == mode == _mode(tmp_path / "plain.md")
    assert (tmp_path / "REPORT.md").read_bytes() == b"report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "plain.md"]


def test_rewriting_a_private_file_makes_it_readable_under_umask_022(tmp_path):
    """Files left at 0600 by earlier versions become readable when they are written again."""
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")
    path.chmod(0o600)
    with _umask(0o022):
        atomic_write_bytes(path, b"new")
        _good(tmp_path / "models" / "m.npz")
    assert _mode(path) == 0o644 and path.read_bytes() == b"new"
    assert _mode(tmp_path / "models" / "m.npz") == 0o644


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    path.write_bytes(b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # f.write refuses a str
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
