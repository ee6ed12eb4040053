"""run_all.py as a user runs it: each ordinary mistake gives one line on stderr naming the problem
and the fix, no traceback, exit status 2 (a mistake in what it was given: arguments, --out,
--data, $NPRELU_DATA) or 1 (an error of the run), before any data is loaded, leaving no empty
--out; a folder holding another run is refused and left untouched, or replaced with
--overwrite; --debug shows the traceback. The benchmark scripts report missing data alike."""
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
from nprelu import data
from nprelu.data import MNIST_FILES
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.runner.summary import SummaryFile, run_meta
from nprelu.progress import format_seconds

ROOT = Path(__file__).resolve().parents[1]
FIG03 = {"c": [1], "z": [0.0], "sigmoid": {"1": [0.5]}}


def fake_mnist(tmp_path):
    """A directory holding four empty files named like MNIST's, which pass the checks made before
    loading and fail loading."""
    data = tmp_path / "fake-mnist"
    data.mkdir(exist_ok=True)
    for name in MNIST_FILES:
        (data / name).touch()
    return data


def run_cli(tmp_path, *args, data=None, prefix=(), script="run_all.py", home=None):
    """``python SCRIPT ARGS`` in the repository, with ``$NPRELU_DATA`` = ``data`` (default:
    :func:`fake_mnist`; False: unset), a private download cache, ``$HOME`` = ``home`` when given
    and umask 022; ``prefix`` goes before the command."""
    if data is None:
        data = fake_mnist(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NPRELU_BACKEND", "NPRELU_DATA")}
    env.update(MPLBACKEND="Agg", XDG_CACHE_HOME=str(tmp_path / "cache"))
    if data is not False:
        env["NPRELU_DATA"] = str(data)
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([*prefix, sys.executable, script, *map(str, args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(0o022))


def assert_one_line_error(proc, status, *words, prog="run_all.py"):
    """Exit ``status``, and stderr is exactly one ``PROG: error: ...`` line with ``words``."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), proc.stderr
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
    monkeypatch.setattr(run_all, "find_data_dir", lambda data, flag: None)
    assert run_all.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"run_all.py: error: --out {tmp_path / 'out'}: cannot write in" in err
    assert "Permission denied" in err and "writable --out" in err


def _bad_data(tmp_path, kind):
    """A data directory that cannot be used, of one ``kind``."""
    where = tmp_path / kind
    if kind == "empty":
        where.mkdir()
    elif kind == "a-file":
        where.write_text("")
    elif kind == "one-missing":
        fake_mnist(tmp_path).rename(where)
        (where / "t10k-labels-idx1-ubyte").unlink()
    elif kind == "corrupt":
        fake_mnist(tmp_path).rename(where)    # four empty files: found, then fail to load
    return where


@pytest.mark.parametrize("kind, why", [
    ("nowhere", "no such directory"), ("a-file", "not a directory"),
    ("empty", "no MNIST file there"), ("one-missing", "t10k-labels-idx1-ubyte[.gz] missing there"),
    ("corrupt", "SHA-256"),
])
@pytest.mark.parametrize("given", ["--data", "NPRELU_DATA"])
def test_any_bad_data_directory_is_a_usage_error_with_status_2(tmp_path, kind, why, given):
    """--data and $NPRELU_DATA alike: missing, not a directory, empty, lacking a file or holding
    a bad one all exit 2, in one line (a bad file after the run's two opening lines: it is found
    when loading), and leave no --out behind."""
    where = _bad_data(tmp_path, kind)
    out = tmp_path / "new" / "out"
    if given == "--data":
        proc = run_cli(tmp_path, "--out", out, "--data", where, "--jobs", "1")
    else:
        proc = run_cli(tmp_path, "--out", out, "--jobs", "1", data=where)
    if kind == "corrupt":
        assert proc.stderr.startswith("nprelu run_all: ") and proc.stderr.count("\n") == 3
        proc.stderr = proc.stderr.split("\n", 2)[2]
    assert_one_line_error(proc, 2, str(where), why)
    assert not (tmp_path / "new").exists()


def test_the_missing_data_message_is_short_and_fits_how_the_directory_was_given(tmp_path):
    """One path, no '--data DIR' to someone who passed --data, and no --data to someone who set
    $NPRELU_DATA; each is told to point the option they used elsewhere."""
    empty = _bad_data(tmp_path, "empty")
    by_option = assert_one_line_error(
        run_cli(tmp_path, "--out", tmp_path / "out", "--data", empty), 2,
        f"--data {empty}: no MNIST file there", "point --data at")
    by_env = assert_one_line_error(run_cli(tmp_path, "--out", tmp_path / "out", data=empty), 2,
                                   f"NPRELU_DATA={empty}: no MNIST file there",
                                   "set NPRELU_DATA to", "unset it to use the download cache")
    for line in (by_option, by_env):
        assert line.count(str(tmp_path)) == 1 and "DIR" not in line, line
        assert len(line.replace(str(empty), "")) < 200, line
    assert "--data" not in by_env and "NPRELU_DATA" not in by_option
    one = _bad_data(tmp_path, "one-missing")
    line = assert_one_line_error(run_cli(tmp_path, "--out", tmp_path / "out", "--data", one), 2,
                                 "t10k-labels-idx1-ubyte", "put it there")
    assert "train-images" not in line and "t10k-images" not in line


def test_empty_out_data_or_nprelu_data_are_refused_not_read_as_here_or_unset(tmp_path):
    for option in ("--out", "--data"):
        proc = run_cli(tmp_path, option, "")
        assert_one_line_error(proc, 2, f"argument {option}: empty")
    proc = run_cli(tmp_path, "--out", tmp_path / "out", data="")
    assert_one_line_error(proc, 2, "NPRELU_DATA is empty", "unset it to use the download cache")
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_tilde_is_expanded_in_out_and_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    args = run_all.parse_args(["--out=~/res", "--data=~/mnist"])
    assert args.out == tmp_path / "res" and args.data == tmp_path / "mnist"
    (tmp_path / "mnist").mkdir()
    proc = run_cli(tmp_path, "--out=~/res", "--data=~/mnist", home=tmp_path)
    assert_one_line_error(proc, 2, f"--data {tmp_path / 'mnist'}: no MNIST file there")


@pytest.mark.parametrize("link, out", [("link", "link"), ("link", "link/sub"),
                                       ("out/models", "out")])
def test_a_dangling_symlink_out_is_named_as_such(tmp_path, link, out):
    (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / link).symlink_to(tmp_path / "gone")
    proc = run_cli(tmp_path, "--out", tmp_path / out)
    line = assert_one_line_error(proc, 2, f"{tmp_path / link} is a symbolic link to "
                                          f"{tmp_path / 'gone'}, which does not exist")
    assert "File exists" not in line and not (tmp_path / "gone").exists()


def test_figure_3_alone_runs_without_looking_for_mnist(tmp_path, monkeypatch):
    """No $NPRELU_DATA and an empty cache: --only fig03 runs (with ~ in --out) and records its
    numbers without looking for MNIST, here or in the context a worker builds (the figures are
    left to the slow test below: matplotlib's import alone takes seconds)."""
    def refuse(*args, **kwargs):
        raise AssertionError("MNIST looked for")

    for name in ("NPRELU_DATA", "NPRELU_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for module in (run_all, data):
        monkeypatch.setattr(module, "find_data_dir", refuse)
        monkeypatch.setattr(module, "load_mnist", refuse)
    drawn = []
    monkeypatch.setattr(run_all, "write_outputs", lambda summary, out: drawn.append(out))
    args = ["--profile", "quick", "--only", "fig03", "--out=~/out", "--jobs", "1"]
    assert run_all.main(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["meta"]["done"] == ["fig03"] and drawn == [tmp_path / "out"]
    assert not (tmp_path / "cache" / "nprelu").exists()


@pytest.mark.slow
def test_figure_3_alone_runs_on_workers_without_mnist(tmp_path):
    """The same as a user runs it, on two spawned workers: no $NPRELU_DATA, an empty cache and
    no network needed, and nothing is created in the cache."""
    proc = run_cli(tmp_path, "--profile", "quick", "--only", "fig03", "--out", tmp_path / "out",
                   "--jobs", "2", data=False, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / OUTPUTS["fig03"].file).is_file()
    assert not (tmp_path / "cache" / "nprelu").exists()


def test_experiments_that_evaluate_test_images_are_marked_as_needing_data():
    assert not EXPERIMENTS["fig03"].needs_data
    for e in EXPERIMENTS.values():
        assert e.needs_data or not e.subsets, e.key


def test_an_early_error_leaves_no_empty_out_behind(tmp_path, monkeypatch, capsys):
    """A failed download (MNIST from the cache) is found after --out is made: the folders this
    run made are removed, a folder that was there already stays; exit 1 (not a usage mistake)."""
    def offline(data):
        raise run_all.DataError("cache/train-images-idx3-ubyte.gz: could not be downloaded")

    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    monkeypatch.delenv("NPRELU_DATA", raising=False)
    monkeypatch.setattr(run_all, "find_data_dir", lambda data, flag: None)
    monkeypatch.setattr(run_all, "load_mnist", offline)
    (tmp_path / "there").mkdir()
    for out, kept in ((tmp_path / "new" / "deeper" / "out", tmp_path), (tmp_path / "there",
                                                                         tmp_path / "there")):
        assert run_all.main(["--profile", "quick", "--only", "fig04", "--out", str(out)]) == 1
        assert "could not be downloaded" in capsys.readouterr().err
        assert not out.exists() or out == kept
        assert sorted(tmp_path.iterdir()) == [tmp_path / "there"]


@pytest.mark.parametrize("script", ["benchmarks/bench_train.py", "benchmarks/bench_attacks.py"])
def test_benchmarks_report_missing_data_in_one_line_like_run_all(tmp_path, script):
    empty = _bad_data(tmp_path, "empty")
    proc = run_cli(tmp_path, "--no-torch", data=empty, script=script)
    assert_one_line_error(proc, 2, f"NPRELU_DATA={empty}: no MNIST file there",
                          prog=Path(script).name)


def test_debug_shows_the_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(tmp_path, "--out", tmp_path / "out", "--debug", data=empty)
    assert proc.returncode == 1   # Python's status for an exception it reports
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
                            "--seed", "--seeds", "--only", "--data", "--debug", "--jobs",
                            "--cluster"}
    for option, entry in entries.items():
        assert option == "-h" or "default:" in entry, entry
