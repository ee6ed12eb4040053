"""run_all.py as a user runs it: each ordinary mistake gives one line on stderr naming the problem
and the fix, no traceback, exit status 2 (bad usage) or 1 (an error of the run), before any data
is loaded; a folder holding another run is refused and left untouched, or replaced with
--overwrite; --debug shows the traceback."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import run_all
from nprelu.backend import cupy_available
from nprelu.data import MNIST_FILES
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.experiments.summary import SummaryFile, run_meta
from nprelu.progress import format_seconds

ROOT = Path(__file__).resolve().parents[1]
FIG03 = {"c": [1], "z": [0.0], "sigmoid": {"1": [0.5]}}


def run_cli(tmp_path, *args, data=None, prefix=()):
    """``python run_all.py ARGS`` in the repository, with ``$NPRELU_DATA`` = ``data`` (default: a
    directory holding four empty files named like MNIST's, which pass the checks made before
    loading and fail loading), a private download cache and umask 022; ``prefix`` goes before
    the command."""
    if data is None:
        data = tmp_path / "fake-mnist"
        data.mkdir(exist_ok=True)
        for name in MNIST_FILES:
            (data / name).touch()
    env = {k: v for k, v in os.environ.items() if k not in ("NPRELU_BACKEND", "NPRELU_DATA")}
    env.update(MPLBACKEND="Agg", NPRELU_DATA=str(data), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run([*prefix, sys.executable, "run_all.py", *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(0o022))


def assert_one_line_error(proc, status, *words):
    """Exit ``status``, and stderr is exactly one ``run_all.py: error: ...`` line with ``words``."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_all.py: error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert proc.returncode == status, proc.stderr
    return lines[0]


def snapshot(folder):
    """Every file under ``folder`` with its mode and a hash of its contents."""
    return {str(p.relative_to(folder)): (stat.S_IMODE(p.stat().st_mode),
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], ["--seed must be >= 0", "-1"]),
    (["--seeds", "0"], ["--seeds must be >= 1"]),
    (["--full", "--profile", "quick"], ["--full and --profile quick contradict", "drop one"]),
    (["--full", "--profile", "paper"], ["--full and --profile paper contradict"]),
    (["--only", "fig99"], ["unknown experiment(s) fig99", "table1"]),
    (["--seed", "x"], ["--seed", "invalid int value"]),
    (["--profile", "fast"], ["--profile", "invalid choice", "quick"]),
])
def test_bad_arguments_give_one_line_and_status_2(tmp_path, args, words):
    proc = run_cli(tmp_path, "--out", tmp_path / "out", *args)
    assert_one_line_error(proc, 2, *words)
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("keep me")
    proc = run_cli(tmp_path, "--out", tmp_path / "file")
    assert_one_line_error(proc, 2, f"--out {tmp_path / 'file'}", "is not a directory",
                          "choose another --out")
    proc = run_cli(tmp_path, "--out", tmp_path / "file" / "sub")
    assert_one_line_error(proc, 2, f"{tmp_path / 'file'} is a file", "choose another --out")
    assert (tmp_path / "file").read_text() == "keep me"


def test_a_models_entry_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "models").write_text("")
    proc = run_cli(tmp_path, "--out", tmp_path / "out")
    assert_one_line_error(proc, 2, str(tmp_path / "out" / "models"), "is not a directory")


def _as_an_ordinary_user():
    """A command prefix under which permissions apply (root without its override), or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]
    if setpriv is None or subprocess.run([*prefix, "true"], capture_output=True).returncode:
        return None
    return prefix


def test_a_read_only_out_is_refused_before_anything_runs(tmp_path):
    prefix = _as_an_ordinary_user()
    if prefix is None:
        pytest.skip("root without setpriv writes into a read-only directory")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = run_cli(tmp_path, "--out", out, prefix=prefix)
    finally:
        out.chmod(0o755)
    assert_one_line_error(proc, 2, f"--out {out}: cannot write", "writable")
    assert list(out.iterdir()) == []


def test_an_unwritable_out_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    """The same check in-process, where it cannot depend on who runs the tests (root writes
    anywhere): a directory where no file can be created."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(run_all.tempfile, "mkstemp", refuse)
    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    monkeypatch.setattr(run_all, "find_data_dir", lambda data: None)
    assert run_all.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"run_all.py: error: --out {tmp_path / 'out'}: cannot write in" in err
    assert "Permission denied" in err and "writable --out" in err


def test_a_missing_data_directory_is_a_usage_error(tmp_path):
    proc = run_cli(tmp_path, "--out", tmp_path / "out", "--data", tmp_path / "nowhere")
    assert_one_line_error(proc, 2, f"--data {tmp_path / 'nowhere'}: no such directory")


