"""The MNIST loader: IDX parsing, error messages, the search order, downloads, the real files."""
import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nprelu import data
from nprelu.data import (MNIST_FILES, DataError, cache_dir, download_mnist, find_data_dir,
                         load_mnist, parse_idx, read_idx_file)

CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
NAMES = list(MNIST_FILES)
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES


def idx_bytes(array, code=0x08):
    """A tiny IDX writer: magic, type code, rank, big-endian dims, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(CODES[code]).tobytes()


def small_mnist(n_train=5, n_test=3, seed=0):
    """Four small uint8 arrays in MNIST's layout, keyed by file name."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    images[0, 0, :2] = (0, 255)
    labels = rng.integers(0, 10, size=n_train + n_test).astype(np.uint8)
    return {TRAIN_IMAGES: images[:n_train], TRAIN_LABELS: labels[:n_train],
            TEST_IMAGES: images[n_train:], TEST_LABELS: labels[n_train:]}


def write_files(directory, raws, gz=True):
    """Write ``{name: idx bytes}`` into ``directory`` as ``NAME.gz`` (gz=True) or raw ``NAME``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, (name, raw) in enumerate(raws.items()):
        use_gz = gz if gz != "mixed" else i % 2 == 0
        path = directory / (name + ".gz" if use_gz else name)
        path.write_bytes(gzip.compress(raw) if use_gz else raw)
        paths[name] = path
    return paths


def small_raws(**kwargs):
    return {name: idx_bytes(a) for name, a in small_mnist(**kwargs).items()}


def sha(raw):
    return hashlib.sha256(raw).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No NPRELU_DATA, and a private empty download cache."""
    monkeypatch.delenv("NPRELU_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


# --- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False, "mixed"])
def test_round_trip(env, gz):
    arrays = small_mnist()
    write_files(env / "d", {n: idx_bytes(a) for n, a in arrays.items()}, gz=gz)
    x_train, y_train, x_test, y_test = load_mnist(data_dir=env / "d", verify=False)
    assert x_train.shape == (5, 784) and x_test.shape == (3, 784)
    assert y_train.shape == (5,) and y_test.shape == (3,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x, name in ((x_train, TRAIN_IMAGES), (x_test, TEST_IMAGES)):
        assert 0.0 <= x.min() and x.max() <= 1.0
        expect = arrays[name].reshape(-1, 784).astype(np.float32) / np.float32(255.0)
        np.testing.assert_array_equal(x, expect)
    assert x_train[0, 0] == 0.0 and x_train[0, 1] == 1.0
    np.testing.assert_array_equal(y_train, arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(y_test, arrays[TEST_LABELS])


def test_results_are_cached_and_read_only(env):
    write_files(env / "d", small_raws())
    first = load_mnist(data_dir=env / "d", verify=False)
    again = load_mnist(data_dir=env / "d", verify=False)
    for a, b in zip(first, again):
        assert a is b
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 0


def test_changed_files_are_reread(env):
    write_files(env / "d", small_raws(seed=0))
    before = load_mnist(data_dir=env / "d", verify=False)[0].copy()
    write_files(env / "d", small_raws(n_train=4, seed=1))
    os.utime(env / "d" / f"{TRAIN_IMAGES}.gz", ns=(1, 1))
    after = load_mnist(data_dir=env / "d", verify=False)[0]
    assert after.shape == (4, 784) and before.shape == (5, 784)


@given(code=st.sampled_from(sorted(CODES)), shape=hnp.array_shapes(min_dims=0, max_dims=3,
                                                                     min_side=0, max_side=4),
       data_=st.data())
def test_parse_idx_round_trips_every_type(code, shape, data_):
    array = data_.draw(hnp.arrays(np.dtype(CODES[code]), shape))
    out = parse_idx(idx_bytes(array, code), "x.idx")
    assert out.shape == array.shape
    assert out.dtype == np.dtype(CODES[code]).newbyteorder("=") and out.dtype.isnative
    assert out.tobytes() == array.astype(out.dtype).tobytes()   # bitwise, so NaNs compare too


def test_read_idx_file_raw_and_gz(tmp_path):
    raw = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    assert read_idx_file(tmp_path / "a") == raw == read_idx_file(tmp_path / "a.gz")


# --- corrupt files -----------------------------------------------------------------------------

CORRUPTIONS = {
    "truncated": (lambda raw: raw[:-1], "truncated"),
    "trailing bytes": (lambda raw: raw + b"\0", "trailing bytes"),
    "wrong magic": (lambda raw: b"\x01" + raw[1:], "magic"),
    "unknown dtype": (lambda raw: raw[:2] + b"\x07" + raw[3:], "type code 0x07"),
    "truncated header": (lambda raw: raw[:6], "truncated"),
    "empty": (lambda raw: b"", "magic"),
}


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_idx_names_the_file(env, case, gz):
    corrupt, words = CORRUPTIONS[case]
    raws = small_raws()
    raws[TRAIN_LABELS] = corrupt(raws[TRAIN_LABELS])
    write_files(env / "d", raws, gz=gz)
    with pytest.raises(DataError) as err:
        load_mnist(data_dir=env / "d", verify=False)
    message = str(err.value)
    assert TRAIN_LABELS in message and words in message and "NPRELU_DATA" in message


def test_truncated_message_gives_sizes():
    raw = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"f\.idx: truncated: header says 2x28x28 = 1568 bytes "
                                        r"of data, file has 1000"):
        parse_idx(raw[:16 + 1000], "f.idx")


@pytest.mark.parametrize("garbage", ["not gzip", "truncated gzip"])
def test_corrupt_gzip_names_the_file(env, garbage):
    paths = write_files(env / "d", small_raws())
    blob = paths[TEST_IMAGES].read_bytes()
    paths[TEST_IMAGES].write_bytes(b"this is not gzip" if garbage == "not gzip"
                                   else blob[:len(blob) // 2])
    with pytest.raises(DataError) as err:
        load_mnist(data_dir=env / "d", verify=False)
    assert f"{TEST_IMAGES}.gz" in str(err.value) and "gzip" in str(err.value)
    with pytest.raises(DataError, match=TEST_IMAGES):
        read_idx_file(paths[TEST_IMAGES])


def test_checksum_mismatch(env):
    raws = small_raws()
    write_files(env / "d", raws)
    with pytest.raises(DataError) as err:
        load_mnist(data_dir=env / "d", verify=True)
    message = str(err.value)
    assert TRAIN_IMAGES in message and "NPRELU_DATA" in message
    assert MNIST_FILES[TRAIN_IMAGES] in message and sha(raws[TRAIN_IMAGES]) in message


def test_checksum_match_with_patched_hashes(env, monkeypatch):
    raws = small_raws()
    for name, raw in raws.items():
        monkeypatch.setitem(MNIST_FILES, name, sha(raw))
    write_files(env / "d", raws)
    assert load_mnist(data_dir=env / "d", verify=True)[0].shape == (5, 784)


def test_label_count_mismatch(env):
    arrays = small_mnist()
    arrays[TEST_LABELS] = arrays[TEST_LABELS][:-1]
    write_files(env / "d", {n: idx_bytes(a) for n, a in arrays.items()})
    with pytest.raises(DataError, match=TEST_LABELS) as err:
        load_mnist(data_dir=env / "d", verify=False)
    assert "2 " in str(err.value) and "3 images" in str(err.value)


@pytest.mark.parametrize("shape", [(3, 27, 28), (3, 784), (3, 28, 28, 1)])
def test_wrong_image_dims(env, shape):
    raws = small_raws()
    raws[TEST_IMAGES] = idx_bytes(np.zeros(shape, np.uint8))
    write_files(env / "d", raws)
    with pytest.raises(DataError, match=f"{TEST_IMAGES}.*28 x 28"):
        load_mnist(data_dir=env / "d", verify=False)


def test_labels_out_of_range(env):
    arrays = small_mnist()
    arrays[TRAIN_LABELS][0] = 10
    write_files(env / "d", {n: idx_bytes(a) for n, a in arrays.items()})
    with pytest.raises(DataError, match=TRAIN_LABELS):
        load_mnist(data_dir=env / "d", verify=False)


# --- where the files are looked for ------------------------------------------------------------

def test_explicit_dir_missing_a_file_does_not_fall_back(env, monkeypatch):
    write_files(env / "full", small_raws())
    monkeypatch.setenv("NPRELU_DATA", str(env / "full"))
    paths = write_files(env / "d", small_raws())
    paths[TRAIN_LABELS].unlink()
    with pytest.raises(DataError) as err:
        load_mnist(data_dir=env / "d", verify=False)
    assert TRAIN_LABELS in str(err.value) and str(env / "d") in str(err.value)
    assert TRAIN_IMAGES not in str(err.value)


def test_nprelu_data_missing_a_file(env, monkeypatch):
    write_files(cache_dir(), small_raws())
    (env / "empty").mkdir()
    monkeypatch.setenv("NPRELU_DATA", str(env / "empty"))
    with pytest.raises(DataError, match="NPRELU_DATA") as err:
        load_mnist(verify=False)
    assert f"NPRELU_DATA={env / 'empty'}: no MNIST file there" in str(err.value)
    assert "unset it to use the download cache" in str(err.value)


def test_empty_nprelu_data_or_data_dir_is_refused_not_read_as_unset(env, monkeypatch):
    write_files(cache_dir(), small_raws())
    monkeypatch.setenv("NPRELU_DATA", "")
    with pytest.raises(DataError, match="NPRELU_DATA is empty; set NPRELU_DATA to"):
        find_data_dir()
    monkeypatch.delenv("NPRELU_DATA")
    with pytest.raises(DataError, match="data_dir is empty; point data_dir at"):
        find_data_dir("")
    assert find_data_dir() == cache_dir()


@pytest.mark.parametrize("make, why", [(None, "no such directory"),
                                       ("file", "not a directory")])
def test_a_given_path_that_is_no_directory_is_named_as_such(env, monkeypatch, make, why):
    where = env / "d"
    if make == "file":
        where.write_text("")
    with pytest.raises(DataError, match=f"--data {where}: {why}; point --data at"):
        find_data_dir(where, flag="--data")
    monkeypatch.setenv("NPRELU_DATA", str(where))
    with pytest.raises(DataError, match=f"NPRELU_DATA={where}: {why}; set NPRELU_DATA to"):
        find_data_dir()


def test_missing_files_are_named_once_without_suggesting_the_option_used(env):
    paths = write_files(env / "d", small_raws())
    for name in (TRAIN_LABELS, TEST_IMAGES):
        paths[name].unlink()
    with pytest.raises(DataError) as err:
        find_data_dir(env / "d", flag="--data")
    message = str(err.value)
    assert message.startswith(f"--data {env / 'd'}: {TRAIN_LABELS}[.gz], {TEST_IMAGES}[.gz] "
                              "missing there; put them there, or point --data at")
    assert message.count(str(env)) == 1 and "DIR" not in message and "NPRELU_DATA" not in message


def test_tilde_is_expanded_in_data_dir_and_nprelu_data(env, monkeypatch):
    write_files(env / "home" / "mnist", small_raws())
    monkeypatch.setenv("HOME", str(env / "home"))
    assert find_data_dir("~/mnist") == env / "home" / "mnist"
    monkeypatch.setenv("NPRELU_DATA", "~/mnist")
    assert find_data_dir() == env / "home" / "mnist"


def test_search_order(env, monkeypatch):
    for d in ("arg", "envdir"):
        write_files(env / d, small_raws())
    write_files(cache_dir(), small_raws())
    assert cache_dir() == env / "xdg" / "nprelu" / "mnist"
    assert find_data_dir() == cache_dir()
    monkeypatch.setenv("NPRELU_DATA", str(env / "envdir"))
    assert find_data_dir() == env / "envdir"
    assert find_data_dir(env / "arg") == env / "arg"
    assert find_data_dir(str(env / "arg")) == env / "arg"


def test_cache_dir_default(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "nprelu" / "mnist"


def test_empty_cache_without_download(env):
    assert find_data_dir() is None
    with pytest.raises(DataError, match="download=False"):
        load_mnist(download=False)


# --- downloads from a local HTTP server --------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path/www``; yields (base URL, that directory)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def served(server, monkeypatch):
    """The small files on the server as .gz, with MNIST_FILES patched to their hashes."""
    base, root = server
    raws = small_raws()
    write_files(root, raws)
    for name, raw in raws.items():
        monkeypatch.setitem(MNIST_FILES, name, sha(raw))
    return base, root, raws


def test_download_lands_files_atomically(env, served):
    base, _, raws = served
    dest = env / "dest"
    assert download_mnist(dest, mirrors=(base,), timeout=5) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    for name, raw in raws.items():
        assert gzip.decompress((dest / f"{name}.gz").read_bytes()) == raw
    assert load_mnist(data_dir=dest, verify=True)[0].shape == (5, 784)


def test_downloaded_files_are_readable_by_others_as_a_plain_open_makes_them(env, served):
    base, _, _ = served
    old = os.umask(0o022)
    try:
        dest = download_mnist(env / "dest", mirrors=(base,), timeout=5)
    finally:
        os.umask(old)
    assert {oct(p.stat().st_mode & 0o777) for p in dest.iterdir()} == {oct(0o644)}


def test_download_skips_present_files(env, served):
    base, root, _ = served
    dest = env / "dest"
    download_mnist(dest, mirrors=(base,), timeout=5)
    for p in root.iterdir():
        p.unlink()                                   # a second call must not need the server
    download_mnist(dest, mirrors=(base,), timeout=5)


def test_download_bad_checksum_is_not_kept(env, served):
    base, root, raws = served
    bad = idx_bytes(np.zeros(3, np.uint8))
    (root / f"{TEST_LABELS}.gz").write_bytes(gzip.compress(bad))
    dest = env / "dest"
    with pytest.raises(DataError) as err:
        download_mnist(dest, mirrors=(base,), timeout=5)
    message = str(err.value)
    assert f"{TEST_LABELS}.gz" in message and base in message and "NPRELU_DATA" in message
    assert sha(bad) in message and MNIST_FILES[TEST_LABELS] in message
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in NAMES[:3])


def test_download_not_gzip_is_not_kept(env, served):
    base, root, _ = served
    (root / f"{TRAIN_IMAGES}.gz").write_bytes(b"<html>an error page</html>")
    dest = env / "dest"
    with pytest.raises(DataError, match=TRAIN_IMAGES):
        download_mnist(dest, mirrors=(base,), timeout=5)
    assert list(dest.iterdir()) == []


def test_download_falls_back_to_second_mirror(env, served):
    base, _, _ = served
    dest = env / "dest"
    download_mnist(dest, mirrors=(base + "nowhere/", base), timeout=5)
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in NAMES)


def test_download_all_mirrors_404(env, served):
    base, _, _ = served
    with pytest.raises(DataError) as err:
        download_mnist(env / "dest", mirrors=(base + "a/", base + "b/"), timeout=5)
    message = str(err.value)
    assert f"{base}a/{TRAIN_IMAGES}.gz" in message and f"{base}b/{TRAIN_IMAGES}.gz" in message
    assert "404" in message and "data_dir" in message


def test_download_unreachable_mirror_fails_quickly(env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                    # closed once the block ends
    url = f"http://127.0.0.1:{port}/"
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        download_mnist(env / "dest", mirrors=(url,), timeout=2)
    assert time.monotonic() - start < 10
    assert TRAIN_IMAGES in str(err.value) and url in str(err.value)
    assert "NPRELU_DATA" in str(err.value)
    assert list((env / "dest").iterdir()) == []


def test_load_mnist_downloads_into_the_cache(env, served, monkeypatch):
    base, _, raws = served
    monkeypatch.setattr(data, "MIRRORS", (base,))
    x_train, y_train, x_test, y_test = load_mnist()
    assert x_train.shape == (5, 784) and y_test.shape == (3,)
    assert sorted(p.name for p in cache_dir().iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert find_data_dir() == cache_dir()


# --- decompression bombs: the stream stops at each file's expected size -------------------------

BOMB = 32 * 2 ** 20


def gzip_bomb(path, size=BOMB):
    """``size`` zero bytes gzip-compressed into ``path`` (32 MiB -> about 32 KB), written in
    pieces so that the test itself never holds them."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        piece = bytes(2 ** 20)
        for _ in range(size // len(piece)):
            f.write(piece)
    return path


def test_expected_sizes_match_the_idx_headers_of_mnist():
    for name, size in data.MNIST_SIZES.items():
        rank, count = (3, 60000 if "train" in name else 10000) if "images" in name else \
            (1, 60000 if "train" in name else 10000)
        assert size == 4 + 4 * rank + count * (784 if rank == 3 else 1), name
    assert set(data.MNIST_SIZES) == set(MNIST_FILES)


@pytest.mark.parametrize("name", [TEST_LABELS, TRAIN_LABELS, TEST_IMAGES])
def test_a_gzip_bomb_named_like_an_mnist_file_stops_at_its_expected_size(env, name):
    import tracemalloc
    bomb = gzip_bomb(env / f"{name}.gz")
    assert bomb.stat().st_size < 100_000                   # 32 MiB of zeros, compressed
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as err:
            read_idx_file(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert str(bomb) in message and f"more than {data.MNIST_SIZES[name]:,} bytes" in message
    # what was held is bounded by the file's expected size, far below the 32 MiB of the bomb
    assert peak < data.MNIST_SIZES[name] + 2 * data.CHUNK + 2 ** 20
    assert peak < BOMB // 2


def test_a_gzip_bomb_fails_load_mnist_by_name_and_a_download_refuses_it(env, served):
    paths = write_files(env / "d", small_raws())
    gzip_bomb(paths[TEST_LABELS])
    with pytest.raises(DataError, match=f"{TEST_LABELS}.gz: decompresses to more than 10,008"):
        load_mnist(data_dir=env / "d", verify=False)
    base, root, _ = served
    gzip_bomb(root / f"{TEST_LABELS}.gz")
    with pytest.raises(DataError, match="decompresses to more than 10,008 bytes"):
        download_mnist(env / "dest", mirrors=(base,), timeout=5)
    assert not (env / "dest" / f"{TEST_LABELS}.gz").exists()


def test_a_raw_file_larger_than_expected_is_refused_and_other_names_have_the_general_cap(env):
    big = env / TEST_LABELS
    big.write_bytes(bytes(data.MNIST_SIZES[TEST_LABELS] + 1))
    with pytest.raises(DataError, match=f"{TEST_LABELS}: holds to more than 10,008 bytes"):
        read_idx_file(big)
    assert data.size_limit(env / "other-idx1-ubyte.gz") == data.MAX_IDX_BYTES
    raw = idx_bytes(np.arange(100, dtype=np.uint8))
    (env / "other.gz").write_bytes(gzip.compress(raw))
    assert read_idx_file(env / "other.gz") == raw
    with pytest.raises(DataError, match="more than 99 bytes"):
        read_idx_file(env / "other.gz", limit=99)


def test_the_streamed_checksum_is_the_checksum_of_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CHUNK", 7)                  # many chunks, one odd-sized last
    raw = idx_bytes(np.arange(1000, dtype=np.uint8))
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    assert data.read_idx_stream(tmp_path / "a.gz") == (raw, sha(raw))
    assert data.read_idx_stream(tmp_path / "a.gz", limit=len(raw)) == (raw, sha(raw))


# --- the real files ----------------------------------------------------------------------------

def test_real_mnist_loads():
    if not os.environ.get("NPRELU_DATA"):
        if os.environ.get("CI"):
            pytest.fail("CI must set NPRELU_DATA to the MNIST directory (../shared/mnist)")
        pytest.skip("NPRELU_DATA is not set; point it at a directory holding the MNIST files")
    x_train, y_train, x_test, y_test = load_mnist(verify=True)
    assert x_train.shape == (60000, 784) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 784) and y_test.shape == (10000,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for y in (y_train, y_test):
        assert y.min() == 0 and y.max() == 9
        assert set(np.unique(y)) == set(range(10))
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
    x = x_train.astype(np.float64)
    assert abs(x.mean() - 0.1306604762738429) < 1e-6
    assert abs(x.std() - 0.30810780385646264) < 1e-6
