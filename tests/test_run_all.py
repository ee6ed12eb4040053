"""run_all.py end to end on the quick profile, resuming, and the model store's checks."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

import run_all
from nprelu.backend import get_backend
from nprelu.experiments import EXPERIMENTS, PROFILES, Context, ModelSpec

FIGURES = ["fig01_perturbation_growth.png", "fig02_accuracy.png", "fig03_sigmoid.png",
           "fig04_general_pgd.png", "fig05_reversed_pgd.png", "fig06_equal_pgd.png",
           "fig08_general_zero_gradient.png", "fig09_reversed_zero_gradient.png",
           "fig10_equal_zero_gradient.png", "fig11_sensitivity_map.png",
           "fig12_adaptive_robustness.png"]


def _comparable(summary):
    """The summary without its timing and clock fields, which differ between runs."""
    s = json.loads(json.dumps(summary))
    for k in ("wall_seconds", "started", "done"):
        s["meta"].pop(k, None)
    return s


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, mnist):
    out = tmp_path_factory.mktemp("quick")
    assert run_all.main(["--profile", "quick", "--out", str(out)]) == 0
    return out


def test_quick_profile_writes_every_output(quick_run):
    out = quick_run
    for name in FIGURES + ["table1.md", "REPORT.md", "summary.json"]:
        assert (out / name).stat().st_size > 0, name
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["meta"]["done"]) == set(EXPERIMENTS)
    rows = summary["table1"]
    assert len(rows) == 12
    assert {(r["beta"], r["adv_training"]) for r in rows} == {
        (b, a) for b in (None, 1.0, 0.1, 0.01) for a in ("none", "fgsm", "pgd")}
    for r in rows:
        for key in ("clean", "fgsm", "pgd", "cw"):
            assert 0.0 <= r[key] <= 1.0
        # The quick profile trains on 3,000 images for 2 epochs; a 392-196 network gets ~90%
        # there when trainable. 0.01 caps starve the gradient in 2 epochs, so the floor is lower.
        floor = 0.80 if r["beta"] in (None, 1.0) else 0.30
        assert r["clean"] >= floor, r
    report = (out / "REPORT.md").read_text()
    assert "Table 1" in report and "98.49" in report  # the paper's value beside ours


def test_interrupted_run_resumes_to_the_same_summary(quick_run, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    real = EXPERIMENTS["fig05"]

    def interrupted(ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(EXPERIMENTS, "fig05", (interrupted, real[1]))
    with pytest.raises(KeyboardInterrupt):
        run_all.main(["--profile", "quick", "--out", str(out)])
    partial = json.loads((out / "summary.json").read_text())
    assert partial["meta"]["done"] == ["fig01-02", "fig03", "fig04"]
    monkeypatch.setitem(EXPERIMENTS, "fig05", real)
    assert run_all.main(["--profile", "quick", "--out", str(out)]) == 0
    resumed = json.loads((out / "summary.json").read_text())
    full = json.loads((quick_run / "summary.json").read_text())
    assert _comparable(resumed) == _comparable(full)


def _tiny_context(out, mnist, epochs=1):
    x_train, y_train, x_test, y_test = mnist
    be = get_backend()
    data = tuple(be.asarray(a) for a in (x_train[:600], y_train[:600], x_test[:100], y_test[:100]))
    profile = replace(PROFILES["quick"], train_subset=600, epochs=epochs)
    return Context(out, profile, be, 0, data)


def test_corrupt_checkpoint_is_retrained_not_loaded(tmp_path, mnist, capfd):
    spec = ModelSpec((784, 16, 10), (0.5,))
    net = _tiny_context(tmp_path, mnist).model(spec)
    path = tmp_path / "models" / f"{spec.name}.npz"
    path.write_bytes(b"garbage")
    again = _tiny_context(tmp_path, mnist).model(spec)
    assert "retraining" in capfd.readouterr().err
    assert all(np.array_equal(a, b) for a, b in zip(net.params, again.params))
    from nprelu.network import MLP
    assert MLP.load(path).caps == [0.5]  # the garbage was replaced by a real checkpoint


def test_checkpoint_with_other_settings_is_retrained(tmp_path, mnist, capfd):
    spec = ModelSpec((784, 16, 10), (None,))
    one = _tiny_context(tmp_path, mnist, epochs=1).model(spec)
    reused = _tiny_context(tmp_path, mnist, epochs=1).model(spec)
    assert "retraining" not in capfd.readouterr().err
    assert all(np.array_equal(a, b) for a, b in zip(one.params, reused.params))
    two = _tiny_context(tmp_path, mnist, epochs=2).model(spec)
    assert "trained with other settings" in capfd.readouterr().err
    assert not np.array_equal(one.W[0], two.W[0])


def test_unknown_experiment_is_refused(capsys):
    with pytest.raises(SystemExit):
        run_all.parse_args(["--only", "fig99"])
    assert "unknown experiment(s) fig99" in capsys.readouterr().err


def test_two_runs_sharing_an_output_directory_merge_their_summaries(tmp_path):
    """Disjoint --only runs in one directory (one per core) each keep the other's results."""
    profile = PROFILES["quick"]
    meta = {"profile": "quick", "seed": 0, "profile_settings": {"x": 1}}

    def fresh():
        return {"meta": {**meta, "settings": {}, "wall_seconds": {}, "done": []}}

    a = Context(tmp_path, profile, get_backend("numpy"), 0, None, fresh())
    b = Context(tmp_path, profile, get_backend("numpy"), 0, None, fresh())
    a.record("fig03", {"fig03": {"c": [1]}}, {"s": "a"}, 1.0)
    b.record("table1", {"table1": [{"beta": None}]}, {"s": "b"}, 2.0)
    a.record("fig11", {"fig11": {"m": 2}}, {"s": "a2"}, 3.0)
    disk = json.loads((tmp_path / "summary.json").read_text())
    assert disk["meta"]["done"] == ["fig03", "table1", "fig11"]
    assert disk["fig03"] == {"c": [1]} and disk["table1"] == [{"beta": None}]
    assert disk["meta"]["settings"] == {"fig03": {"s": "a"}, "table1": {"s": "b"}, "fig11": {"s": "a2"}}
    b.refresh()
    assert b.summary["fig11"] == {"m": 2}
    # A summary made with other settings is never merged in.
    c = Context(tmp_path, profile, get_backend("numpy"), 1, None,
                {"meta": {**meta, "seed": 1, "settings": {}, "wall_seconds": {}, "done": []}})
    c.record("fig03", {"fig03": {"c": [9]}}, {}, 1.0)
    assert json.loads((tmp_path / "summary.json").read_text())["meta"]["done"] == ["fig03"]
