"""Checkpoint files: what is not a readable nprelu checkpoint is refused naming the file and the
problem, and every file written atomically gets the mode a plain open() would give it."""
import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest

from nprelu import checkpoint
from nprelu.checkpoint import (META_MAX_CHARS, VERSION, CheckpointError, OutputError,
                               atomic_write_bytes, read_checkpoint, write_checkpoint)


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


# ---- the size cap on meta, and writes that fail (issue 26) -------------------------------------
def test_a_meta_over_the_cap_is_refused_by_name_without_loading_it(tmp_path):
    path = tmp_path / "m.npz"
    _good(path, note="x" * (2 * META_MAX_CHARS))           # 8 MiB as NumPy stores it
    chars = len(json.dumps({"format": "nprelu-mlp", "version": VERSION, "sizes": [2, 3, 2],
                            "caps": [None], "note": "x" * (2 * META_MAX_CHARS)}))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=f"'meta' holds {chars:,} characters, more "
                                                  f"than the {META_MAX_CHARS:,}") as err:
            read_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 2 * META_MAX_CHARS            # far below the 8 MiB that loading would cost


def test_a_meta_under_the_cap_still_loads(tmp_path):
    path = tmp_path / "m.npz"
    _good(path, note="x" * (META_MAX_CHARS // 2))
    assert len(read_checkpoint(path)[2]["note"]) == META_MAX_CHARS // 2


def test_a_full_disk_names_the_path_being_written_not_a_temporary(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.write_bytes(b"old")

    def full(fd, mode):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(checkpoint.os, "fchmod", full)
    with pytest.raises(OutputError) as err:
        atomic_write_bytes(path, b"new")
    assert err.value.errno == errno.ENOSPC and isinstance(err.value, OSError)
    assert str(err.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_folder_that_cannot_be_created_names_the_path(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}/file/sub/m.npz: ") as err:
        _good(tmp_path / "file" / "sub" / "m.npz")
    assert err.value.errno in (errno.ENOTDIR, errno.EEXIST)


def test_a_file_size_limit_fails_the_write_with_efbig_naming_the_path(tmp_path):
    """A real RLIMIT_FSIZE in a child process: the write gets EFBIG (SIGXFSZ ignored)."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        from nprelu.checkpoint import OutputError, atomic_write_bytes
        try:
            atomic_write_bytes({str(tmp_path / "big.bin")!r}, bytes(5000))
        except OutputError as exc:
            print(exc.errno, exc, sep="|")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         timeout=60)
    code, message = out.stdout.strip().split("|")
    assert int(code) == errno.EFBIG, out
    assert message == f"cannot write {tmp_path / 'big.bin'}: File too large"
    assert list(tmp_path.iterdir()) == []


def _no_space_for(monkeypatch, suffix):
    """Every atomic write of a file ending in ``suffix`` fails as on a full disk (at the rename,
    after the data went to the temporary file)."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *args, **kwargs)
    monkeypatch.setattr(checkpoint.os, "replace", replace)


def _only(summary, keys):
    """``summary`` with the blocks ``keys`` alone (fewer figures to draw)."""
    out = {k: summary[k] for k in ("meta", *keys) if k in summary}
    out["runs"] = {s: {k: r[k] for k in keys if k in r} for s, r in summary["runs"].items()}
    for part in ("intervals", "interval_methods"):
        out[part] = {k: v for k, v in summary[part].items() if k in keys}
    return out


def test_a_figure_that_cannot_be_written_fails_write_all_naming_it(tmp_path, summary,
                                                                  monkeypatch):
    from nprelu.report import write_all
    _no_space_for(monkeypatch, ".png")
    with pytest.raises(OutputError, match=r"cannot write .*\.png: No space left on device") as err:
        write_all(_only(summary, ("fig03", "table1")), tmp_path)
    assert err.value.errno == errno.ENOSPC
    assert (tmp_path / "REPORT.md").exists() and (tmp_path / "table1.md").exists()
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".*"))


def test_a_report_that_cannot_be_written_fails_write_all_naming_it(tmp_path, summary,
                                                                  monkeypatch):
    from nprelu.report import write_all
    _no_space_for(monkeypatch, "REPORT.md")
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'REPORT.md'}: No space"):
        write_all(_only(summary, ("fig03", "table1")), tmp_path)
    assert list(tmp_path.glob("*.png")) and (tmp_path / "table1.md").exists()


def test_a_run_whose_figure_cannot_be_written_exits_1_naming_it_and_keeps_its_results(
        tmp_path, mnist, monkeypatch, capfd):
    import run_all
    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    _no_space_for(monkeypatch, ".png")
    out = tmp_path / "out"
    assert run_all.main(["--profile", "quick", "--only", "fig03", "--out", str(out),
                         "--jobs", "1"]) == 1
    err = capfd.readouterr().err.splitlines()
    assert not any(line.startswith("done") or " done in " in line for line in err), err
    assert err[-1].startswith(f"run_all.py: error: cannot write {out}/"), err[-1]
    assert ".png: No space left on device" in err[-1] and "run the same command again" in err[-1]
    assert json.loads((out / "summary.json").read_text())["meta"]["done"] == ["fig03"]


def test_a_summary_that_cannot_be_written_exits_1_naming_it(tmp_path, mnist, monkeypatch,
                                                            capfd):
    import run_all
    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    _no_space_for(monkeypatch, "summary.json")
    out = tmp_path / "out"
    assert run_all.main(["--profile", "quick", "--only", "fig03", "--out", str(out),
                         "--jobs", "1"]) == 1
    last = capfd.readouterr().err.splitlines()[-1]
    assert last.startswith(f"run_all.py: error: cannot write {out / 'summary.json'}: No space "
                           "left on device"), last
    assert not list(out.glob(".summary.json.*"))       # no temporary left behind
