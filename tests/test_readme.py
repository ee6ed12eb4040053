"""The README's result tables say what the committed summary (docs/results/summary.json) says.

The README quotes Table 1 and the suite's answer to the title question by hand; these tests
parse both tables and compare every number and verdict with the summary, so that a new run
(or a hand edit) cannot leave them apart.
"""
import json
import re
from pathlib import Path

import pytest

from nprelu import paper
from nprelu.report.title import twin_verdicts
from nprelu.report.title_eps import one_line

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SUMMARY = json.loads((ROOT / "docs" / "results" / "summary.json").read_text())

NUMBER = r"[-+]?\d+\.\d+"
CELL = re.compile(rf"^({NUMBER})(?: \[({NUMBER}), ({NUMBER})\])?(?: \(({NUMBER}), ({NUMBER})\))?$")
ADV = {"—": "none", "FGSM": "fgsm", "PGD": "pgd"}


def table_after(heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after the line holding ``heading``."""
    lines = README[README.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def key(beta_cell: str, adv_cell: str) -> tuple:
    return (None if beta_cell == "—" else float(beta_cell), ADV[adv_cell])


def find(rows: list, k: tuple) -> int:
    return next(i for i, r in enumerate(rows) if (r["beta"], r["adv_training"]) == k)


def parse(cell: str) -> tuple:
    m = CELL.match(cell)
    assert m, f"unreadable cell {cell!r}"
    return tuple(None if g is None else float(g) for g in m.groups())


def test_table1_cells_are_the_summary_means_intervals_and_paper_numbers():
    rows, ivs = SUMMARY["table1"], SUMMARY["intervals"]["table1"]
    cells = table_after("### Table 1: our numbers beside the paper's")
    assert len(cells) == len(rows) == len(paper.TABLE1) == 12
    for line in cells:
        i = find(rows, key(line[0], line[1]))
        ref = paper.TABLE1[i]
        assert (ref["beta"], ref["adv_training"]) == key(line[0], line[1])
        for measure, cell in zip(("clean", "fgsm", "pgd", "cw"), line[2:6]):
            mean, lo, hi, ours_paper, gap = parse(cell)
            assert mean == pytest.approx(100 * rows[i][measure], abs=0.006), (line, measure)
            iv = ivs[i][measure]
            if lo is None:      # the same value in every seed: a zero-width interval
                assert iv[0] == pytest.approx(iv[1], abs=1e-9), (line, measure)
            else:
                assert (lo, hi) == pytest.approx((100 * iv[0], 100 * iv[1]), abs=0.006)
            assert ours_paper == pytest.approx(ref[measure], abs=0.006)
            assert gap == pytest.approx(mean - ref[measure], abs=0.011)


def test_title_question_table_is_the_suite_and_its_verdicts():
    rows, ivs = SUMMARY["suite"]["rows"], SUMMARY["intervals"]["suite"]["rows"]
    seed_rows = [SUMMARY["runs"][s]["suite"]["rows"] for s in sorted(SUMMARY["runs"])]
    verdicts = {(v["row"]["beta"], v["row"]["adv_training"]): v
                for v in twin_verdicts(rows, seed_rows)}
    cells = table_after("**The paper's title question, answered")
    assert len(cells) == len(rows) == 12
    for line in cells:
        k = key(line[0], line[1])
        i = find(rows, k)
        for field, cell in (("pgd_paper", line[2]), ("worst_case", line[3])):
            mean, lo, hi, _, _ = parse(cell)
            assert mean == pytest.approx(100 * rows[i][field], abs=0.051), (line, field)
            assert (lo, hi) == pytest.approx((100 * ivs[i][field][0], 100 * ivs[i][field][1]),
                                             abs=0.051), (line, field)
        if k[0] is None:
            assert line[4] == line[5] == "", "an uncapped twin has no difference or verdict"
            continue
        v = verdicts[k]
        mean, lo, hi, _, _ = parse(line[4])
        assert (mean, lo, hi) == pytest.approx(
            (100 * v["diff"].mean, 100 * v["diff"].lo, 100 * v["diff"].hi), abs=0.051), line
        assert line[5] == v["verdict"].replace(" (inconclusive)", ""), line


def test_title_question_counts_match_the_verdicts():
    seed_rows = [SUMMARY["runs"][s]["suite"]["rows"] for s in sorted(SUMMARY["runs"])]
    words = [v["verdict"] for v in twin_verdicts(SUMMARY["suite"]["rows"], seed_rows)]
    helps, hurts = words.count("capping helps"), words.count("capping hurts")
    none_ = len(words) - helps - hurts
    sentence = (f"Capping helps in {helps} of the {len(words)} capped networks, hurts in "
                f"{hurts} and makes no difference we can show in {none_}.")
    assert sentence in " ".join(README.split()), sentence


def test_the_title_answer_names_the_eps_range_the_summary_covers():
    """The README's one-line answer is the report's (nprelu.report.title_eps.one_line): the eps
    it covers and the counts at each, from the committed summary."""
    line = one_line(SUMMARY)
    assert line.startswith(("**At eps ", "**Across eps ")), line
    assert line in " ".join(README.split()), line


# --------------------------------------------------------------------------- the tour runs

#: What the test changes in the README's Python blocks so that they run in seconds: a batch of
#: 16 images instead of 100, fewer epochs, steps, restarts, queries and CW iterations. Each is a
#: literal substitution of a whole token (``name=value``, or the batch's slice) that must occur
#: in the blocks (so the README cannot drift from this list). The data: ``load_mnist`` returns
#: a random stand-in of MNIST's shape (:func:`tiny_mnist`), so the test needs neither the data
#: nor a download. Everything else runs as written, in one namespace, block after block, in a
#: temporary working directory.
BATCH = 16
SMALLER = {"[:100]": f"[:{BATCH}]", "epochs=20": "epochs=1", "search_steps=9": "search_steps=2",
           "max_iter=10_000": "max_iter=5", "max_steps=200": "max_steps=3",
           "steps=100": "steps=3", "steps=20": "steps=2", "steps=10": "steps=2",
           "restarts=3": "restarts=1", "restarts=5": "restarts=1",
           "n_queries=5000": "n_queries=10"}


def python_blocks(text: str = README) -> list[str]:
    """The code of every ```python block, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def smaller(code: str) -> tuple[str, set]:
    """``code`` with :data:`SMALLER`'s substitutions (whole tokens only: ``steps=20`` is not
    changed inside ``max_steps=200``) and the set of those that occurred."""
    used = set()
    for old, new in SMALLER.items():
        before = r"(?<![\w.])" if re.match(r"\w", old) else ""
        after = r"(?![\w.])" if re.match(r"\w", old[-1]) else ""
        pattern = before + re.escape(old) + after
        if re.search(pattern, code):
            used.add(old)
            code = re.sub(pattern, new, code)
    return code, used


def tiny_mnist(data_dir=None, download=True, verify=True):
    """``load_mnist``'s return on 256 training and 64 test images of random pixels."""
    import numpy as np
    rng = np.random.default_rng(0)
    images = rng.random((320, 784), dtype=np.float32)
    labels = rng.integers(0, 10, size=320)
    return images[:256], labels[:256], images[256:], labels[256:]


def test_every_python_block_of_the_readme_runs(monkeypatch, tmp_path, capsys):
    import numpy as np
    import nprelu.data
    blocks = python_blocks()
    assert len(blocks) >= 2
    monkeypatch.setattr(nprelu.data, "load_mnist", tiny_mnist)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NPRELU_BACKEND", raising=False)
    namespace, used = {"__name__": "readme"}, set()
    for i, block in enumerate(blocks):
        code, found = smaller(block)
        used |= found
        exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
    assert used == set(SMALLER), f"not in the README any more: {set(SMALLER) - used}"
    assert "test accuracy: " in capsys.readouterr().out
    # what the tour's comments say the calls return
    ns = namespace
    np.testing.assert_allclose(ns["z3"], ns["logits"][:, 3], rtol=1e-5, atol=1e-6)
    assert ns["dz"].shape == ns["x"].shape == (BATCH, 784)
    assert ns["net"].caps == [None, 0.05] and (tmp_path / "model.npz").exists()
    assert ns["cw"].x_adv.shape == ns["x"].shape and len(ns["zg"].found) == BATCH
    assert 0.0 <= ns["worst"] <= 1.0


def test_every_name_the_tour_imports_is_used():
    import ast
    trees = [ast.parse(block) for block in python_blocks()]
    imported = {alias.asname or alias.name for tree in trees for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    loaded = {node.id for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert imported and not imported - loaded, f"imported, never used: {imported - loaded}"


def test_smaller_changes_whole_settings_only():
    code, used = smaller("pgd(steps=20, max_steps=200, search_steps=9, x.steps=100)")
    assert code == "pgd(steps=2, max_steps=3, search_steps=2, x.steps=100)"
    assert used == {"steps=20", "max_steps=200", "search_steps=9"}
    assert smaller("x_test[:100], y[:1000]")[0] == f"x_test[:{BATCH}], y[:1000]"
