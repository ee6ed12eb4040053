"""The MLP: initialisation, caps, forward values, dtypes, determinism and checkpoints."""
import json
import math

import numpy as np
import pytest

from nprelu.backend import get_backend
from nprelu.checkpoint import CheckpointError
from nprelu.network import MLP, layer_backward, layer_forward


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


def test_layer_forward_is_the_affine_map_then_the_capped_relu():
    rng = np.random.default_rng(0)
    a, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    out, cache = layer_forward(a, W, b, 0.5)
    np.testing.assert_array_equal(out, np.clip(a @ W + b, 0.0, 0.5))
    assert cache[0] is a and cache[1] is out and cache[2] == 0.5
    logits, cache = layer_forward(a, W, b, None, last=True)
    np.testing.assert_array_equal(logits, a @ W + b)
    assert cache[0] is a and cache[1] is None
    assert layer_forward(a, W, b, 0.5, keep=False)[1] is None


def test_layer_backward_applies_its_own_mask_before_the_products():
    """dout = dJ/da_out; delta = dout * 1[0 < z < beta]; dW = a^T delta, db = sum delta,
    da_in = delta W^T, against a hand computation; the last (linear) layer has no mask."""
    a = np.array([[1.0, 2.0], [0.5, -1.0]])
    W = np.array([[1.0, -1.0, 0.5], [0.25, 0.5, 1.0]])
    b = np.array([0.0, 0.0, -0.1])
    # z = [[1.5, 0.0, 2.4], [0.25, -1.0, -0.85]]: above the cap, at the kink 0, above; on the slope,
    # below 0, below 0. With beta = 1 only z[1, 0] passes its gradient.
    out, cache = layer_forward(a, W, b, 1.0)
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    delta = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    dW, db, da = layer_backward(dout, cache, W)
    np.testing.assert_array_equal(dW, [[2.0, 0, 0], [-4.0, 0, 0]])       # a^T delta
    np.testing.assert_array_equal(db, [4.0, 0.0, 0.0])
    np.testing.assert_array_equal(da, [[0.0, 0.0], [4.0, 1.0]])          # delta W^T
    np.testing.assert_array_equal(dout, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # not overwritten
    # BPDA's relu surrogate 1[z > 0] lets the units above the cap through as well
    dW, db, da = layer_backward(dout, cache, W, surrogate="relu")
    delta = dout * [[1, 0, 1], [1, 0, 0]]
    np.testing.assert_array_equal(da, delta @ W.T)
    np.testing.assert_array_equal(dW, a.T @ delta)
    # uncapped, the surrogate changes nothing: the mask is 1[z > 0]
    _, cache = layer_forward(a, W, b, None)
    for surrogate in (None, "relu", "identity"):
        np.testing.assert_array_equal(layer_backward(dout, cache, W, surrogate=surrogate)[2],
                                      (dout * [[1, 0, 1], [1, 0, 0]]) @ W.T)
    # the linear last layer: delta = dout
    _, cache = layer_forward(a, W, b, None, last=True)
    dW, db, da = layer_backward(dout, cache, W, params=True, inputs=False)
    np.testing.assert_array_equal(dW, a.T @ dout)
    assert da is None
    # in place: the mask is multiplied into dout itself
    _, cache = layer_forward(a, W, b, 1.0)
    layer_backward(dout, cache, W, inplace=True)
    np.testing.assert_array_equal(dout, [[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]])


def test_network_backward_is_the_chain_of_layer_pairs():
    net = MLP([5, 4, 3, 2], caps=[0.3, None], seed=0, backend=get_backend("numpy", "float64"))
    rng = np.random.default_rng(1)
    x, up = rng.random((6, 5)), rng.normal(size=(6, 2))
    _, caches = net.forward(x)
    grads, dx = net.backward(up, caches, params=True, inputs=True)
    dout, expected = up, [None] * 6
    for i in reversed(range(3)):
        expected[2 * i], expected[2 * i + 1], dout = layer_backward(dout, caches[i], net.W[i])
    for g, e in zip(grads, expected):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(dx, dout)


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
