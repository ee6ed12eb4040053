"""The MLP: initialisation, caps, forward values, dtypes, determinism and checkpoints."""
import json
import math

import numpy as np
import pytest

from nprelu.backend import get_backend
from nprelu.checkpoint import CheckpointError
from nprelu.network import MLP


def test_glorot_uniform_bounds_and_zero_biases():
    net = MLP([784, 392, 196, 10], seed=3)
    for W, b in zip(net.W, net.b):
        limit = math.sqrt(6.0 / sum(W.shape))
        assert np.abs(W).max() <= limit
        assert np.abs(W).max() > 0.99 * limit  # the whole range is used
        assert abs(W.var() - limit ** 2 / 3) < 0.05 * limit ** 2 / 3  # U(-l, l) variance
        assert not b.any()


def test_forward_equals_hand_computed_values():
    net = MLP([2, 2, 2], caps=[0.5], backend=get_backend("numpy", "float64"))
    net.W[0][...] = [[1.0, -1.0], [2.0, 1.0]]
    net.b[0][...] = [0.1, 0.2]
    net.W[1][...] = [[1.0, 2.0], [3.0, 4.0]]
    net.b[1][...] = [0.0, 1.0]
    x = np.array([[0.1, 0.1], [0.3, -0.5]])
    # z1 = [[0.4, 0.2], [-0.6, -0.6]] -> a1 = clip(z1, 0, 0.5) = [[0.4, 0.2], [0, 0]]
    expected = np.array([[0.4 + 0.6, 0.8 + 0.8 + 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(net.logits(x), expected, rtol=1e-12)
    np.testing.assert_allclose(net.hidden(x)[0], [[0.4, 0.2], [0.0, 0.0]], rtol=1e-12)
    net.caps = [0.3]
    np.testing.assert_allclose(net.hidden(x)[0], [[0.3, 0.2], [0.0, 0.0]], rtol=1e-12)


def test_caps_are_validated_with_clear_errors():
    net = MLP([4, 3, 3, 2])
    with pytest.raises(ValueError, match="cap must be a finite number > 0"):
        net.caps = [0.0, None]
    with pytest.raises(ValueError, match="cap must be a finite number > 0"):
        net.caps = [-1.0, None]
    with pytest.raises(ValueError, match="one cap per hidden layer"):
        net.caps = [0.1]
    with pytest.raises(ValueError, match="unknown hidden layer 5"):
        net.set_cap(5, 0.1)
    with pytest.raises(ValueError, match="cap must be a number"):
        MLP([4, 3, 2], caps=["big"])


def test_with_caps_shares_weights_and_changes_only_caps():
    net = MLP([6, 5, 4, 3], caps=[None, 1.0], seed=1)
    twin = net.with_caps([0.01, 0.01])
    assert twin.W[0] is net.W[0] and net.caps == [None, 1.0] and twin.caps == [0.01, 0.01]
    x = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    assert np.abs(twin.hidden(x)[1]).max() <= 0.01
    assert not np.allclose(twin.logits(x), net.logits(x))


def test_float32_path_stays_float32(backend):
    net = MLP([20, 8, 6, 4], caps=[None, 0.1], seed=0, backend=backend)
    rng = np.random.default_rng(0)
    x = backend.asarray(rng.random((7, 20)))
    y = backend.asarray(rng.integers(0, 4, 7))
    loss, grads, logits = net.loss_and_grads(x, y)
    assert logits.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    _, dx = net.input_grad(x, y)
    assert dx.dtype == np.float32
    assert all(a.dtype == np.float32 for a in net.hidden(x))
    from nprelu.optim import Adam
    opt = Adam(net.params)
    opt.step(grads)
    assert all(p.dtype == np.float32 for p in net.params)
    assert all(m.dtype == np.float32 for m in opt.m + opt.v)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = MLP([10, 5, 3], seed=7), MLP([10, 5, 3], seed=7), MLP([10, 5, 3], seed=8)
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
    assert not np.array_equal(a.W[0], c.W[0])


def test_checkpoint_round_trip_keeps_weights_caps_and_meta(tmp_path):
    net = MLP([6, 5, 4, 3], caps=[0.1, None], seed=2)
    path = tmp_path / "m.npz"
    net.save(path, epochs=20, note="x")
    loaded = MLP.load(path)
    assert loaded.sizes == [6, 5, 4, 3] and loaded.caps == [0.1, None]
    assert loaded.meta["epochs"] == 20 and loaded.meta["note"] == "x"
    assert all(np.array_equal(p, q) and q.dtype == np.float32 for p, q in zip(net.params, loaded.params))
    with np.load(path, allow_pickle=False) as npz:  # the documented layout, readable without nprelu
        assert npz["W0"].shape == (6, 5) and npz["b2"].shape == (3,)
        assert json.loads(str(npz["meta"]))["sizes"] == [6, 5, 4, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary files left


@pytest.mark.parametrize("content, message", [
    (b"this is not a zip file", "not an .npz checkpoint"),
    (None, "no such checkpoint"),
])
def test_loading_a_non_checkpoint_fails_clearly(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        MLP.load(path)


def test_loading_checkpoints_with_wrong_contents_fails_clearly(tmp_path):
    p = tmp_path / "plain.npz"
    np.savez(p, W0=np.zeros((2, 2)))
    with pytest.raises(CheckpointError, match="no 'meta'"):
        MLP.load(p)
    meta = json.dumps({"format": "nprelu-mlp", "sizes": [2, 3, 2], "caps": [None]})
    np.savez(p, W0=np.zeros((2, 4)), b0=np.zeros(3), W1=np.zeros((3, 2)), b1=np.zeros(2), meta=meta)
    with pytest.raises(CheckpointError, match="W0 has shape"):
        MLP.load(p)
    meta = json.dumps({"format": "nprelu-mlp", "sizes": [2, 3, 2], "caps": [-1]})
    np.savez(p, W0=np.zeros((2, 3)), b0=np.zeros(3), W1=np.zeros((3, 2)), b1=np.zeros(2), meta=meta)
    with pytest.raises(CheckpointError, match="bad caps"):
        MLP.load(p)
    np.savez(p, meta="{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        MLP.load(p)


def test_backend_choice_and_errors(monkeypatch):
    from nprelu.backend import BackendError, cupy_available
    monkeypatch.setenv("NPRELU_BACKEND", "numpy")
    assert get_backend().name == "numpy" and get_backend().dtype == np.float32
    assert get_backend(dtype="float64").dtype == np.float64
    with pytest.raises(BackendError, match="unknown backend 'torch'"):
        get_backend("torch")
    with pytest.raises(BackendError, match="unsupported dtype"):
        get_backend("numpy", "float16")
    if not cupy_available():
        with pytest.raises(BackendError, match="CuPy cannot be used"):
            get_backend("cupy")