def test_no_data_is_reported_in_one_line_naming_the_fix(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(tmp_path, "--out", tmp_path / "out", data=empty)
    line = assert_one_line_error(proc, 1, str(empty), "NPRELU_DATA", "--data DIR",
                                 "train-images-idx3-ubyte")
    assert "data_dir)" not in line and "pass data_dir" not in line
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(tmp_path, "--out", tmp_path / "out", "--debug", data=empty)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "DataError" in proc.stderr


@pytest.mark.skipif(cupy_available(), reason="CuPy works here")
def test_cupy_without_cupy_names_the_install_and_the_numpy_backend(tmp_path):
    proc = run_cli(tmp_path, "--out", tmp_path / "out", "--backend", "cupy")
    line = assert_one_line_error(proc, 1, "CuPy cannot be used", "--backend numpy",
                                 'pip install -e ".[gpu]"', "cupy-cuda12x")
    assert "NPRELU_BACKEND" not in line and "nprelu[gpu]" not in line
    assert not (tmp_path / "out").exists()


def _seed0_folder(out, profile="quick", **settings):
    """A results folder of a seed-0 run: its summary (fig03 done), reports, figures, a model."""
    meta = run_meta(PROFILES[profile], 0, "numpy")
    meta["profile_settings"].update(settings)
    SummaryFile(out, meta, OUTPUTS).record("fig03", {"fig03": FIG03}, {"s": 1}, 1.0)
    for name in ("REPORT.md", "table1.md", OUTPUTS["fig03"].file, OUTPUTS["fig12"].file):
        (out / name).write_text(f"seed 0's {name}")
    (out / "models").mkdir()
    (out / "models" / "net.npz").write_bytes(b"a checkpoint")
    return snapshot(out)


@pytest.mark.parametrize("args, words", [
    (["--profile", "quick", "--seed", "1"], ["seed 0 there, 1 here"]),
    ([], ["profile 'quick' there, 'paper' here"]),
    (["--full"], ["profile 'quick' there, 'full' here"]),
])
def test_reusing_a_folder_of_another_run_is_refused_and_leaves_it_untouched(tmp_path, args, words):
    out = tmp_path / "out"
    before = _seed0_folder(out)
    proc = run_cli(tmp_path, "--out", out, *args)
    assert_one_line_error(proc, 1, f"{out} holds the results of another run", *words,
                          "done there: fig03", "another --out", "--overwrite")
    assert snapshot(out) == before


def test_a_folder_made_with_other_profile_settings_is_refused_naming_the_field(tmp_path):
    out = tmp_path / "out"
    before = _seed0_folder(out, epochs=5)
    proc = run_cli(tmp_path, "--out", out, "--profile", "quick")
    assert_one_line_error(proc, 1, "profile 'quick' settings epochs 5 there, "
                                   f"{PROFILES['quick'].epochs} here")
    assert snapshot(out) == before


def test_overwrite_replaces_the_other_run_keeping_its_summary_and_the_models(tmp_path, mnist):
    out = tmp_path / "out"
    before = _seed0_folder(out)
    old_summary = (out / "summary.json").read_bytes()
    proc = run_cli(tmp_path, "--out", out, "--profile", "quick", "--seed", "1", "--only", "fig03",
                   "--overwrite", data=os.environ["NPRELU_DATA"])
    assert proc.returncode == 0, proc.stderr
    assert "--overwrite: removed REPORT.md, table1.md" in proc.stderr
    assert (out / "summary.json.previous").read_bytes() == old_summary
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["seed"] == 1 and summary["meta"]["done"] == ["fig03"]
    after = snapshot(out)
    assert not (out / "table1.md").exists() and not (out / OUTPUTS["fig12"].file).exists()
    assert after["models/net.npz"] == before["models/net.npz"]
    assert "seed 0" not in (out / "REPORT.md").read_text()
    for name in ("REPORT.md", OUTPUTS["fig03"].file, "summary.json"):   # umask 022: 0644
        assert after[name][0] == 0o644, name
    assert not list(out.glob(".*"))   # no lock file, no temporary left


def test_an_error_during_the_run_is_one_line_and_keeps_what_was_done(tmp_path, mnist,
                                                                     monkeypatch, capfd):
    from dataclasses import replace

    def disk_full(ctx):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(EXPERIMENTS, "fig04", replace(EXPERIMENTS["fig04"], run=disk_full))
    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    out = tmp_path / "out"
    assert run_all.main(["--profile", "quick", "--only", "fig03", "fig04", "--out", str(out),
                         "--jobs", "1"]) == 1   # in process: spawned workers see no monkeypatch
    last = capfd.readouterr().err.splitlines()[-1]
    assert last.startswith("run_all.py: error: [Errno 28] No space left on device")
    assert "run the same command again" in last
    assert json.loads((out / "summary.json").read_text())["meta"]["done"] == ["fig03"]


def test_profile_defaults_to_paper_and_full_agrees_with_itself():
    assert run_all.parse_args([]).profile == "paper"
    assert run_all.parse_args(["--full"]).profile == "full"
    assert run_all.parse_args(["--full", "--profile", "full"]).profile == "full"
    assert run_all.parse_args(["--profile", "quick"]).profile == "quick"


def test_help_gives_every_option_a_default_and_the_default_profile_its_duration(tmp_path):
    proc = run_cli(tmp_path, "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    text = " ".join(proc.stdout.split())
    minutes = sum(e.estimate("paper") for e in EXPERIMENTS.values())
    assert f"The default profile (paper) takes about {format_seconds(60 * minutes)}" in text
    entries, lines = {}, proc.stdout.split("options:\n")[1].split("\n\n")[0].splitlines()
    for line in lines:
        if line.startswith("  -"):
            option = line.split()[0].rstrip(",")
            entries[option] = line
        else:
            entries[option] += line
    assert set(entries) == {"-h", "--profile", "--full", "--out", "--overwrite", "--backend",
                            "--seed", "--seeds", "--only", "--data", "--debug", "--jobs"}
    for option, entry in entries.items():
        assert option == "-h" or "default:" in entry, entry
